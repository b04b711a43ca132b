"""How long :func:`impapi.language.install_language` takes, and what it adds to a VM's memory.

    python -m impapi.language.timing [VMS_PER_ROUND] [ROUNDS]

Prints µs per install (VMs made beforehand, not timed; best and median round) for the device and
the agent, the cost of ``squirrel.VM()`` itself for comparison, and the bytes the prelude leaves
in the VM. Not a test: a number to watch, since the runtime installs the language on every boot."""

from __future__ import annotations

import random
import statistics
import sys
import time

import squirrel

from . import install_language


def _zero() -> int:
    return 0


def _round(side: str | None, n: int) -> float:
    rng = random.Random(1)
    if side is None:
        t0 = time.perf_counter()
        for _ in range(n):
            squirrel.VM(dialect="imp").close()
        return (time.perf_counter() - t0) / n * 1e6
    vms = [squirrel.VM(dialect="imp") for _ in range(n)]
    t0 = time.perf_counter()
    for vm in vms:
        install_language(vm, side=side, now_us=_zero, epoch_us=1_700_000_000_000_000,
                         uptime_us=_zero, rng=rng)
    dt = time.perf_counter() - t0
    for vm in vms:
        vm.close()
    return dt / n * 1e6


def added_bytes(side: str) -> int:
    vm = squirrel.VM(dialect="imp")
    before = vm.memory_used
    install_language(vm, side=side, now_us=_zero, epoch_us=0, uptime_us=_zero, rng=random.Random(1))
    return vm.memory_used - before


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 500
    rounds = int(argv[1]) if len(argv) > 1 else 7
    _round("device", 50)  # warm up
    for side in ("device", "agent", None):
        times = [_round(side, n) for _ in range(rounds)]
        label = f"install_language({side})" if side else "squirrel.VM() + close()"
        extra = f", +{added_bytes(side)} bytes in the VM" if side else " (for comparison)"
        print(f"{label:26s} best {min(times):6.1f} µs, median {statistics.median(times):6.1f} µs per call{extra}")


if __name__ == "__main__":
    main(sys.argv[1:])
