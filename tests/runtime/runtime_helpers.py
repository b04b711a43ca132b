import textwrap
from pathlib import Path

import pytest

from impapi import Config, Simulation
from impapi.scenario import Scenario, apply, parse_at

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_app(name: str) -> tuple[str, str | None]:
    """The device and agent files (None: no agent) of the example app ``name`` (its directory)."""
    folder = EXAMPLES / name
    (device,) = folder.glob("*.device.nut")
    agents = list(folder.glob("*.agent.nut"))
    return str(device), str(agents[0]) if agents else None


def simulate(device: str | None = None, agent: str | None = None, *, run: str | None = "1m", **kw) -> Simulation:
    """A simulation of inline code (dedented), run for ``run`` of virtual time."""
    sim = Simulation(device=textwrap.dedent(device) + "\n" if device else None,
                     agent=textwrap.dedent(agent) + "\n" if agent else None, **kw)
    if run:
        sim.run(run)
    return sim


def play_events(device: str | None, agent: str | None, events, duration: str, **kw) -> Simulation:
    """A simulation of app files with the scenario ``events`` (``"47m:deploy"``, ...) applied,
    run for ``duration``."""
    sim = Simulation(device=device, agent=agent, start=False, **kw)
    sim.start()
    apply(Scenario(tuple(parse_at(e) for e in events)), sim)
    sim.run(duration)
    return sim


def observed(sim: Simulation):
    """What a user sees of a run: its log and its events."""
    return sim.log.text(), [(e.time_us, e.kind, sorted(e.data.items())) for e in sim.events]


def device_lines(sim: Simulation) -> list[str]:
    return [e.text for e in sim.log if e.source == "device"]


def agent_lines(sim: Simulation) -> list[str]:
    return [e.text for e in sim.log if e.source == "agent"]


@pytest.fixture
def sim_of():
    return simulate


def marked_lines(lines, mark: str) -> list[str]:
    """The lines holding ``mark``, each from the mark on (no time stamp or source)."""
    return [line[line.index(mark):] for line in lines if mark in line]


def boot_lines(path, mark: str, reuse: bool = True, vms=None) -> list[str]:
    """The lines holding ``mark`` an app logs in an hour of 10-minute sleeps (at least five
    boots), with a reused VM or a new one per boot, and from a VM shelf if given."""
    sim = Simulation(device=path, config=Config(reuse_vms=reuse), vms=vms)
    sim.run("1h")
    sim.close()
    assert sim.device.boots >= 5
    return marked_lines((e.text for e in sim.log), mark)
