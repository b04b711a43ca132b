"""The imp API objects, one module each, and how a fresh VM gets them."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

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


def _timed(func: Callable) -> Callable:
    """``func`` that first brings the world up to the time its VM's code has reached (the work
    done in the handler so far, ``ScriptHost.catch_up``): what it sees and does happens then."""
    # Every native of a timed VM runs through this wrapper: most take none, one or two arguments,
    # which are passed on as they are rather than packed into a tuple and unpacked again.
    arity = _fixed_arity(func)
    if arity == 1:
        def timed(host: Any) -> Any:
            host.catch_up()
            return func(host)
    elif arity == 2:
        def timed(host: Any, a: Any) -> Any:
            host.catch_up()
            return func(host, a)
    elif arity == 3:
        def timed(host: Any, a: Any, b: Any) -> Any:
            host.catch_up()
            return func(host, a, b)
    else:
        def timed(host: Any, *args: Any) -> Any:
            host.catch_up()
            return func(host, *args)

    return functools.wraps(func)(timed)  # keeps Squirrel's marks and the signature its checks come from


def _fixed_arity(func: Callable) -> int | None:
    """How many positional parameters ``func`` takes, when exactly that many (no defaults, no
    ``*args``, no keyword-only ones); else None."""
    code = getattr(func, "__code__", None)
    if code is None or getattr(func, "__defaults__", None) or code.co_flags & inspect.CO_VARARGS \
            or code.co_kwonlyargcount:
        return None
    return code.co_argcount


def _native_set(host: Any) -> NativeSet:
    device_side = host.side == "device"
    has_flash = device_side and host.owner.flash is not None
    # With an execution time (Config.instruction_ns), natives catch up first; without one they
    # are called as they are, nothing added.
    wrap = (lambda fs: {name: _timed(f) for name, f in fs.items()}) if host.instruction_ps else (lambda fs: fs)
    nested: dict[Api, dict[str, NativeSet]] = {imp: {}, hardware: {}, http: {}}
    if device_side:
        nested[imp]["net"] = NativeSet(wrap(net.functions(host)))
        # The hardware objects' natives; the builder (install_objects) takes them out of sight.
        nested[hardware]["_impsim"] = NativeSet(wrap(objects.functions(host)))
    else:
        nested[http]["hash"] = NativeSet(wrap(hash_.functions(host)))
    if has_flash:
        nested[hardware]["spiflash"] = NativeSet(wrap(spiflash.functions(host)), readers={"read": _flash_view})
    tables = {}
    for api in APIS:
        functions = wrap(api.functions(host))
        if functions:  # else an object of the other side: it does not exist here
            tables[api.table] = NativeSet(functions, tables=nested.get(api))
    constants = (_DEVICE_CONSTANTS | (_FLASH_CONSTANTS if has_flash else {})) if device_side else _AGENT_CONSTANTS
    return NativeSet({}, constants, tables=tables)


class World:
    """What a VM's natives read of the simulation beyond the ScriptHost they are called with:
    the owner (its running host, its boot time), the clock, math.rand()'s generator; and what
    :func:`install` built the VM for (``key``, ``base_memory``: its pristine state's size). A
    VM kept for another simulation (:class:`impapi.vmshelf.VMShelf`) is pointed at that one's
    (:meth:`adopt`)."""

    __slots__ = ("owner", "clock", "rng", "key", "base_memory")

    def __init__(self, owner: Any, clock: Any, rng: Any, key: tuple) -> None:
        self.owner, self.clock, self.rng, self.key = owner, clock, rng, key
        self.base_memory = 0  # set by the host once the VM is pristine (ScriptHost)

    def getrandbits(self, k: int) -> int:  # math.rand()'s source (install_language's rng)
        return self.rng.getrandbits(k)

    def adopt(self, vm: Any, host: Any) -> bool:
        """Point ``vm``'s natives (built with this world) at ``host``'s simulation, if the VM's
        pristine state is what :func:`install` would build for ``host``; else False."""
        if self.owner is host.owner:
            return True
        if self.key != pristine_key(host):
            return False
        self.owner, self.clock, self.rng = host.owner, host.env.clock, host.env.rng
        if host.flash is not None:
            vm.retarget_readers(host)  # spiflash.read serves the new chip's bytes from C (_flash_view)
        return True


def pristine_key(host: Any) -> tuple:
    """Everything of the simulation that :func:`install` builds into a VM's pristine state (or
    its natives' closures) and a :class:`World` does not stand for: two hosts with the same key
    get the same VM from a new one."""
    env = host.env
    agent_id = host.owner.relay.device_id if host.side == "agent" else None
    return (host.side, host.variant, bool(host.instruction_ps), env.epoch_us, env.config.memory_scale, agent_id)


def install(host: Any) -> World:
    """Turn ``host.vm`` into the imp's Squirrel for ``host.side``; returns what its natives see of
    the simulation."""
    from ..language import install_language

    env = host.env
    vm = host.vm
    # Not host: a VM serves all the runs of its owner (Config.reuse_vms), and a VM kept for
    # another simulation serves that one's owner (World.adopt).
    world = World(host.owner, env.clock, env.rng, pristine_key(host))
    if host.instruction_ps:
        def now_us() -> int:  # time(), date(), clock(): at the time the code has reached
            running = world.owner.host
            if running is not None:
                running.catch_up()
            return world.clock.now_us
    else:
        def now_us() -> int:
            return world.clock.now_us
    install_language(vm, side=host.side, now_us=now_us, epoch_us=env.epoch_us,
                     uptime_us=(lambda: now_us() - world.owner.boot_us) if host.side == "device" else now_us,
                     rng=world)
    key = (host.side, host.variant, bool(host.instruction_ps))
    ns = _SETS.get(key)
    if ns is None:
        ns = _SETS[key] = _native_set(host)
    vm.install(vm.root, ns, host)
    if host.side == "device":
        install_objects(host)
    else:
        vm.root["imp"]["configparams"] = vm.to_squirrel({"deviceid": host.owner.relay.device_id})
    return world

