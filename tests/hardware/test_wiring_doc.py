"""docs/wiring.md's complete example: its wiring and app, run with its command, print its log."""

import re
from pathlib import Path

from impapi.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "wiring.md"


def blocks() -> tuple[str, str, str]:
    after = DOC.read_text(encoding="utf-8").split("<!-- wiring-example", 1)[1]
    found = re.findall(r"```(\w*)\n(.*?)```", after, re.DOTALL)[:3]
    assert [lang for lang, _ in found] == ["toml", "squirrel", ""]
    return tuple(text for _, text in found)


def test_the_complete_wiring_example_prints_what_the_page_shows(tmp_path, capsys, monkeypatch):
    toml, nut, log = blocks()
    (tmp_path / "board.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "board.device.nut").write_text(nut, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["run", "board.device.nut", "--imp", "imp003", "--wiring", "board.toml", "--for", "10s",
                 "--at", "5s:pin=pinW:pulse:200ms"])
    assert code == 0
    assert capsys.readouterr().out == log
    # Every kind of entry is in it.
    for kind in ("[[i2c]]", "[[i2c.register]]", "[[spi]]", "[[uart]]", "[[pin]]"):
        assert kind in toml
