"""The documentation cannot drift from the code: every Config field is documented with its
default, every relative link resolves, every test the docs cite exists, and the complete
scenario example in docs/scenarios.md parses and runs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from impapi import Config
from impapi.scenario import EVENTS, loads_toml, template
from impapi.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
IMP_MODEL = DOCS / "imp-model"
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def prose(path: Path) -> str:
    """The file without code blocks and inline code, where a bracket is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))


def test_every_config_field_is_documented_in_the_imp_model():
    text = "\n".join(p.read_text(encoding="utf-8") for p in IMP_MODEL.glob("*.md"))
    missing = [f.name for f in dataclasses.fields(Config) if f"`{f.name}`" not in text]
    assert not missing, f"Config fields not documented in docs/imp-model: {missing}"


def _documented_default(cell: str):
    word = cell.strip().split()[0].replace(",", "")
    if word.startswith('"'):
        return word.strip('"')
    return {"None": None, "True": True, "False": False}.get(word) if word in ("None", "True", "False") \
        else float(word) if "." in word else int(word)


def test_the_config_table_shows_each_default():
    rows = {}
    for line in (IMP_MODEL / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `(\w+)` \| ([^|]+) \|", line)
        if m:
            rows[m.group(1)] = _documented_default(m.group(2))
    defaults = {f.name: getattr(Config(), f.name) for f in dataclasses.fields(Config)}
    assert set(rows) == set(defaults), "docs/imp-model/README.md: one table row per Config field"
    wrong = {name: (rows[name], value) for name, value in defaults.items() if rows[name] != value}
    assert not wrong, f"documented default differs from Config (documented, actual): {wrong}"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    broken = []
    for target in LINK.findall(prose(path)):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or an anchor in the same page
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        if not resolved.exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links to missing files: {broken}"


def test_every_cited_test_exists():
    missing = []
    for path in markdown_files():
        for file, name in TEST_REF.findall(path.read_text(encoding="utf-8")):
            source = ROOT / file
            if not source.is_file() or not re.search(rf"^\s*def {name}\(", source.read_text(encoding="utf-8"),
                                                     re.MULTILINE):
                missing.append(f"{path.relative_to(ROOT)}: {file}::{name}")
    assert not missing, "docs cite tests that do not exist:\n" + "\n".join(missing)


def complete_example() -> str:
    text = (DOCS / "scenarios.md").read_text(encoding="utf-8")
    after = text.split("<!-- complete-example", 1)[1]
    return re.search(r"```toml\n(.*?)```", after, re.DOTALL).group(1)


def test_the_complete_scenario_example_is_the_template_impsim_prints():
    # impsim run --scenario-template prints impapi/templates/scenario.toml: one file, shown here.
    assert complete_example() == template()


def test_the_complete_scenario_example_parses_with_every_event_type_and_field():
    scn = loads_toml(complete_example(), base_dir=ROOT, name="docs/scenarios.md")
    assert {e.kind for e in scn.events} == set(EVENTS)
    assert None not in (scn.duration_us, scn.device, scn.agent, scn.imp, scn.seed, scn.tie_seed, scn.wiring)
    assert Path(scn.device).is_relative_to(ROOT / "examples")  # relative to the file's directory


def test_the_complete_scenario_example_runs_for_its_duration():
    scn = loads_toml(complete_example(), base_dir=ROOT, name="docs/scenarios.md")
    sim = simulate(scn)
    assert sim.fatal_error is None and not sim.crash_loop
    assert sim.clock.now_us == scn.duration_us
    notes = sim.log.messages(type="impsim")
    assert len([n for n in notes if not n.startswith("Scenario: HTTP POST /status?verbose=1 answered")]) \
        == len(scn.events)
    # What the page says the example shows.
    assert "Scenario: HTTP POST /status?verbose=1 answered 200: reading 56 = 749" in notes
    applied = {e.data["path"] for e in sim.events.of("update", stage="applied")}
    assert {"polite", "force", "group-move"} <= applied
