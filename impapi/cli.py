"""``impsim``: run imp apps in virtual time (``run``), test them (``test``), fuzz them
(``fuzz``) and roll releases out to simulated fleets (``fleet``).

Exit codes: 0 a clean run; 1 the app crash-looped; 2 bad usage or files (the message names the
file, the line and what to do)."""

from __future__ import annotations

import argparse
import errno
import os
import platform
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import squirrel

from . import __version__
from .builder import BuildError
from .builder.load import add_load_arguments, load_options_from_args
from .cliargs import EXIT_FAILED as EXIT_APP_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .cliargs import add_instruction_time, apply_instruction_time, duration as _duration
from .config import Config
from .durations import format_duration
from .fleet.cli import add_fleet_parser, cmd_fleet
from .inputs import check_output as check_writable
from .log import Log, LogEntry
from .profiles import PROFILES, parse_impos
from .scenario import Scenario, load_toml, parse_at, template
from .simulation import DEFAULT_IMP, Simulation, compile_problem, load_code
from .terminal import COLOR_CHOICES, StatusLine, bar, is_terminal, paint, use_color
from .testing.cli_test import add_test_parser, cmd_test
from .testing.fuzz_cli import add_fuzz_parser, cmd_fuzz
from .timeline import TimelineError, check_output, write_timeline

EVENT_HELP = """Events for --at TIME:EVENT[=ARG] (TIME from the start: 90s, 30m, 3h, 2d):
  impos=VERSION              a new impOS release, e.g. 43.1
  deploy=DEVICE.nut[,AGENT.nut]        "build and run" (polite); no file redeploys the same code
  force-deploy=DEVICE.nut[,AGENT.nut]  "build and force restart" (skips the shutdown handler)
  power-cycle | power-off | power-on
  offline=DURATION           the network is down for DURATION
  move-group=NAME            move the device to another device group (a forced deployment)
  message=NAME[:JSON]        the agent sends the device a message
  http=METHOD PATH[ BODY]    an HTTP request to the agent
  pin=PIN:1 | PIN:0 | PIN:float        an input driven high, low, or released (from outside)
  pin=PIN:pulse:DURATION     a button press: high for DURATION (PIN:0:DURATION: a low pulse)
  analog=PIN:VALUE           the voltage on an analog input, a fraction of the supply (0-1)
  advance                    a marker in the log
The same events go in a scenario file (--scenario FILE.toml), one [[event]] table each:

[[event]]
at = "30m"
type = "impos"
version = "43.1"

`impsim run --scenario-template` prints a complete scenario file with every event and field."""

def _impos(text: str) -> str:
    try:
        parse_impos(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="impsim",
        description="Run Electric Imp Squirrel apps on the real Squirrel 3 VM, in virtual time.",
    )
    p.add_argument("--version", action="version",
                   version=f"impsim {__version__} (Squirrel {squirrel.SQUIRREL_VERSION}, "
                           f"Python {platform.python_version()})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run", help="run a device app (and its agent) and print the log",
        description="Run a device app and its agent in virtual time and print the log the way "
                    "impCentral shows it. Days of deep-sleep cycles take seconds.",
    )
    run.add_argument("device", metavar="DEVICE.nut", nargs="?", help="the device code (or from --scenario)")
    run.add_argument("--agent", metavar="AGENT.nut", help="the agent code")
    run.add_argument("--for", dest="duration", metavar="DURATION", type=_duration, default=None,
                     help="virtual time to simulate: 90s, 15m, 3h, 2d, 1h30m (default: the scenario's, else 1h)")
    run.add_argument("--at", dest="events", metavar="TIME:EVENT[=ARG]", action="append", default=[],
                     help="something the cloud or the world does, e.g. 30m:impos=43.1, 3h:deploy=v2.device.nut, "
                          "5h:power-cycle, 8h:offline=45m, 12h:move-group=production (repeatable; "
                          "--at help lists every event)")
    run.add_argument("--scenario", metavar="FILE.toml", help="a scenario file (its events, code, duration, imp, seed); "
                     "flags given here win")
    run.add_argument("--scenario-template", action="store_true",
                     help="print a complete scenario file, every event and field explained, and exit "
                          "(impsim run --scenario-template > run.toml)")
    run.add_argument("--wiring", metavar="FILE.toml",
                     help="what is attached to the device's pins and buses: sensor models, UART peers, inputs "
                          "(see docs/wiring.md)")
    run.add_argument("--timeline", metavar="FILE", help="draw the run: FILE.svg, FILE.html or FILE.png")
    run.add_argument("--until-idle", action="store_true",
                     help="stop as soon as nothing is scheduled (overrides --for)")
    run.add_argument("--imp", default=None, choices=sorted(PROFILES),
                     help=f"the imp module to simulate (default {DEFAULT_IMP})")
    run.add_argument("--impos", metavar="VERSION", type=_impos, help="the impOS release the device runs, e.g. 43.1")
    run.add_argument("--flash", metavar="FILE",
                     help="SPI flash image: loaded if it exists, saved at the end (keeps flash across runs)")
    run.add_argument("--update-deadline", metavar="DURATION", type=_duration, default=None,
                     help="the impCloud forces an update a shutdown handler has delayed this long "
                          "(default: never; Config.update_deadline_us)")
    add_instruction_time(run)
    run.add_argument("--seed", type=int, default=None, help="seed for math.rand() and the device ID (default 0)")
    run.add_argument("--tie-seed", type=int, default=None,
                     help="order events due at the same instant as `impsim fuzz` did with this seed "
                          "(default: first in, first out)")
    out = run.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per log entry")
    out.add_argument("--quiet", action="store_true", help="print no log, only the outcome")
    run.add_argument("--color", choices=COLOR_CHOICES, default="auto",
                     help="colour the log (default auto: on a terminal, unless NO_COLOR is set)")
    add_load_arguments(run)
    add_test_parser(sub)
    add_fuzz_parser(sub)
    add_fleet_parser(sub)
    return p


