"""The issue's acceptance run: the polite example passes `impsim fuzz --for 2d --examples 500
--check all` (one worker per CPU, the default; bench/bench_fuzz.py measures its speed)."""

import argparse

import pytest

from impapi.testing.fuzz_cli import add_fuzz_parser, cmd_fuzz


@pytest.mark.slow
def test_polite_example_passes_500_two_day_examples_of_check_all(capsys, polite_app):
    parser = argparse.ArgumentParser(prog="impsim")
    add_fuzz_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fuzz", polite_app[0], "--agent", polite_app[1], "--for", "2d",
                              "--examples", "500", "--check", "all", "--seed", "0"])
    code = cmd_fuzz(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("impsim fuzz: passed: 500 scenarios of 2d (1000 simulated days)")
    assert "checks held: handler-first, restart-before-sleep, update-applied, no-forced-mid-write, " in out
    assert "coverage: logger.device.nut 41/41 lines (100%)" in out
