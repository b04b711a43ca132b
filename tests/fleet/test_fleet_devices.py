"""Each device's seed and scenario derive from the fleet seed and its index alone, and its replay
command reads back (through impsim run's own parser) as the same scenario."""

import shlex

from conftest import app

from impapi.cli import _scenario, build_parser
from impapi.fleet import Plan, device_seed, loads_fleet
from impapi.scenario import parse_at

H = 3_600_000_000
FLEET = loads_fleet('''
[start]
spread = "1h"
[modules]
imp003 = 1
imp004m = 1
[connectivity]
flaky = 0.5
outages_per_day = 6
[power]
cycles_per_day = 2
[rollout]
deadline = "6h"
[[group]]
name = "canary"
share = 0.1
[[group]]
name = "production"
delay = "10h"
[moves]
share = 0.3
to = "lab"
''')


def plan(seed=1, devices=50):
    return Plan(FLEET, devices, seed, 24 * H, (parse_at("2h:impos=44.0"), parse_at("5h:power-cycle")))


def test_device_seeds_differ_and_depend_only_on_fleet_seed_and_index():
    seeds = [device_seed(1, i) for i in range(5000)]
    assert len(set(seeds)) == 5000
    assert device_seed(1, 42) == device_seed(1, 42) != device_seed(2, 42)
    assert plan().spec(30) == plan(devices=60).spec(30)  # nor, within its group, on the fleet size


def test_a_device_varies_as_the_fleet_file_says():
    p = plan(devices=400)
    specs = [p.spec(i) for i in range(400)]
    assert all(0 <= s.start_us < H for s in specs)
    assert {s.imp for s in specs} == {"imp003", "imp004m"}
    assert [s.group for s in specs].count("canary") == 40
    # staged: the canary gets the release at its time, production 10 h later
    assert {s.released_us for s in specs if s.group == "canary"} == {2 * H}
    assert {s.released_us for s in specs if s.group == "production"} == {12 * H}
    flaky = [s for s in specs if s.outages]
    assert 120 < len(flaky) < 280 and sum(s.outages for s in flaky) / len(flaky) > 3
    assert 0.15 < sum(s.moved_us is not None for s in specs) / 400 < 0.45
    assert sum(s.power_cycles for s in specs) / 400 > 1
    for s in specs:
        kinds = [e.kind for e in s.events]
        assert kinds.count("impos") == 1 and "power-cycle" in kinds  # the fleet-wide 5h power cycle
        assert kinds.count("offline") == s.outages and kinds.count("move-group") == (s.moved_us is not None)
        if s.start_us:
            assert s.events[0].kind == "power-off" and s.events[0].at_us == 0


def test_replay_command_reads_back_as_the_same_scenario(tmp_path, monkeypatch):
    device, agent = app("polite")
    p = plan()
    for index in (0, 7, 33):
        spec = p.spec(index)
        command = p.replay_command(spec, device, agent)
        argv = shlex.split(command)
        assert argv[:2] == ["impsim", "run"] and "--update-deadline" in argv
        args = build_parser().parse_args(argv[1:])
        assert _scenario(args) == p.scenario(spec, device, agent)
        assert args.update_deadline == 6 * H