def _config(args: argparse.Namespace) -> Config:
    config = Config(update_deadline_us=args.update_deadline)
    apply_instruction_time(config, args)
    return config


def _scenario(args: argparse.Namespace) -> Scenario:
    """The scenario file (if any) with the --at events added and the flags applied over it."""
    scn = load_toml(args.scenario) if args.scenario else Scenario()
    scn = scn.with_events(*(parse_at(text) for text in args.events))
    return replace(scn, device=args.device or scn.device, agent=args.agent or scn.agent,
                   imp=args.imp or scn.imp or DEFAULT_IMP,
                   seed=args.seed if args.seed is not None else (scn.seed or 0),
                   tie_seed=args.tie_seed if args.tie_seed is not None else scn.tie_seed,
                   wiring=args.wiring or scn.wiring,
                   duration_us=args.duration if args.duration is not None else (scn.duration_us or _duration("1h")))


class ReaderGone(squirrel.Uncatchable):
    """Whoever read impsim's output stopped reading (a closed pipe)."""


# The colours of a log line's label, by source (error lines are red throughout).
_SOURCE_COLORS = {"device": "cyan", "agent": "magenta", "status": "yellow", "sim": "blue"}


def _in_color(log: Log, entry: LogEntry) -> str:
    """``log.format(entry)`` in colour."""
    text = paint("red", entry.text) if entry.is_error else entry.text
    return f"{paint('grey', log.timestamp(entry.time_us))} {paint(_SOURCE_COLORS.get(entry.source, 'grey'), entry.label)} {text}"


def _check_outputs(args: argparse.Namespace, scn: Scenario) -> None:
    """Refuse, before anything runs, what would only fail (or print nothing) at the end."""
    if args.timeline:
        check_output(args.timeline)
        check_writable(args.timeline, "timeline")
    if not args.until_idle and scn.duration_us <= 0:
        raise ValueError("a run of 0s simulates nothing: give a duration above 0 (--for 90s, --for 2d) "
                         "or --until-idle")


class OutputFailed(squirrel.Uncatchable):
    """impsim's output could not be written (a full disk, /dev/full): not the app's error."""


