"""Fleets on a real LocalCluster: the same result for one or two workers and any shard size, a
staged rollout in the curve, polite and impolite apps told apart, forced and never-updated
devices, the thundering herd, and outliers that replay alone with the same outcome."""

import json
import logging
import shlex
from pathlib import Path

import pytest

from conftest import app

from impapi.cli import _scenario, build_parser, main
from impapi.fleet import Fleet
from impapi.fleet.observe import simulate_device
from impapi.fleet.shard import BIN_US

pytest.importorskip("distributed")

APPS = Path(__file__).parent / "apps"
H = 3_600_000_000
QUIET = {"connectivity": {"flaky": 0.0}, "power": {"cycles_per_day": 0.0}}


def test_one_worker_and_two_workers_give_the_same_result(client):
    from distributed import Client, LocalCluster

    fleet = Fleet(*app("polite"), devices=24, seed=5, at=["1h30m:impos=44.0"],
                  fleet={"connectivity": {"flaky": 0.3, "outages_per_day": 8}, "power": {"cycles_per_day": 2}})
    two = fleet.run("6h", client, shard_size=5)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as c, Client(c) as one_client:
        one = fleet.run("6h", one_client, shard_size=24)
    assert two.json_text() == one.json_text()
    assert two.devices == one.devices and two.load == one.load
    s = two.summary()
    assert s["updated"] + s["never_updated"] == 24 and sum(o.outages for o in two.devices) > 0


def test_staged_rollout_shows_in_the_curve(client):
    fleet = Fleet(*app("sleepy"), devices=40, seed=2, at=["2h:impos=44.0"],
                  fleet={**QUIET, "group": [{"name": "canary", "share": 0.25}, {"name": "production", "delay": "6h"}]})
    r = fleet.run("12h", client)
    total = [sum(series[i] for series in r.rollout().values()) for i in range(r.bins)]
    assert total[2 * 60 - 1] == 0  # nothing before the release
    assert total[8 * 60 - 1] == 10  # the canary group (a quarter) only, until production's turn
    assert total[-1] == 40
    canary = [o for o in r.devices if o.group == "canary"]
    production = [o for o in r.devices if o.group == "production"]
    assert max(o.applied_us for o in canary) < 8 * H <= min(o.applied_us for o in production)
    assert r.summary()["time_to"]["100%"] is not None


def test_polite_and_impolite_apps_differ_as_they_should(client):
    events = ["1h:impos=44.0"]
    polite = Fleet(*app("polite"), devices=20, seed=3, at=events, fleet=QUIET).run("4h", client).summary()
    impolite = Fleet(*app("impolite"), devices=20, seed=3, at=events, fleet=QUIET).run("4h", client).summary()
    # the polite logger restarts when told; the impolite one is restarted at once, unannounced
    assert polite["by_path"] == {"polite": 20}
    assert impolite["by_path"] == {"no-handler": 20}
    assert polite["never_updated"] == impolite["never_updated"] == 0


def test_a_handler_that_never_restarts_is_never_updated_unless_the_cloud_forces_it(client):
    device = str(APPS / "stubborn.device.nut")
    held = Fleet(device, devices=12, seed=4, at=["1h:impos=44.0"], fleet=QUIET).run("8h", client)
    s = held.summary()
    assert s["never_updated"] == 12 and s["updated"] == 0 and s["deferrals"] >= 12 * 10
    kinds = {x.kind: x for x in held.outliers()}
    assert "never updated" in kinds and "most deferrals" in kinds
    forced = Fleet(device, devices=12, seed=4, at=["1h:impos=44.0"],
                   fleet={**QUIET, "rollout": {"deadline": "2h"}}).run("8h", client)
    s = forced.summary()
    assert s["by_path"] == {"deadline": 12} and s["forced"] == 12 and s["never_updated"] == 0
    for o in forced.devices:  # two hours after the handler heard of it (and the device next woke)
        assert o.applied_us >= o.handler_us + 2 * H


def test_agents_that_all_call_home_on_restart_are_a_thundering_herd(client):
    device, agent = str(APPS / "herd.device.nut"), str(APPS / "herd.agent.nut")
    r = Fleet(device, agent, devices=30, seed=6, at=["3h:deploy"], fleet=QUIET).run("6h", client)
    http = r.summary()["herd"]["http"]
    assert http["herd"] and http["peak_per_minute"] >= 30 and http["peak_at_us"] == 3 * H
    # staged over two groups an hour apart, each minute's bunch is half as large
    staged = Fleet(device, agent, devices=30, seed=6, at=["3h:deploy"], fleet={
        **QUIET, "group": [{"name": "a", "share": 0.5}, {"name": "b", "delay": "1h"}]}).run("6h", client)
    assert staged.summary()["herd"]["http"]["peak_per_minute"] == 15
    assert staged.load["http"][3 * 60] == staged.load["http"][4 * 60] == 15


