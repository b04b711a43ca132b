"""What the impsim commands share on their command line: exit statuses and the argparse types
that refuse a bad value with one line."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from .durations import parse_duration

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # what a shell reports for a program Ctrl-C ended


def duration(text: str) -> int:
    """A duration such as ``90s``, ``1h30m`` or ``2d``, in microseconds."""
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def whole(minimum: int) -> Callable[[str], int]:
    """A whole number of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n

    return parse


def add_instruction_time(parser: argparse.ArgumentParser) -> None:
    """``--instruction-ns NS``: the virtual time one Squirrel instruction takes (Config.instruction_ns)."""
    def nanoseconds(text: str) -> float:
        try:
            ns = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of nanoseconds: {text!r}") from None
        if not ns >= 0 or ns == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number of nanoseconds >= 0, got {text}")
        return ns

    parser.add_argument("--instruction-ns", metavar="NS", type=nanoseconds, default=None,
                        help="virtual time one Squirrel instruction takes, in nanoseconds, on the device and the "
                             "agent (0: code takes no time; default: each module's figure, Config.instruction_ns)")


def apply_instruction_time(config: Any, args: argparse.Namespace) -> None:
    """``--instruction-ns``, when given, sets the time of an instruction on both sides of ``config``."""
    if args.instruction_ns is not None:
        config.instruction_ns = config.agent_instruction_ns = args.instruction_ns
