"""The fleet file: defaults when absent, every key read, and errors that name the file, the key
and what is valid."""

import pytest

from impapi.fleet import FleetConfig, FleetFileError, load_fleet, loads_fleet
from impapi.fleet.config import Group

FULL = '''
[fleet]
devices = 500
seed = 7

[start]
spread = "30m"

[modules]
imp003 = 3
imp004m = 1

[connectivity]
flaky = 0.2
outages_per_day = 4
outage_length = ["30s", "1h"]

[power]
cycles_per_day = 0.5

[rollout]
deadline = "1d"

[[group]]
name = "canary"
share = 0.05
delay = "0s"

[[group]]
name = "production"
delay = "12h"

[moves]
share = 0.01
to = "field-test"
window = ["1h", "2d"]

[report]
herd_factor = 4
'''


def test_absent_file_is_the_documented_defaults():
    cfg = loads_fleet("")
    assert cfg == FleetConfig()
    assert cfg.start_spread_us == 3_600_000_000 and cfg.modules == (("imp003", 1.0),)
    assert cfg.groups == (Group("production"),) and cfg.deadline_us is None and cfg.move_share == 0


def test_every_key_is_read(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text(FULL)
    cfg = load_fleet(path)
    assert (cfg.devices, cfg.seed, cfg.start_spread_us) == (500, 7, 1_800_000_000)
    assert cfg.modules == (("imp003", 3.0), ("imp004m", 1.0))
    assert (cfg.flaky_share, cfg.outages_per_day, cfg.outage_min_us, cfg.outage_max_us) == (0.2, 4.0, 30_000_000, 3_600_000_000)
    assert cfg.power_cycles_per_day == 0.5 and cfg.deadline_us == 86_400_000_000
    assert cfg.groups == (Group("canary", 0.05, None, 0), Group("production", None, None, 43_200_000_000))
    assert (cfg.move_share, cfg.move_to, cfg.move_window_us) == (0.01, "field-test", (3_600_000_000, 172_800_000_000))
    assert cfg.herd_factor == 4.0


def test_group_sizes_add_up_to_the_fleet():
    cfg = loads_fleet(FULL)
    assert [(g.name, n) for g, n in cfg.group_sizes(1000)] == [("canary", 50), ("production", 950)]
    shares = loads_fleet('[[group]]\nname="a"\nshare=0.333\n[[group]]\nname="b"\nshare=0.667\n')
    assert sum(n for _, n in shares.group_sizes(10)) == 10
    exact = loads_fleet('[[group]]\nname="a"\ndevices=3\n[[group]]\nname="b"\n')
    assert [n for _, n in exact.group_sizes(10)] == [3, 7]
    with pytest.raises(FleetFileError, match="more than the fleet's 2"):
        exact.group_sizes(2)


@pytest.mark.parametrize("text, message", [
    ("[connectivty]\nflaky = 0.1\n", r"\[connectivty\]: unknown table \(did you mean \[connectivity\]\?\)"),
    ("[connectivity]\nflakey = 0.1\n", r"\[connectivity\] flakey: unknown key \(did you mean 'flaky'\?\)"),
    ("[connectivity]\nflaky = 1.5\n", r"flaky: must be between 0 and 1"),
    ("[start]\nspread = \"soon\"\n", r"\[start\] spread: bad duration 'soon'"),
    ("[modules]\nimp999 = 1\n", r"\[modules\] imp999: unknown key"),
    ("[modules]\nimp003 = 0\n", r"at least one module a weight above 0"),
    ("[[group]]\nname = \"a\"\nshare = 0.5\n", r"shares add up to 0.5"),
    ("[[group]]\nname = \"a\"\n[[group]]\nname = \"b\"\n", r"only one group may take the rest"),
    ("[[group]]\nname = \"a\"\nshare = 0.7\n[[group]]\nname = \"b\"\nshare = 0.7\n", r"more than the whole fleet"),
    ("[[group]]\nname = \"a\"\n[[group]]\nname = \"a\"\nshare = 0.1\n", r"two groups have this name"),
    ("[connectivity]\noutage_length = [\"2h\", \"1m\"]\n", r"must not be shorter than the first"),
    ("[fleet]\ndevices = 0\n", r"\[fleet\] devices: must be a whole number of at least 1"),
    ("[report]\nherd_factor = 0.5\n", r"herd_factor: must be at least 1"),
    ("[fleet\n", r"not valid TOML"),
])
def test_bad_fleet_files_say_where_and_what_is_valid(text, message):
    with pytest.raises(FleetFileError, match=message) as info:
        loads_fleet(text, "my-fleet.toml")
    assert str(info.value).startswith("my-fleet.toml: ")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FleetFileError, match="no such fleet file"):
        load_fleet(tmp_path / "nope.toml")


def test_the_documented_fleet_file_reads_and_its_comments_state_the_defaults():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "fleet.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = loads_fleet(block, "docs/fleet.md")
    assert [g.name for g in cfg.groups] == ["canary", "production"] and cfg.deadline_us == 86_400_000_000
    d = FleetConfig()
    assert f'default "{d.start_spread_us // 60_000_000 // 60}h"' in block
    assert f"default {d.flaky_share}" in block and f"default {d.power_cycles_per_day}" in block
    assert f'default "{d.move_to}"' in block and f"default {d.herd_factor:g}" in block
