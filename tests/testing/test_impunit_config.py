"""Reading .impt.test and .imptest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impapi.testing.config import (
    DEFAULT_TEST_FILES,
    ConfigError,
    TestConfig,
    strip_json_comments,
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return root


def test_defaults_without_a_file(tmp_path):
    c = TestConfig.load(tmp_path)
    assert c.home == tmp_path and c.source is None
    assert (c.timeout, c.stop_on_fail, c.allow_disconnect, c.builder_cache) == (30.0, False, False, False)
    assert c.test_files == DEFAULT_TEST_FILES == ("*.test.nut", "tests/**/*.test.nut")
    assert c.device_file is None and c.agent_file is None
    with pytest.raises(ConfigError, match=r"no \.impt\.test \(or \.imptest\)"):
        TestConfig.load(tmp_path, required=True)
    with pytest.raises(ConfigError, match="does not exist"):
        TestConfig.load(tmp_path / "nope")


def test_impt_test_all_fields(tmp_path):
    data = {
        "deviceGroupId": "dg-1", "deviceGroupName": "My DG",
        "deviceFile": "src/device.nut", "agentFile": "src/agent.nut",
        "timeout": 10, "stopOnFail": True, "allowDisconnect": True, "builderCache": True,
        "testFiles": ["tests/*.test.nut"], "githubConfig": ".impt.github", "builderConfig": ".impt.builder",
    }
    write(tmp_path, {".impt.test": json.dumps(data)})
    c = TestConfig.load(tmp_path)
    assert c.source == tmp_path / ".impt.test"
    assert (c.device_group_id, c.device_group_name) == ("dg-1", "My DG")
    assert (c.device_file, c.agent_file) == ("src/device.nut", "src/agent.nut")
    assert (c.timeout, c.stop_on_fail, c.allow_disconnect, c.builder_cache) == (10.0, True, True, True)
    assert c.test_files == ("tests/*.test.nut",)
    assert (c.github_config, c.builder_config) == (".impt.github", ".impt.builder")
    assert c.warnings == ()


def test_load_accepts_the_file_itself(tmp_path):
    write(tmp_path, {"cfg/.impt.test": '{"timeout": 5}'})
    c = TestConfig.load(tmp_path / "cfg/.impt.test")
    assert c.home == tmp_path / "cfg" and c.timeout == 5


def test_prefers_impt_test(tmp_path):
    write(tmp_path, {".impt.test": '{"timeout": 1}', ".imptest": '{"timeout": 2}'})
    assert TestConfig.load(tmp_path).timeout == 1


def test_legacy_imptest_with_comments(tmp_path):
    write(tmp_path, {
        ".imptest": """/* AES-style header
   comment */
{
    "apiKey": "k", // cloud only
    "modelId": "m", "devices": ["d1"],
    "deviceFile": false,
    "agentFile": "agent.nut", // the agent
    "tests": "*.test.nut",
    "stopOnFailure": true,
    "allowDisconnect": false,
    "builderCache": false,
    "timeout": 20 /* seconds */
}
""",
        ".imptest-builder": '{"SSID": "net"}',
    })
    c = TestConfig.load(tmp_path)
    assert c.source == tmp_path / ".imptest"
    assert c.device_file is None and c.agent_file == "agent.nut"
    assert c.test_files == ("*.test.nut",)
    assert c.stop_on_fail is True and c.timeout == 20
    assert c.warnings == ()
    assert c.builder_config == ".imptest-builder"
    assert c.builder_variables() == {"SSID": "net"}


def test_comment_markers_inside_strings_survive():
    text = '{"url": "http://x/*y*/", "q": "a\\"//b", /* c */ "n": 1} // end'
    assert json.loads(strip_json_comments(text)) == {"url": "http://x/*y*/", "q": 'a"//b', "n": 1}


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=12) | st.integers(), max_size=5))
def test_strip_comments_keeps_plain_json(data):
    text = json.dumps(data)
    assert json.loads(strip_json_comments(text + " // trailing\n/* block */")) == data


def test_strip_comments_keeps_positions():
    text = '{\n  /* x\n y */ "a": 1,\n  // z\n  "b": }'
    stripped = strip_json_comments(text)
    assert stripped.count("\n") == text.count("\n") and len(stripped) == len(text)
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(stripped)
    assert (info.value.lineno, info.value.colno) == (5, 8)


def test_json_errors_name_the_file_and_position(tmp_path):
    write(tmp_path, {".impt.test": '{\n  "timeout": 10, // no comments here\n}'})
    with pytest.raises(ConfigError) as info:
        TestConfig.load(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / '.impt.test'}:2:")
    assert "comments are not allowed" in str(info.value)
    write(tmp_path, {".impt.test": "[1]"})
    with pytest.raises(ConfigError, match="must hold a JSON object"):
        TestConfig.load(tmp_path)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("timeout", -1, '"timeout" must be a positive number of seconds (at most 1e+09), got -1'),
        ("timeout", 1e308, "(at most 1e+09), got 1e+308"),
        ("testFiles", ["tests/[z-a]*.nut"], "'tests/[z-a]*.nut' is not a valid glob (bad character range z-a"),
        ("timeout", "soon", 'got "soon"'),
        ("timeout", True, "got true"),
        ("stopOnFail", "yes", '"stopOnFail" must be true or false, got "yes"'),
        ("allowDisconnect", 1, '"allowDisconnect" must be true or false'),
        ("builderCache", None, '"builderCache" must be true or false, got null'),
        ("testFiles", [], '"testFiles" must be a glob or a non-empty list'),
        ("testFiles", ["a", 3], '"testFiles" must be a glob'),
        ("deviceFile", 3, '"deviceFile" must be a file path or false'),
        ("githubConfig", {}, '"githubConfig" must be a string'),
        ("builderConfig", 5, '"builderConfig" must be the path of a JSON file'),
    ],
)
def test_validation_names_file_and_field(tmp_path, field, value, message):
    write(tmp_path, {".impt.test": json.dumps({field: value})})
    with pytest.raises(ConfigError) as info:
        TestConfig.load(tmp_path)
    assert str(info.value).startswith(str(tmp_path / ".impt.test"))
    assert message in str(info.value)


def test_timeout_string_and_float(tmp_path):
    write(tmp_path, {".impt.test": '{"timeout": "2.5"}'})
    assert TestConfig.load(tmp_path).timeout == 2.5


def test_unknown_fields_warn_with_suggestion(tmp_path):
    write(tmp_path, {".impt.test": '{"stopOnFailure": true, "zzz": 1}'})
    c = TestConfig.load(tmp_path)
    assert c.stop_on_fail is False
    assert any('unknown field "stopOnFailure" ignored (did you mean "stopOnFail"?)' in w for w in c.warnings)
    assert any('unknown field "zzz" ignored' in w and "did you mean" not in w for w in c.warnings)


def test_legacy_fields_are_not_impt_fields(tmp_path):
    write(tmp_path, {".imptest": '{"testFiles": ["x"], "apiKey": "k"}'})
    c = TestConfig.load(tmp_path)
    assert c.test_files == DEFAULT_TEST_FILES
    assert len(c.warnings) == 1 and '"testFiles"' in c.warnings[0] and '"tests"' in c.warnings[0]


def test_overrides(tmp_path):
    write(tmp_path, {".impt.test": '{"timeout": 10, "deviceFile": "d.nut", "stopOnFail": true}'})
    c = TestConfig.load(tmp_path)
    o = c.with_overrides(timeout=3, stop_on_fail=None, device_file=False, test_files="only.test.nut")
    assert (o.timeout, o.stop_on_fail, o.device_file, o.test_files) == (3.0, True, None, ("only.test.nut",))
    assert c.timeout == 10  # unchanged
    with pytest.raises(ConfigError, match='command line: "timeout" must be a positive number'):
        c.with_overrides(timeout=0)
    with pytest.raises(ConfigError, match="unknown test setting 'stop_on_failure'"):
        c.with_overrides(stop_on_failure=True)


def test_source_files(tmp_path):
    write(tmp_path, {".impt.test": '{"deviceFile": "src/d.nut", "agentFile": "src/a.nut"}', "src/d.nut": ""})
    c = TestConfig.load(tmp_path)
    assert c.device_source() == tmp_path / "src/d.nut"
    with pytest.raises(ConfigError, match='"agentFile" file src/a.nut does not exist'):
        c.agent_source()
    assert TestConfig(home=tmp_path).device_source() is None


def test_builder_variables(tmp_path):
    write(tmp_path, {".impt.test": '{"builderConfig": "conf/vars.json"}', "conf/vars.json": '{"A": 1, "B": "x"}'})
    assert TestConfig.load(tmp_path).builder_variables() == {"A": 1, "B": "x"}
    assert TestConfig(home=tmp_path, builder_config={"C": 2}).builder_variables() == {"C": 2}
    assert TestConfig(home=tmp_path).builder_variables() == {}
    write(tmp_path, {".impt.test": '{"builderConfig": "missing.json"}'})
    with pytest.raises(ConfigError, match='"builderConfig" file missing.json does not exist'):
        TestConfig.load(tmp_path).builder_variables()
    write(tmp_path, {".impt.test": '{"builderConfig": "conf/bad.json"}', "conf/bad.json": "[]"})
    with pytest.raises(ConfigError, match="bad.json: must hold a JSON object"):
        TestConfig.load(tmp_path).builder_variables()


def test_not_collected_by_pytest():
    assert TestConfig.__test__ is False
