import textwrap

import pytest

from impapi import Simulation


def simulate(device: str | None = None, agent: str | None = None, *, run: str | None = "1m", **kw) -> Simulation:
    """A simulation of inline code (dedented), run for ``run`` of virtual time."""
    sim = Simulation(device=textwrap.dedent(device) + "\n" if device else None,
                     agent=textwrap.dedent(agent) + "\n" if agent else None, **kw)
    if run:
        sim.run(run)
    return sim


def device_lines(sim: Simulation) -> list[str]:
    return [e.text for e in sim.log if e.source == "device"]


def agent_lines(sim: Simulation) -> list[str]:
    return [e.text for e in sim.log if e.source == "agent"]


@pytest.fixture
def sim_of():
    return simulate
