"""Test file discovery, sides, partners and the --tests selector."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impapi.testing.config import (
    ConfigError,
    TestConfig,
    TestSelector,
    _segment_regex,
    discover_test_files,
    find_partner,
    glob_files,
    parse_selector,
    side_of,
)


def touch(root: Path, *names: str) -> Path:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")
    return root


def test_default_globs(tmp_path):
    touch(
        tmp_path,
        "b.test.nut", "A.test.nut", "notatest.nut",
        "tests/x.test.nut", "tests/deep/er/y.test.nut", "tests/.hidden/z.test.nut",
        "other/o.test.nut", ".dot.test.nut",
    )
    names = [f.name for f in TestConfig.load(tmp_path).discover()]
    assert names == ["A.test.nut", "b.test.nut", "tests/deep/er/y.test.nut", "tests/x.test.nut"]


def test_pattern_order_and_dedup(tmp_path):
    touch(tmp_path, "tests/a.test.nut", "tests/b.test.nut")
    files = discover_test_files(tmp_path, ["tests/b*", "tests/*.test.nut"])
    assert [f.name for f in files] == ["tests/b.test.nut", "tests/a.test.nut"]
    assert files[0].path == tmp_path / "tests/b.test.nut"


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("*.nut", ["a1.nut", "a2.nut", "b.nut", "weird[x].nut"]),
        ("a?.nut", ["a1.nut", "a2.nut"]),
        ("a[1].nut", ["a1.nut"]),
        ("a[!1].nut", ["a2.nut"]),
        ("a[^1].nut", ["a2.nut"]),
        ("{a1,b}.nut", ["a1.nut", "b.nut"]),
        ("{a{1,2},zz}.nut", ["a1.nut", "a2.nut"]),
        ("d/**/*.nut", ["d/c.nut", "d/e/f.nut"]),
        ("d/**", ["d/c.nut", "d/e/f.nut", "d/e/g.txt"]),
        ("**/f.nut", ["d/e/f.nut"]),
        ("d/**/**/f.nut", ["d/e/f.nut"]),
        ("./d/*.nut", ["./d/c.nut"]),
        ("d/e/../c.nut", ["d/e/../c.nut"]),
        ("weird\\[x].nut", ["weird[x].nut"]),
        ("{x}.nut", []),
        ("*.none", []),
        ("nodir/*.nut", []),
        (".*.nut", [".dot.nut"]),
    ],
)
def test_glob_semantics(tmp_path, pattern, expected):
    touch(tmp_path, "a1.nut", "a2.nut", "b.nut", ".dot.nut", "d/c.nut", "d/e/f.nut", "d/e/g.txt",
          "d/.git/h.nut", "weird[x].nut")
    (tmp_path / "adir.nut").mkdir()  # directories never count as files
    assert glob_files(tmp_path, pattern) == expected


def test_glob_absolute_pattern(tmp_path):
    touch(tmp_path, "x/a.test.nut")
    assert glob_files("/", f"{tmp_path.as_posix()}/x/*.nut") == [f"{tmp_path.as_posix()}/x/a.test.nut"]


def test_glob_does_not_follow_symlink_cycles(tmp_path):
    touch(tmp_path, "d/a.nut")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    assert glob_files(tmp_path, "**/*.nut") == ["d/a.nut"]


def test_glob_sort_is_case_insensitive_first(tmp_path):
    touch(tmp_path, "b.nut", "B.nut", "a.nut", "C.nut")
    assert glob_files(tmp_path, "*.nut") == ["a.nut", "B.nut", "b.nut", "C.nut"]


@given(
    st.text(alphabet="ab.", min_size=1, max_size=6),
    st.text(alphabet="ab.*?", min_size=1, max_size=5),
)
def test_segment_matching_agrees_with_fnmatch(name, pattern):
    regex = _segment_regex(pattern)
    ours = regex.fullmatch(name) is not None if regex else name == pattern
    assert ours == fnmatch.fnmatchcase(name, pattern)


@pytest.mark.parametrize(
    "name, side",
    [
        ("agent.test.nut", "agent"),
        ("Foo.Agent.test.nut", "agent"),
        ("tests/agent/x.test.nut", "agent"),
        ("tests/x-agent-y.test.nut", "agent"),
        ("my_agent.test.nut", "device"),
        ("agents.test.nut", "device"),
        ("reagent.test.nut", "device"),
        ("x.device.test.nut", "device"),
        ("tests\\agent\\x.test.nut", "agent"),
    ],
)
def test_side_of(name, side):
    assert side_of(name) == side


def test_partners(tmp_path):
    touch(tmp_path, "t/X.agent.test.nut", "t/X.device.nut", "t/Y.device.test.nut", "t/Y.agent.nut",
          "t/Z.device.test.nut", "t/W.test.nut", "t/W.agent.nut")
    assert find_partner("t/X.agent.test.nut", tmp_path) == "t/X.device.nut"
    assert find_partner("t/Y.device.test.nut", tmp_path) == "t/Y.agent.nut"
    assert find_partner("t/Z.device.test.nut", tmp_path) is None  # no partner file
    assert find_partner("t/W.test.nut", tmp_path) is None  # only .agent/.device.test.nut have partners


def test_partner_side_follows_impt_for_odd_names(tmp_path):
    # The side comes from the whole path ("agent" directory), so the partner is a .device.nut.
    touch(tmp_path, "agent/x.device.test.nut", "agent/x.device.nut")
    assert find_partner("agent/x.device.test.nut", tmp_path) == "agent/x.device.nut"


def test_discovery_records_partners_and_excludes_them(tmp_path):
    touch(tmp_path, "tests/X.agent.test.nut", "tests/X.device.nut", "tests/Y.test.nut")
    files = discover_test_files(tmp_path, ["tests/*.nut"])
    assert [f.name for f in files] == ["tests/X.agent.test.nut", "tests/Y.test.nut"]
    x = files[0]
    assert (x.side, x.partner_name, x.partner) == ("agent", "tests/X.device.nut", tmp_path / "tests/X.device.nut")
    assert files[1].partner is None and files[1].side == "device"


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, TestSelector()),
        ("", TestSelector()),
        ("tests/foo", TestSelector("tests/foo")),
        ("foo.test.nut:MyCase", TestSelector("foo.test.nut", "MyCase")),
        ("tests/foo.device.test.nut:MyCase::testThing", TestSelector("tests/foo.device.test.nut", "MyCase", "testThing")),
        (":MyCase::testThing", TestSelector("", "MyCase", "testThing")),
        ("::testThing", TestSelector("", "", "testThing")),
        (":MyCase", TestSelector("", "MyCase")),
        ("tests\\.win:C", TestSelector("tests/.win" if os.sep == "\\" else "tests\\.win", "C")),
    ],
)
def test_parse_selector(text, expected):
    assert parse_selector(text) == expected


def test_bad_selectors():
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        parse_selector("(bad:C")


def test_names_are_not_checked_like_impt():
    assert parse_selector(":My.Case::not-a-method") == TestSelector("", "My.Case", "not-a-method")


def test_selector_file_regex_and_discovery(tmp_path):
    touch(tmp_path, "tests/foo.test.nut", "tests/foobar.test.nut", "tests/bar.test.nut")
    sel = parse_selector("foo\\.test:Case")
    assert sel.matches_file("tests/foo.test.nut") and not sel.matches_file("tests/foobar.test.nut")
    assert [f.name for f in discover_test_files(tmp_path, selector="foo")] == ["tests/foo.test.nut", "tests/foobar.test.nut"]
    assert [f.name for f in TestConfig.load(tmp_path).discover("^tests/bar")] == ["tests/bar.test.nut"]
    assert TestSelector().is_empty and not sel.is_empty


def test_selector_code_check_like_impt():
    code = "class MyCase extends ImpTestCase {\n  function testThing() {}\n}\n"
    assert parse_selector(":MyCase::testThing").code_has_selection(code)
    assert parse_selector(":MyCase").code_has_selection(code)
    assert not parse_selector(":Other").code_has_selection(code)
    assert not parse_selector("::testOther").code_has_selection(code)
    assert parse_selector("file").code_has_selection("")
    # impt's "class[ \s]*" is a JS string, i.e. the regex class[ s]*: a tab does not match.
    assert not parse_selector(":MyCase").code_has_selection("class\tMyCase {}")
