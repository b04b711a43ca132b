"""The issue's acceptance run: the polite example passes `impsim fuzz --check all` with 500
examples (both cores; see bench/bench_fuzz.py for the two-day figures)."""

import argparse

import pytest

from impapi.testing.fuzz_cli import add_fuzz_parser, cmd_fuzz

DURATION = "12h"  # 500 two-day examples take 5-10 min on two cores: bench/bench_fuzz.py --full


@pytest.mark.slow
def test_polite_example_passes_500_examples_of_check_all(capsys, polite_app):
    parser = argparse.ArgumentParser(prog="impsim")
    add_fuzz_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fuzz", polite_app[0], "--agent", polite_app[1], "--for", DURATION,
                              "--examples", "500", "--check", "all", "--jobs", "2", "--seed", "0"])
    code = cmd_fuzz(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith(f"impsim fuzz: passed: 500 scenarios of {DURATION}")
    assert "checks held: handler-first, restart-before-sleep, update-applied, no-forced-mid-write, " in out
