"""VMs a simulation has finished with, kept for the next simulation's runs.

Within a simulation, each boot restores its owner's VM from the previous boot to the imp's
pristine globals (``Config.reuse_vms``): the same behaviour as a new VM, several times faster.
``impsim fuzz`` plays thousands of short simulations of one app, one after another, and each
built its VMs afresh: per example, a new device VM and agent VM with the imp API (~0.75 ms of
CPU in a search, against ~0.03 ms for a restore) and closing them after its run (~0.25 ms). A
shelf carries the reuse across simulations: a :class:`~impapi.Simulation` made with
``vms=shelf`` starts each owner with the VM the shelf holds for its side, and its
:meth:`~impapi.Simulation.close` puts the VMs back instead of closing them.

A VM from the shelf is restored like any reused VM (the guarantee every boot relies on: nothing
a run did reaches the next, memory figures included; tests/runtime/test_vm_shelf.py), and its
natives are pointed at the new simulation (:meth:`impapi.natives.World.adopt`: the clock, the
owner, math.rand()'s generator, and the flash chip spiflash.read serves from C). One whose pristine
state was built for something else (another module, epoch, memory scale, agent's device ID:
:func:`impapi.natives.pristine_key`) is closed and a new one made.
"""

from __future__ import annotations

from typing import Any

__all__ = ["VMShelf"]


class _Left:
    """What a run leaves its VM's next run (the attributes ``ScriptHost._reused_vm`` reads of
    the previous run), without the run itself: a shelved VM must not keep its simulation alive."""

    __slots__ = ("side", "variant", "flash", "world")

    def __init__(self, host: Any) -> None:
        self.side, self.variant, self.flash, self.world = host.side, host.variant, None, host.world


class VMShelf:
    """At most one VM per side ("device", "agent"), for one thread's simulations, played one
    after another. :meth:`close` frees what it still holds."""

    def __init__(self) -> None:
        self._vms: dict[str, tuple[Any, _Left]] = {}

    def take(self, side: str) -> tuple[Any, _Left] | None:
        """The VM kept for ``side`` (as an owner's ``spare_vm``), or None."""
        return self._vms.pop(side, None)

    def put(self, vm: Any, host: Any) -> bool:
        """Keep ``vm``, which ``host`` ran last (an owner's ``spare_vm``: a run, or what a run of
        an earlier simulation left when this one never ran the VM), for the next simulation;
        False (it stays the caller's to close) when it cannot be kept."""
        if vm.closed or vm.running or host.side in self._vms:
            return False
        if isinstance(host, _Left):
            left = host
        else:
            left = _Left(host)
            vm.rebind(host, left)  # the natives' context until the next run takes them (rebind again)
            vm.print = vm.error = None
        world = left.world
        world.owner = world.clock = world.rng = None
        self._vms[left.side] = (vm, left)
        return True

    def close(self) -> None:
        for vm, _ in self._vms.values():
            if not vm.closed:
                vm.close()
        self._vms.clear()
