"""The imp API objects, one module each, and how a fresh VM gets them."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from squirrel import NativeSet

from ..api import Api
from . import audio, buses, pins, radio  # noqa: F401  (they register the objects' natives)
from .hardware import hardware, spiflash
from .http import hash_, http
from .imp import imp, net
from .messaging import agent, device
from .objects import install_objects, objects
from .server import server

APIS: tuple[Api, ...] = (server, imp, hardware, agent, device, http)

_DEVICE_CONSTANTS = (dict(C.WAKE_REASONS) | dict(C.SHUTDOWN_REASONS) | dict(C.SEND_ERRORS)
                     | dict(C.CONNECTION_REASONS) | dict(C.ERROR_POLICIES) | dict(C.WAIT_POLICIES)
                     | dict(C.ENVIRONMENTS) | dict(C.CONFIG_ACTIONS) | dict(C.PIN_MODES) | dict(C.I2C_SPEEDS)
                     | dict(C.SPI_FLAGS) | dict(C.UART_SETTINGS) | dict(C.UART_EVENTS) | dict(C.AUDIO_FLAGS)
                     | dict(C.LEGACY))
_FLASH_CONSTANTS = dict(C.SPIFLASH_FLAGS)
_AGENT_CONSTANTS = dict(C.ENVIRONMENTS) | dict(C.HTTP)

# What decides the natives of a VM: its side and ScriptHost.variant (the module, and flash or not).
_SETS: dict[tuple, NativeSet] = {}


def _flash_view(host: Any) -> Any:
    # Apps scan flash record by record: C serves the reads that succeed; spiflash.read still
    # decides every other case and its error.
    return host.owner.flash.read_view()


def _native_set(host: Any) -> NativeSet:
    device_side = host.side == "device"
    has_flash = device_side and host.owner.flash is not None
    nested: dict[Api, dict[str, NativeSet]] = {imp: {}, hardware: {}, http: {}}
    if device_side:
        nested[imp]["net"] = NativeSet(net.functions(host))
        # The hardware objects' natives; the builder (install_objects) takes them out of sight.
        nested[hardware]["_impsim"] = NativeSet(objects.functions(host))
    else:
        nested[http]["hash"] = NativeSet(hash_.functions(host))
    if has_flash:
        nested[hardware]["spiflash"] = NativeSet(spiflash.functions(host), readers={"read": _flash_view})
    tables = {}
    for api in APIS:
        functions = api.functions(host)
        if functions:  # else an object of the other side: it does not exist here
            tables[api.table] = NativeSet(functions, tables=nested.get(api))
    constants = (_DEVICE_CONSTANTS | (_FLASH_CONSTANTS if has_flash else {})) if device_side else _AGENT_CONSTANTS
    return NativeSet({}, constants, tables=tables)


def install(host: Any) -> None:
    """Turn ``host.vm`` into the imp's Squirrel for ``host.side``."""
    from ..language import install_language

    env = host.env
    vm = host.vm
    owner = host.owner  # not host: a VM serves all the runs of its owner (Config.reuse_vms)
    clock = env.clock
    install_language(vm, side=host.side, now_us=lambda: clock.now_us, epoch_us=env.epoch_us,
                     uptime_us=(lambda: owner.micros()) if host.side == "device" else (lambda: clock.now_us),
                     rng=env.rng)
    key = (host.side, host.variant)
    ns = _SETS.get(key)
    if ns is None:
        ns = _SETS[key] = _native_set(host)
    vm.install(vm.root, ns, host)
    if host.side == "device":
        install_objects(host)
    else:
        vm.root["imp"]["configparams"] = vm.to_squirrel({"deviceid": owner.relay.device_id})