def cmd_run(args: argparse.Namespace) -> int:
    if args.scenario_template:
        sys.stdout.write(template())
        return EXIT_OK
    if any(text.strip() == "help" for text in args.events):
        print(EVENT_HELP)
        return EXIT_OK
    try:
        scn = _scenario(args)
        _check_outputs(args, scn)
    except (ValueError, TimelineError) as e:
        print(f"impsim: {e}", file=sys.stderr)
        return EXIT_USAGE
    if scn.device is None and scn.agent is None:
        print("impsim: no code to run: give DEVICE.nut (or a --scenario that names it)", file=sys.stderr)
        return EXIT_USAGE
    try:
        load = load_options_from_args(args)
        codes = {path: load_code(path, load) for path in dict.fromkeys(filter(None, [scn.device, scn.agent,
                                                                                     *scn.code_files()]))}
    except (ValueError, BuildError) as e:
        print(f"impsim: {e}", file=sys.stderr)
        return EXIT_USAGE
    for code in codes.values():
        problem = compile_problem(code)
        if problem:
            print(f"impsim: {problem}", file=sys.stderr)
            return EXIT_USAGE
        for warning in code.warnings:
            print(f"impsim: warning: {warning}", file=sys.stderr)
    out = sys.stdout
    color = use_color(args.color, out)
    status = StatusLine(sys.stderr)
    shares_terminal = status.enabled and is_terminal(out)

    def show(entry: LogEntry) -> None:
        if shares_terminal:
            status.clear()
        try:
            if args.json:
                out.write(sim.log.to_json_line(entry) + "\n")
            else:
                out.write((_in_color(sim.log, entry) if color else sim.log.format(entry)) + "\n")
        except BrokenPipeError:
            raise ReaderGone from None  # not an error of the app's: its try/catch must not see it
        except OSError as e:
            raise OutputFailed(e.strerror or str(e)) from None

    total_us = None if args.until_idle else scn.duration_us

    def progress(now_us: int) -> None:
        if total_us:
            status.show(f"impsim: {bar(now_us / total_us)} {format_duration(now_us)} of "
                        f"{format_duration(total_us)} simulated")
        else:
            status.show(f"impsim: {format_duration(now_us)} simulated")

    try:
        sim = Simulation.from_scenario(scn, device=codes.get(scn.device), agent=codes.get(scn.agent),
                                       flash=args.flash, impos=args.impos, log_sink=None if args.quiet else show,
                                       keep_history=bool(args.timeline), load=load,
                                       internet=scn.routes(),
                                       config=_config(args))
        interrupted = []

        def on_sigint(signum: int, frame: object) -> None:
            # Stop after the running event rather than raise wherever Python happens to be
            # (inside a callback or a __del__, a KeyboardInterrupt can be lost or half-handled).
            interrupted.append(signum)
            sim.fatal("interrupted")

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            sim.play(scn, until_idle=args.until_idle, progress=progress if status.enabled else None)
        finally:
            signal.signal(signal.SIGINT, previous)
            status.close()
        if interrupted:  # the run saved the flash image as it stopped
            out.flush()
            print(f"impsim: interrupted at {format_duration(sim.clock.now_us)} of virtual time", file=sys.stderr)
            return EXIT_INTERRUPTED
        if args.timeline:
            write_timeline(args.timeline, sim)
    except (ValueError, OSError) as e:
        print(f"impsim: {e}", file=sys.stderr)
        return EXIT_USAGE
    out.flush()
    if sim.fatal_error:
        print(f"impsim: {sim.fatal_error}", file=sys.stderr)
        return EXIT_USAGE
    elapsed = format_duration(sim.clock.now_us)
    if sim.crash_loop:
        print(f"impsim: the device crash-looped ({len(sim.device.crashes.loop)} restarts in a row after "
              f"runtime errors); see the ERROR lines above", file=sys.stderr)
        return EXIT_APP_FAILED
    if args.quiet:
        dev = sim.device
        print(f"impsim: simulated {elapsed}; {dev.boots if dev else 0} device boots, {len(sim.log)} log entries")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"run": cmd_run, "test": cmd_test, "fuzz": cmd_fuzz, "fleet": cmd_fleet}
    try:
        status = commands[args.command](args)
        sys.stdout.flush()
        return status
    except (BrokenPipeError, ReaderGone):
        # The reader went away (`impsim run ... | head`): stop quietly, with the status a
        # shell gives a program that SIGPIPE ended. stdout goes to /dev/null so that the
        # interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OutputFailed as e:
        return _output_failed(str(e))
    except OSError as e:
        if e.filename is None and e.errno in _OUTPUT_ERRNOS:  # writing impsim's own output
            return _output_failed(e.strerror or str(e))
        raise


# What a write to a full or failing output gives (a write names no file: a file error does).
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def _output_failed(reason: str) -> int:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the final flush must not fail again
    print(f"impsim: cannot write the output: {reason}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
