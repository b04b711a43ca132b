"""The imp API objects, one module each, and how a fresh VM gets them."""

from __future__ import annotations

import random
from typing import Any

from .. import constants as C
from squirrel import NativeSet

from ..api import Api
from .hardware import hardware, spiflash
from .http import http
from .imp import imp, net
from .messaging import agent, device
from .server import server

APIS: tuple[Api, ...] = (server, imp, hardware, agent, device, http)

_DEVICE_CONSTANTS = NativeSet({}, dict(C.WAKE_REASONS) | dict(C.SHUTDOWN_REASONS) | dict(C.SEND_ERRORS)
                              | dict(C.CONNECTION_REASONS) | dict(C.ERROR_POLICIES) | dict(C.WAIT_POLICIES)
                              | dict(C.ENVIRONMENTS))
_FLASH_CONSTANTS = NativeSet({}, dict(C.SPIFLASH_FLAGS))
_AGENT_CONSTANTS = NativeSet({}, dict(C.ENVIRONMENTS))


def install(host: Any) -> None:
    """Turn ``host.vm`` into the imp's Squirrel for ``host.side``."""
    from ..language import install_language

    sim = host.sim
    vm = host.vm
    install_language(vm, side=host.side, now_us=lambda: sim.clock.now_us, epoch_us=sim.epoch_us,
                     uptime_us=(lambda: host.owner.micros()) if host.side == "device" else (lambda: sim.clock.now_us),
                     rng=sim.rng)
    root = vm.root
    device_side = host.side == "device"
    vm.install(root, _DEVICE_CONSTANTS if device_side else _AGENT_CONSTANTS)
    for api in APIS:
        api.install(host)
    if device_side:
        if host.owner.flash is not None:
            vm.install(root, _FLASH_CONSTANTS)
            spiflash.install(host, root["hardware"])
        net.install(host, root["imp"])
    else:
        root["imp"]["configparams"] = vm.to_squirrel({"deviceid": sim.device.id if sim.device else ""})
