"""One run of Squirrel: one boot of a device, or one start of an agent.

Each run starts from the imp's pristine globals: in the VM of the owner's previous run, restored
(``squirrel.VM.restore``), or in a new VM (the first run, ``Config.reuse_vms=False``, or when a
script changed something a restore cannot undo).

The host owns the VM, its timers and message handlers, and runs every piece of Squirrel as one
event of the virtual clock. What ends the run (a halt, an uncaught error, running out of memory
or of the watchdog's budget) is handed to the owner (:class:`~impapi.device.Device` or
:class:`~impapi.agent.Agent`), which decides what happens next."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable

import squirrel

from .clock import SPIN_CALLBACKS, SPIN_US
from .halt import Halt

# What the watchdog counts for each call of a function the simulation provides (the imp API,
# the dialect's helpers): such a call costs the simulation's host 1-10 us, the time of 300 to
# 3,000 instructions, so runaway code that calls the API in a loop is stopped after about as
# much host time as runaway code that does not (docs/imp-model/memory-and-errors.md).
WATCHDOG_CALL_INSTRUCTIONS = 1000


class RunEnded(Halt):
    """The run ended (power cut, update, the end of the simulated run) while its Squirrel was
    blocked: the code unwinds."""

    def __init__(self) -> None:
        super().__init__("the run ended while Squirrel was blocked")

if TYPE_CHECKING:
    from .environment import Environment

# Most timers a device may hold at once (imp-api.md §4.1); beyond, imp.wakeup returns null.
DEVICE_TIMER_LIMIT = 20
# Per side: how errors name its code, its VM's queue (a clock source), its timers' source.
_SIDE_NAMES = {"device": ("device_code", "device VM", "device timers"),
               "agent": ("agent_code", "agent VM", "agent timers")}
# Names runs for those who must tell them apart later (the cloud remembers which runs heard of an
# update): unlike id(), a run's number is never given to another run once it has ended.
_RUN_NUMBERS = itertools.count(1)


# What the watchdog's note adds when Squirrel takes no virtual time: a loop that waits for the clock
# to move (hardware.micros(), hardware.millis(), time()) never ends then.
NO_TIME = "Squirrel takes no virtual time while Config.instruction_ns is 0"
STILL_HINT = (f"; {NO_TIME}, so a loop waiting for hardware.micros() to move never ends: "
              "impsim --instruction-ns sets it")


class TimerHandle:
    __slots__ = ("timer", "token")

    def __init__(self, timer: Any, token: Any) -> None:
        self.timer, self.token = timer, token


class ScriptHost:
    """The Squirrel side of one boot. ``side`` is "device" or "agent"."""

    # Class-level defaults for what a run reads seldom, so a boot (every few minutes of virtual
    # time, thousands per fuzz example) does not store them one by one. What a run reads often,
    # its __init__ stores: under CPython 3.11 a read that falls through to the class costs ~250
    # machine instructions (the interpreter cannot specialise it), a store in __init__ ~20.
    # Mind the count: instances of a class share one table of attribute names, of at most 30
    # and shrinking by one with each instance made, so it fills with the first runs' names; a
    # run that adds a name once it is full gets a dictionary of its own, slower for every read.
    # A device's run stores 27 names; storing hardware and covered too (read only as a run
    # ends) made each boot of the sleepy app 2.5 % slower.
    unhandled_handler: Any = None
    shutdown_handler: Any = None
    hardware: Any = None  # the imp's side of pins and buses this run (natives.objects)
    covered = False
    _spin_from = 0

    def __init__(self, env: "Environment", owner: Any, side: str, source: str, filename: str,
                 memory: int) -> None:
        self.env = env
        self.owner = owner
        self.side = side
        self.number = next(_RUN_NUMBERS)
        self.alive = True
        self.onidle_handler: Any = None
        self._idle: Any = None  # the clock's idle entry for onidle_handler
        # Execution time (docs/imp-model/execution-time.md): the VM's own clock, the instant (µs)
        # its handler started, as of the VM's work counter reading _vm_work; it runs ahead of the
        # world's as code works, instruction_ps picoseconds an instruction. The start is a whole
        # µs (always an instant of the world's clock), so the VM's time is the start plus the
        # work's time rounded down: the work's time alone stays a small number where a sum in
        # picoseconds would be one Python must work out in several digits.
        self._vm_us = self._vm_work = 0
        self._calls = 0  # invoke()s on the stack
        self._spin = 0  # callbacks in a row each queued by the one before (imp.wakeup(0, ...), onidle)
        self.filename = filename
        device_side = side == "device"
        self.code_label, self.queue, self.timer_source = _SIDE_NAMES[side]
        # What decides which natives exist (impapi.api): the module and whether it has flash.
        profile = owner.profile if device_side else None
        self.flash = flash = owner.flash if device_side else None  # the chip this run's natives read
        self.variant = (profile.name, flash is not None) if device_side else None
        self.clock = env.clock
        self.timers: dict[int, TimerHandle] = {}
        self.timer_names: dict[str, Any] = {}  # the agent's named timers (natives.imp)
        self.handlers: dict[str, Any] = {}
        self.instruction_ps = env.config.instruction_ps(profile)
        vm = self.vm = self._reused_vm()
        if vm is None:
            from . import natives  # the API modules register on import

            # Object overhead is scaled to the imp's 32-bit build; contents count in full.
            vm = self.vm = squirrel.VM("imp", instruction_limit=env.config.watchdog_instructions,
                                       print=self._print, error=self._print_error,
                                       overhead_scale=1 / env.config.memory_scale)
            vm.call_instructions = WATCHDOG_CALL_INSTRUCTIONS
            self.world = natives.install(self)
            if env.config.reuse_vms:
                vm.snapshot()  # the imp's globals as every later boot of this owner starts
            self.world.base_memory = vm.memory_used  # the VM in its pristine state
        coverage = env.coverage
        if coverage is not None and coverage.wants(filename):
            self.covered = True
            vm.set_coverage(True)  # the app's code only: the API's prelude is compiled
        # The module's free memory is what the app gets on top of the imp API itself; its
        # compiled code counts against it only where the module keeps code in RAM (agents do).
        code_in_ram = profile.code_in_ram if device_side else True
        if code_in_ram:
            vm.set_memory_headroom(memory)
        self.main = vm.compile(source, filename)
        if not code_in_ram:
            vm.set_memory_headroom(memory)

    # --- running Squirrel as events ------------------------------------------------------
    #
    # The VM's queue is the clock source ``self.queue`` ("device VM" / "agent VM"): the VM's
    # timers and the events it queues for itself are scheduled there, first in, first out. An
    # event from elsewhere (a message, a connection outcome, a request) joins the back of that
    # queue when something is waiting in it, or when the VM is busy (on the stack: blocked in
    # imp.sleep, or calling out); otherwise it runs at once. While Squirrel runs, what it sets
    # going belongs to ``self.side`` (messages in flight, connection attempts), not to the queue.

    def start(self) -> None:
        self.invoke(self.main)

    def invoke(self, fn: Callable, *args: Any) -> None:
        """Run Squirrel ``fn(*args)`` as an event of this VM; whatever ends the run goes to the
        owner. Back in the event loop, a pending onidle handler is queued: it runs once the VM's
        queue has nothing else ready at this instant (imp-api.md §4.1)."""
        if not self.alive:
            return
        clock = self.clock
        queue = self.queue
        previous = clock.source
        clock.source = self.side
        # clock.hold(queue) and, below, clock.release(queue), done here without their frames:
        # every event of a VM comes this way (three a wake of a sleepy app: ~2,700 instructions
        # a boot, ir.sh).
        held = clock.held
        held[queue] = held.get(queue, 0) + 1
        timed = self.instruction_ps and not self._calls
        if timed:  # the handler starts now, or when the VM's last one ended if that is later
            now = clock.now_us
            if now > self._vm_us:
                self._vm_us = now
            self._vm_work = self.vm.read_work()
        self._calls += 1
        try:
            try:
                fn(*args)
            finally:
                self._calls -= 1
                if timed:
                    self.catch_up()  # the VM is busy until its work is done: the world runs on meanwhile
        except Halt as h:
            self.owner.on_halt(self, h)  # before stop(): the owner reads what survives (nv)
            self.stop()
        except squirrel.ScriptError as e:
            self.report_error(e)
            self.owner.on_script_error(self, e)
        except squirrel.MemoryLimitError:
            self.stop()
            self.owner.on_out_of_memory(self)
        except squirrel.TimeLimitError:
            self.env.log.add(clock.now_us, "impsim",
                             f"{self.side} watchdog: an event ran over {self.env.config.watchdog_instructions} "
                             f"Squirrel instructions (see Config.watchdog_instructions{'' if self.instruction_ps else STILL_HINT})")
            self.report_error(squirrel.ScriptError("watchdog: Squirrel ran too long"))
            self.owner.on_script_error(self, None)
        finally:
            n = held[queue] - 1
            if n:
                held[queue] = n
            else:
                del held[queue]
            clock.source = previous
        # Squirrel returned to the event loop (here, not in a method of its own: every event of
        # the VM comes this way, three a boot of a sleepy app).
        if self.alive and self.onidle_handler is not None and (self._idle is None or not self._idle.pending):
            self._idle = clock.schedule_idle(queue, self._on_idle)

    def schedule(self, delay_us: int, fn: Callable, *args: Any) -> Any:
        """Queue Squirrel ``fn(*args)`` to run ``delay_us`` from now, as its own event in the
        VM's queue (if this run is still alive then)."""
        return self.clock.schedule(delay_us, self._run, fn, args, source=self.queue)

    def _run(self, fn: Callable, args: tuple) -> None:
        """A queued event's turn has come."""
        if self.alive:
            self._spin = 0
            self.invoke(fn, *args)

    def _spun(self) -> None:
        """A callback the previous one queued for now runs: count the VM's spin (SPIN_CALLBACKS)."""
        now = self.clock.now_us
        if not self._spin:
            self._spin_from = now
        self._spin += 1
        if self._spin >= SPIN_CALLBACKS and now - self._spin_from >= SPIN_US:
            spin, self._spin = self._spin, 0
            if self.clock.on_spin is not None:
                self.clock.on_spin(self.side, spin, now - self._spin_from)

    def _fire(self, fn: Callable, args: tuple) -> None:
        """Something outside the VM calls Squirrel ``fn(*args)`` now: it runs at once, or after
        what the VM's queue already holds."""
        if not self.alive:
            return
        clock = self.clock
        if clock.must_wait(self.queue):
            clock.schedule(0, self._run, fn, args, source=self.queue)
        else:  # _run's work, without its frame: alive was checked above (every message a sleepy app's agent hears)
            self._spin = 0
            self.invoke(fn, *args)

    def _on_idle(self) -> None:
        handler, self.onidle_handler = self.onidle_handler, None  # one slot, cleared as it runs
        # Its entry has run: nothing for stop() to cancel (a sleepy app sleeps from here; its
        # stop() then makes no call to cancel a timer that already fired: ~540 instructions a boot).
        self._idle = None
        if handler is not None and self.alive:
            self._spun()
            self.invoke(handler)

    def block_until(self, until_us: int) -> None:
        """Squirrel blocks (``imp.sleep``, a connection it waits for, or its own work taking
        time): the rest of the world runs on until ``until_us`` while this VM's events wait, then
        they run late, in order. If the run ends meanwhile (a power cut), the blocked code unwinds
        without running further; so does code still blocked when the run reaches its end
        (``Clock.end_us``): the world runs to that instant, and the run ends there."""
        clock = self.clock
        # run_nested's own first try, without its frame: a sleepy app's device waits so at every wake.
        if not clock.skip_to(until_us):
            clock.run_nested(until_us, self._still_alive)
        end = clock.end_us
        if not self.alive or (end is not None and until_us > end):
            raise RunEnded()
        if self.instruction_ps:  # the VM's clock is the world's again if the world got ahead
            work = self.vm.read_work()
            now = clock.now_us
            # now > start + work's time (in ps), for whole µs: the µs since the start exceed the
            # work's time rounded down
            if now - self._vm_us > (work - self._vm_work) * self.instruction_ps // 1_000_000:
                self._vm_us, self._vm_work = now, work

    def catch_up(self) -> None:
        """Bring the world up to this VM's own time (its handler's start plus the work done
        since, ``Config.instruction_ns``), running what other machines do meanwhile: every native
        calls this first, so what the code sees and does happens at the time the code has
        reached. A power cut meanwhile ends the run there (``RunEnded``)."""
        ps = self.instruction_ps
        if ps and self.alive:
            until = self._vm_us + (self.vm.read_work() - self._vm_work) * ps // 1_000_000
            clock = self.clock
            if until > clock.now_us and not clock.skip_to(until):  # skip_to: nothing else happens
                self.block_until(until)
                if clock.now_us == until and clock.due_now():
                    # The code reaches an instant at which other sources have events: independent
                    # machines, so either may come first (the tie-break's choice; 0, first in,
                    # first out: those scheduled before, the world's events, go first).
                    tie = clock.tie_break
                    if tie is None or tie.choose(2) == 0:
                        clock.run_now(self._still_alive)
                        if not self.alive:
                            raise RunEnded()

    def _still_alive(self) -> bool:
        return self.alive

    def stop(self) -> None:
        """End this run: its timers and handlers die; the VM is kept for the owner's next run
        (or closed, once the current call unwinds if it was stopped from inside one)."""
        if not self.alive:
            return
        if self.covered:
            self.env.coverage.collect(self.vm)
        self.alive = False
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None  # it holds this host: no cycle left for the collector
        if self.timers:  # a sleepy app's runs end with none: no iterator made at every sleep
            for h in self.timers.values():
                h.timer.cancel()
            self.timers.clear()
        self.handlers.clear()
        if self.hardware is not None:
            self.hardware.end()
        self._release_vm()

    def _close(self) -> None:
        if not self.vm.closed and not self.vm.running:
            self.vm.close()

    # --- VM reuse (Config.reuse_vms) ------------------------------------------------------

    def _reused_vm(self) -> squirrel.VM | None:
        """The owner's VM from its previous run (or one another simulation's run left: see
        :class:`impapi.vmshelf.VMShelf`), restored to the imp's pristine globals, with its
        natives handed to this run; None when there is none or it cannot be reused."""
        spare = self.owner.spare_vm
        if spare is None:
            return None
        self.owner.spare_vm = None
        vm, previous = spare
        world = previous.world
        # The natives were made for a module, and spiflash.read reads one chip's buffer in C
        # (a VM another simulation left is pointed at this one's chip: World.adopt).
        adopting = world.owner is not self.owner
        same_hardware = previous.variant == self.variant and (adopting or previous.flash is self.flash)
        if (vm.closed or vm.running or not same_hardware
                or (adopting and not world.adopt(vm, self))):
            vm.close()
            return None
        if not vm.restore(memory_limit=None):  # the previous run's limit must not stop the restore
            vm.close()
            return None
        self.world = world
        if vm.memory_used > world.base_memory:
            # Cycles the previous run left (reference counting missed them): a restore leaves
            # nothing else. Left in place, their strings would spare this run allocations a new
            # VM makes (a string with the same text costs nothing), so they go, however small.
            vm.collect_garbage()
            if vm.memory_used > world.base_memory:
                vm.close()  # what no collection frees: this run would not start as in a new VM
                return None
        vm.rebind(previous, self)
        vm.print, vm.error = self._print, self._print_error
        limit = self.env.config.watchdog_instructions
        if vm.instruction_limit != limit:
            vm.instruction_limit = limit  # as a new VM would have it
        return vm

    def _release_vm(self) -> None:
        """At the end of the run: keep the VM for the owner's next run, or close it."""
        vm = self.vm
        if vm.closed:
            return
        if self.env.config.reuse_vms and self.owner.spare_vm is None and not vm.running:
            vm.print = vm.error = None
            self.owner.spare_vm = (vm, self)
        elif not vm.running:
            vm.close()
        else:
            self.clock.schedule(0, self._close)  # stopped from inside a call: close once it unwinds

    # --- timers (imp-api.md §4.1) ---------------------------------------------------------

    def add_timer(self, delay_us: int, callback: Any) -> Any:
        """A timer's expiry is an event of its own source ("device timers"): it joins the VM's
        queue when it comes. ``imp.wakeup(0, f)`` queues ``f`` behind what the VM has queued."""
        if self.side == "device" and len(self.timers) >= DEVICE_TIMER_LIMIT:
            return None
        token = self.vm.to_squirrel({})
        key = hash(token)
        if delay_us:
            timer = self.clock.schedule(delay_us, self._timer_due, key, callback, source=self.timer_source)
        else:
            timer = self.clock.schedule(0, self._timer_queued, key, callback, source=self.queue)
        self.timers[key] = TimerHandle(timer, token)
        return token

    def _timer_due(self, key: int, callback: Any) -> None:
        self.timers.pop(key, None)
        self._fire(callback, ())

    def _timer_queued(self, key: int, callback: Any) -> None:
        self.timers.pop(key, None)
        if self.alive:
            self._spun()
            self.invoke(callback)

    def cancel_timer(self, token: Any) -> bool:
        h = self.timers.pop(hash(token), None) if isinstance(token, squirrel.SquirrelObject) else None
        if h is None:
            return False
        h.timer.cancel()
        return True

    # --- output -----------------------------------------------------------------------------

    def log(self, type_: str, text: str) -> None:
        self.env.log.add(self.clock.now_us, type_, text)

    def _print(self, text: str) -> None:
        self.owner.script_output(self, text, False)

    def _print_error(self, text: str) -> None:
        self.owner.script_output(self, text, True)

    def record_at_call_site(self, kind: str) -> None:
        """Record a structured event of ``kind`` with the {file, line} of the Squirrel code
        calling the running native ({} when there is none). Recorded here rather than handing
        out a dict to unpack into ``record``: a dict and a call less per event, and a sleepy app
        records two at every wake (~1 us per wake, measured)."""
        where = self.vm.caller()
        if where:
            self.env.record(kind, {"file": where[0], "line": where[1]})
        else:
            self.env.record(kind)

    def location(self, frame: squirrel.Frame) -> str:
        file = self.code_label if frame.file == self.filename else frame.file
        return f"{file}:{frame.line}"

    def error_lines(self, e: squirrel.ScriptError) -> list[str]:
        """imp-style: ``ERROR: <message>`` then ``ERROR:   in|from <function> <file>:<line>``."""
        lines = [f"ERROR: {e.message}"]
        first = True
        for f in e.traceback:
            if f.line < 0 or f.file.startswith("impsim:"):  # the imp API's own code shows no frames
                continue
            lines.append(f"ERROR:   {'in' if first else 'from'} {f.function} {self.location(f)}")
            first = False
        return lines

    def report_error(self, e: squirrel.ScriptError) -> None:
        type_ = "server.error" if self.side == "device" else "agent.error"
        for line in self.error_lines(e):
            self.log(type_, line)
        handler = self.unhandled_handler
        if handler is not None and self.alive:
            self.unhandled_handler = None
            where = ""
            for f in e.traceback:
                if f.line >= 0 and not f.file.startswith("impsim:"):
                    where = f": in {f.function} {self.location(f)}"
                    break
            try:
                handler(f"{e.message}{where}")
            except Halt:
                pass
            except squirrel.SquirrelError as inner:
                if isinstance(inner, squirrel.ScriptError):
                    for line in self.error_lines(inner):
                        self.log(type_, line)
