"""Running a few lines of device code on a module and reading what it logged and recorded."""

from __future__ import annotations

import textwrap

from impapi import Config, Simulation


def sim_of(device: str, imp: str = "imp001", run: str | None = "2s", config: Config | None = None,
           **kw) -> Simulation:
    sim = Simulation(device=textwrap.dedent(device) + "\n", imp=imp, config=config or Config(), **kw)
    if run:
        sim.run(run)
    return sim


def lines(sim: Simulation) -> list[str]:
    return [e.text for e in sim.log if e.source == "device"]


def logged(device: str, imp: str = "imp001", **kw) -> list[str]:
    return lines(sim_of(device, imp, **kw))


def events(sim: Simulation, kind: str) -> list[dict]:
    return [e.data for e in sim.events if e.kind == kind]
