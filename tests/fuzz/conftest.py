"""Shared pieces of the fuzzing tests: the example apps and what each declares must persist."""

import os
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POLITE = (str(EXAMPLES / "polite-logger/logger.device.nut"), str(EXAMPLES / "polite-logger/logger.agent.nut"))
IMPOLITE = (str(EXAMPLES / "impolite-logger/logger.device.nut"), str(EXAMPLES / "impolite-logger/logger.agent.nut"))

sys.path.insert(0, os.path.dirname(__file__))  # loggers.py: declarations shared with the CLI tests


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long fuzzing run (still part of the default suite)")


@pytest.fixture
def polite_app():
    return POLITE


@pytest.fixture
def impolite_app():
    return IMPOLITE
