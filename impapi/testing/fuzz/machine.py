"""A hypothesis stateful machine over one app, for interactive exploration.

    from impapi.testing import machine_for
    TestLogger = machine_for("logger.device.nut", "logger.agent.nut").TestCase

Rules advance virtual time (by a step, or to the device's next boot), release impOS updates and deployments, cut the power, take the
network down and send the device messages; every rule is also recorded as a scenario event at
the time it happened, so a failure is reported as a scenario (and an ``impsim run`` command).
The invariant runs the polite checks over the run so far (``checks.violations``); time-bound
checks only fire once their bound has passed.

The machine drives one simulation step by step, so an event it applies at an instant where the
app also has something scheduled runs after it; a scenario replayed from scratch schedules its
events first. The report replays the recorded scenario from scratch and says whether the
failure reproduces that way.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from impapi.durations import MS, H, M, S, format_duration
from impapi.replay import Replay
from impapi.scenario import Deploy, Message, Scenario, ScenarioEvent, apply

from . import checks as _checks
from . import ties
from .run import DEFAULT_CLAIM, Run, play
from .strategies import IMPOS_VERSIONS, OUTAGES

__all__ = ["PoliteMachine", "machine_for"]

STEPS = st.one_of(st.sampled_from([1 * S, 10 * S, 1 * M, 10 * M, 1 * H]), st.integers(1 * MS, 2 * H))


class PoliteMachine(RuleBasedStateMachine):
    """Subclass with ``device``/``agent`` set (or use :func:`machine_for`)."""

    device: str | None = None
    agent: str | None = None
    imp: str | None = None
    messages: tuple[str, ...] = ()
    check_options: dict[str, Any] = {}  # noqa: RUF012 - set per subclass by machine_for
    claim: str | None = DEFAULT_CLAIM
    load: Any = None  # impapi.builder.LoadOptions for the app's code

    def __init__(self) -> None:
        super().__init__()
        from impapi.simulation import Simulation

        seed = ties.tie_seed()
        kwargs: dict[str, Any] = {"device": self.device, "agent": self.agent, "start": False, "tie_seed": seed,
                                  "load": self.load}
        if self.imp:
            kwargs["imp"] = self.imp
        self.sim = Simulation(**kwargs)
        self.recorded: list[ScenarioEvent] = []
        played = Scenario(device=_abs(self.device), agent=_abs(self.agent), imp=self.imp)
        self.run = Run(Replay(self.sim, played, tie_seed=seed, start_us=0), claim=self.claim)
        self.sim.start()

    # --- the world --------------------------------------------------------------------------

    def _do(self, kind: str, arg: Any = None) -> None:
        e = ScenarioEvent(self.sim.clock.now_us, kind, arg)
        self.recorded.append(e)
        apply(e, self.sim, start_us=0)
        self.sim.run(for_us=0)  # let it happen now

    @initialize(dt=STEPS)
    def settle(self, dt: int) -> None:
        self.sim.run(for_us=dt)

    @rule(dt=STEPS)
    def advance(self, dt: int) -> None:
        self.sim.run(for_us=dt)

    @rule(offset=st.sampled_from([0, 1, 50 * MS, 100 * MS, 1 * S, 2 * S]))
    def next_boot(self, offset: int) -> None:
        """Run until the device boots again (at most a day), then ``offset`` more."""
        sim, boots = self.sim, len(self.run.boots())
        limit = sim.clock.now_us + 24 * H
        while len(self.run.boots()) == boots and sim.clock.now_us < limit:
            nxt = sim.clock.peek()
            if nxt is None or nxt > limit:
                sim.run(for_us=limit - sim.clock.now_us)
                break
            sim.run(for_us=max(nxt - sim.clock.now_us, 0))
        sim.run(for_us=offset)

    @rule(version=st.sampled_from(IMPOS_VERSIONS))
    def release_impos(self, version: str) -> None:
        self._do("impos", version)

    @rule(force=st.booleans())
    def deploy(self, force: bool) -> None:
        self._do("force-deploy" if force else "deploy", Deploy())

    @rule()
    def power_cycle(self) -> None:
        self._do("power-cycle")

    @rule(duration=st.sampled_from(OUTAGES))
    def outage(self, duration: str) -> None:
        from impapi.durations import parse_duration

        self._do("offline", parse_duration(duration))

    @rule(data=st.data())
    def message(self, data: Any) -> None:
        if self.messages:
            self._do("message", Message.of(data.draw(st.sampled_from(self.messages)), None))

    # --- the checks -------------------------------------------------------------------------

    @invariant()
    def polite(self) -> None:
        found = _checks.violations(self.run, **self.check_options)
        if found:
            first = found[0]
            scenario = self.scenario()
            replay = play(None, scenario, tie_seed=self.run.tie_seed, claim=self.claim, load=self.load)
            again = {v.check for v in _checks.violations(replay, **self.check_options)}
            replay.close()
            first.details.append("scenario so far: " + (" ".join(f"--at {e.to_cli()}" for e in scenario.events)
                                                         or "no events") + f" --for {format_duration(scenario.duration_us)}"
                                 + (" (replayed from scratch: fails the same way)" if first.check in again else
                                    " (replayed from scratch it does not fail: same-instant order differs)"))
            first.add_others(found[1:])
            raise first

    def scenario(self) -> Scenario:
        return Scenario(tuple(self.recorded), duration_us=self.sim.clock.now_us, device=_abs(self.device),
                        agent=_abs(self.agent), imp=self.imp)

    def teardown(self) -> None:
        self.run.close()


def _abs(path: str | None) -> str | None:
    return os.path.abspath(path) if path else None


def machine_for(device: str | os.PathLike | None, agent: str | os.PathLike | None = None, *,
                imp: str | None = None, claim: str | None = DEFAULT_CLAIM,
                extra: Iterable[Callable[[Run], Any]] = (), load: Any = None,
                **check_options: Any) -> type[PoliteMachine]:
    """A :class:`PoliteMachine` subclass for one app; ``.TestCase`` runs it under unittest or
    pytest. ``check_options`` go to :func:`checks.violations` (``only=``, ``bound=``...);
    ``load``: how the app's code is loaded (an :class:`impapi.builder.LoadOptions`)."""
    from .source import AppSource

    dev = os.fspath(device) if device is not None else None
    names = tuple(AppSource.from_file(dev, "device_code").message_names) if dev else ()
    options = dict(check_options)
    if extra:
        options["extra"] = tuple(extra)
    return type("PoliteMachine_" + (os.path.basename(dev or "agent").split(".")[0] or "app"), (PoliteMachine,), {
        "device": dev, "agent": os.fspath(agent) if agent is not None else None, "imp": imp,
        "messages": names, "check_options": options, "claim": claim, "load": load,
    })
