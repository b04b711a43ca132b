"""The imp API objects, one module each, and how a fresh VM gets them."""

from __future__ import annotations

import random
from typing import Any

from .. import constants as C
from ..api import Api
from .hardware import hardware, spiflash
from .http import http
from .imp import imp
from .messaging import agent, device
from .server import server

APIS: tuple[Api, ...] = (server, imp, hardware, agent, device, http)

_DEVICE_CONSTANTS = dict(C.WAKE_REASONS) | dict(C.SHUTDOWN_REASONS) | dict(C.SEND_ERRORS) | \
    dict(C.CONNECTION_REASONS) | dict(C.ERROR_POLICIES) | dict(C.WAIT_POLICIES) | \
    dict(C.ENVIRONMENTS)
_AGENT_CONSTANTS = dict(C.ENVIRONMENTS)


def install(host: Any) -> None:
    """Turn ``host.vm`` into the imp's Squirrel for ``host.side``."""
    from ..language import install_language

    sim = host.sim
    vm = host.vm
    install_language(vm, side=host.side, now_us=lambda: sim.clock.now_us, epoch_us=sim.epoch_us,
                     uptime_us=(lambda: host.owner.micros()) if host.side == "device" else (lambda: sim.clock.now_us),
                     rng=sim.rng)
    root = vm.root
    consts = _DEVICE_CONSTANTS if host.side == "device" else _AGENT_CONSTANTS
    for k, v in consts.items():
        root[k] = v
    for api in APIS:
        api.install(host)
    if host.side == "device":
        if host.owner.flash is not None:
            for k, v in C.SPIFLASH_FLAGS.items():
                root[k] = v
            root["hardware"]["spiflash"] = vm.to_squirrel(spiflash.build(host))
    else:
        root["imp"]["configparams"] = vm.to_squirrel({"deviceid": sim.device.id if sim.device else ""})
    if host.vm.memory_limit:
        host.vm.memory_limit = host.vm.memory_used + host.vm.memory_limit