def test_outliers_replay_alone_with_the_same_outcome(client, capsys):
    device, agent = str(APPS / "stubborn.device.nut"), app("polite")[1]
    fleet = Fleet(device, agent, devices=30, seed=8, at=["2h:impos=44.0"], fleet={
        "connectivity": {"flaky": 0.5, "outages_per_day": 6}, "power": {"cycles_per_day": 3},
        "moves": {"share": 0.3, "to": "lab"}, "rollout": {"deadline": "3h"}})
    r = fleet.run("8h", client)
    outliers = r.outliers()
    assert {"updated by deadline", "updated by power-cycle", "updated by group-move", "slowest update",
            "most deferrals"} <= {x.kind for x in outliers}
    job = fleet.job("8h")
    for x in outliers:
        args = build_parser().parse_args(shlex.split(x.command)[1:])
        scenario = _scenario(args)
        spec = job.plan.spec(x.index)
        alone, _ = simulate_device(scenario, spec, device=scenario.device, agent=scenario.agent,
                                   deadline_us=args.update_deadline, sources={}, bin_us=BIN_US)
        assert alone == r.devices[x.index], x.kind
    # and the command itself, as a user runs it, shows the update where the fleet says it happened
    x = next(x for x in outliers if x.kind == "updated by deadline")
    o = r.devices[x.index]
    assert main(shlex.split(x.command)[1:] + ["--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    installed = [row for row in rows if row["msg"] == "impOS 44.0 installed"]
    assert len(installed) == 1 and installed[0]["ts"].startswith(_clock(o.applied_us))


def _clock(us: int) -> str:
    s = us // 1_000_000
    return f"2026-01-01T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def test_replay_keeps_the_whole_story_of_one_device(client):
    fleet = Fleet(*app("polite"), devices=6, seed=9, at=["1h:impos=44.0"], fleet=QUIET)
    r = fleet.run("3h", client)
    outcome, sim = fleet.replay(3, "3h")
    assert outcome == r.devices[3]
    assert sim.events.of("update", stage="applied") and len(sim.log) > 10


def test_result_has_the_table_the_curves_and_a_picture(client):
    r = Fleet(*app("sleepy"), devices=5, seed=10, at=["1h:impos=44.0"], fleet=QUIET).run("3h", client)
    table = r.table()
    rows = r.rows()
    assert len(rows) == 5 and rows[2]["index"] == 2 and rows[2]["path"] == "no-handler"
    assert len(table) == 5  # a DataFrame with pandas, the rows without
    assert sum(r.load["messages"]) == sum(o.messages for o in r.devices) > 0
    assert list(r.rollout()) == ["no-handler"] and r.rollout()["no-handler"][-1] == 5
    picture = r.plot()
    assert picture._repr_svg_().startswith("<svg") and "Rollout" in str(picture)


def test_a_cluster_without_workers_is_an_error_not_a_wait():
    from distributed import Client, LocalCluster

    from impapi.fleet import FleetError

    with LocalCluster(n_workers=0, dashboard_address=":0", silence_logs=logging.ERROR) as c, Client(c) as empty:
        with pytest.raises(FleetError, match="has no workers: start some with `dask worker tcp://"):
            Fleet(*app("sleepy"), devices=2).run("1h", empty)


def test_a_shard_leaves_the_workers_garbage_collector_as_it_found_it(tmp_path):
    """A shard runs with the worker's heap frozen out of the cycle collector and unfreezes it
    after, also when a device fails, and the outcomes are the same as without the freeze."""
    import gc

    from impapi.fleet.shard import DeviceFailed, run_shard

    device, agent = app("sleepy")
    job = Fleet(device, agent, devices=3, seed=5).job("2h")
    frozen_before = gc.get_freeze_count()
    first = run_shard(job, 0, 3)
    assert gc.get_freeze_count() == frozen_before
    gc.disable()
    try:
        again = run_shard(job, 0, 3)
    finally:
        gc.enable()
    assert again == first
    broken = tmp_path / "broken.device.nut"
    broken.write_text("local x = ;\n")
    with pytest.raises(DeviceFailed):
        run_shard(Fleet(str(broken), None, devices=1, seed=5).job("1h"), 0, 1)
    assert gc.get_freeze_count() == frozen_before


def test_shards_run_back_to_back_leave_no_garbage_behind():
    """A worker runs shard after shard: what one shard leaves for the cycle collector is gone
    before the next begins, so a worker's memory does not grow with the fleet (it grew by about
    50 objects a device-day; other threads of a busy process move the count by a few hundred)."""
    import gc

    from impapi.fleet.shard import run_shard

    device, agent = app("sleepy")
    job = Fleet(device, agent, devices=50, seed=5).job("1d")
    run_shard(job, 0, 10)
    counts = []
    for start in range(10, 50, 10):
        run_shard(job, start, start + 10)
        counts.append(len(gc.get_objects()))
    assert counts[-1] - counts[0] < 800, counts
