"""Property tests: every scenario the data model admits is written by ``to_toml`` and
``to_cli_args`` in a form the one parser reads back equal (the fuzzer prints failing scenarios
this way, so a scenario that does not survive the trip would be a lie)."""

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impapi.scenario import (
    Deploy,
    Http,
    Message,
    Scenario,
    ScenarioEvent,
    loads_toml,
    parse_at,
)

DAY = 86_400_000_000
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NAME = TEXT.filter(lambda s: s and s == s.strip() and ":" not in s)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31 - 1) | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("code")
    sub = base / "sub dir"
    sub.mkdir()
    paths = [base / "a.device.nut", base / "b.agent.nut", sub / "c.device.nut", base / "a.nut"]
    for p in paths:
        p.write_text("")
    return base, [str(p) for p in paths]


def events(paths):
    device = st.none() | st.sampled_from([p for p in paths if not p.endswith(".agent.nut")])
    agent = st.none() | st.sampled_from([p for p in paths if not p.endswith(".device.nut")])
    args = {
        "impos": st.builds(lambda a, b: f"{a}.{b}" if b is not None else str(a),
                           st.integers(0, 99), st.none() | st.integers(0, 99)),
        "deploy": st.builds(Deploy, device, agent),
        "force-deploy": st.builds(Deploy, device, agent),
        "offline": st.integers(1, 30 * DAY),
        "move-group": NAME,
        "message": st.builds(Message.of, NAME, JSON),
        "http": st.builds(Http, st.text(string.ascii_letters, min_size=1, max_size=7),
                          st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), max_size=10)
                          .map(lambda s: "/" + "".join(c for c in s if not c.isspace())), TEXT),
    }
    kinds = st.sampled_from(list(args) + ["power-cycle", "power-off", "power-on", "advance"])
    return kinds.flatmap(lambda k: st.builds(ScenarioEvent, st.integers(0, 60 * DAY), st.just(k),
                                             args.get(k, st.none())))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_to_toml_then_load_is_the_identity(files, data):
    base, paths = files
    evs = data.draw(st.lists(events(paths), max_size=8))
    duration = data.draw(st.none() | st.integers(max((e.at_us for e in evs), default=0), 90 * DAY))
    scenario = Scenario(tuple(evs), duration, data.draw(st.none() | st.sampled_from(paths)),
                        data.draw(st.none() | st.sampled_from(paths)), data.draw(st.none() | st.just("imp006")),
                        data.draw(st.none() | st.integers(-(2**63), 2**63 - 1)),
                        data.draw(st.none() | st.integers(0, 2**32 - 1)))
    assert loads_toml(scenario.to_toml(relative_to=base), base_dir=base) == scenario


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_cli_form_then_parse_is_the_identity(files, data):
    base, paths = files
    event = data.draw(events(paths))
    assert parse_at(event.to_cli(base), base_dir=base) == event
