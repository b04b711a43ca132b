"""Running impUnit-style Squirrel tests locally: test configuration and discovery, sessions built
as impt builds them (with :mod:`impapi.builder`), the pytest plugin and fuzzing."""

# The fuzzing API (hypothesis strategies, checks, the stateful machine), imported on first use so
# that the impUnit runner does not need hypothesis: ``from impapi.testing import scenarios, checks``.
_FUZZ = ("scenarios", "checks", "play", "Run", "PoliteViolation", "PoliteMachine", "machine_for")


def __getattr__(name: str):
    if name in _FUZZ:
        import importlib

        return getattr(importlib.import_module(__name__ + ".fuzz"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
