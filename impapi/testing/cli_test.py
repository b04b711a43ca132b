"""The ``impsim test`` command: argument parsing and the entry point.

Hooked into ``impapi.cli`` with ``add_test_parser(sub)`` (``sub`` being the sub-command parsers)
and ``if args.command == "test": return cmd_test(args)``.
"""

from __future__ import annotations

import argparse
import sys

from ..cliargs import add_instruction_time, apply_instruction_time
from ..inputs import InputError, check_output
from ..profiles import PROFILES
from ..terminal import COLOR_CHOICES, StatusLine, use_color
from ..simulation import Config
from .runner import run_tests

__all__ = ["add_test_parser", "cmd_test"]


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"the timeout must be a positive number of seconds, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < 86_400:
        raise argparse.ArgumentTypeError(f"the delay must be between 0 and 86400 seconds, got {text}")
    return value


def add_test_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``test`` sub-command to ``subparsers`` and return its parser."""
    p = subparsers.add_parser(
        "test",
        help="run impUnit tests (*.test.nut) like `impt test run`, in virtual time",
        description="Run the impUnit test files of a test home (the directory holding .impt.test or "
                    ".imptest) the way `impt test run` runs them on hardware: one fresh simulated "
                    "device and agent per test file, in virtual time, with impt's output. "
                    "Exit code 0 when every test passed, 1 otherwise. Times in the output are "
                    "virtual seconds.",
    )
    p.add_argument("--tests", metavar="[FILE][:CLASS][::METHOD]",
                   help="select tests: FILE is a regular expression searched in the test file paths, "
                        "CLASS and METHOD are exact names")
    p.add_argument("-c", "--config", metavar="PATH", default=".",
                   help="the test home or its configuration file (default: the current directory)")
    p.add_argument("-x", "--device-file", metavar="FILE", help="device source file (overrides deviceFile)")
    p.add_argument("-y", "--agent-file", metavar="FILE", help="agent source file (overrides agentFile)")
    p.add_argument("-t", "--timeout", metavar="SECONDS", type=_positive_float,
                   help="timeout of each test method (overrides timeout; default 30)")
    p.add_argument("-s", "--stop-on-fail", action="store_true", default=None,
                   help="stop at the first failure (overrides stopOnFail)")
    p.add_argument("-a", "--allow-disconnect", action="store_true", default=None,
                   help="a device disconnect does not end the session (overrides allowDisconnect)")
    p.add_argument("-f", "--test-file", metavar="GLOB", action="append",
                   help="test file glob, repeatable (overrides testFiles)")
    p.add_argument("-j", "--builder-config", metavar="FILE",
                   help="JSON file of Builder variables (overrides builderConfig)")
    p.add_argument("--wiring", metavar="FILE.toml",
                   help="models on the device's pins and buses, see docs/wiring.md (overrides wiring)")
    p.add_argument("-e", "--clear-cache", action="store_true",
                   help="remove the test home's .builder-cache (remote @includes kept when builderCache is true) first")
    p.add_argument("--lib-dir", metavar="DIR", action="append", default=[],
                   help="directory of libraries for #require, repeatable (also IMPSIM_LIB_PATH)")
    p.add_argument("--github-dir", metavar="DIR",
                   help="directory of git checkouts DIR/owner/repo for @include \"github:...\" "
                        "(also IMPSIM_GITHUB_DIR)")
    p.add_argument("--allow-commands", action="store_true",
                   help="let runCommand() in tests run host shell commands (off by default)")
    p.add_argument("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    p.add_argument("--output", choices=("debug",),
                   help="debug: print every log line and write the preprocessed code to .build/")
    p.add_argument("--imp", default="imp003", choices=sorted(PROFILES), help="the imp module to simulate (default imp003)")
    p.add_argument("--seed", type=int, default=0, help="seed for session names and math.rand() (default 0)")
    add_instruction_time(p)
    p.add_argument("--device-start-delay", metavar="SECONDS", type=_non_negative_float,
                   help="virtual time from the agent's restart to the device running the session's code, "
                        "which it downloads first (default 1)")
    p.add_argument("--color", choices=COLOR_CHOICES, default="auto",
                   help="colour the output (default: when writing to a terminal)")
    return p


def cmd_test(args: argparse.Namespace) -> int:
    if args.junit_xml:
        try:  # before the tests run: a report that cannot be written should not cost a run
            check_output(args.junit_xml, "JUnit XML report", parents=True)
        except ValueError as e:
            print(f"impsim: {e}", file=sys.stderr)
            return 2
    overrides = {
        "device_file": args.device_file,
        "agent_file": args.agent_file,
        "timeout": args.timeout,
        "stop_on_fail": args.stop_on_fail,
        "allow_disconnect": args.allow_disconnect,
        "test_files": args.test_file,
        "builder_config": args.builder_config,
        "wiring": args.wiring,
    }
    out = sys.stdout
    color = use_color(args.color, out)
    sim_config = None
    if args.device_start_delay is not None or args.instruction_ns is not None:
        sim_config = Config()
        if args.device_start_delay is not None:
            sim_config.device_start_delay_us = round(args.device_start_delay * 1_000_000)
        apply_instruction_time(sim_config, args)
    status = StatusLine(sys.stderr)  # progress, on a terminal only
    try:
        result = run_tests(
            args.config,
            tests=args.tests,
            overrides={k: v for k, v in overrides.items() if v is not None},
            lib_dirs=args.lib_dir,
            github_dir=args.github_dir,
            allow_commands=args.allow_commands,
            junit_xml=args.junit_xml,
            out=out,
            color=color,
            debug=args.output == "debug",
            seed=args.seed,
            imp=args.imp,
            sim_config=sim_config,
            clear_cache=args.clear_cache,
            status=status,
        )
    except InputError as e:  # the report could not be written (the results were printed)
        print(f"impsim: {e}", file=sys.stderr)
        return 2
    finally:
        status.close()
    return result.exit_code
