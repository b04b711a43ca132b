"""Fleets on a real Dask LocalCluster (two single-threaded worker processes, shared by the
module's tests), with small fleets and short runs."""

import logging
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
APPS_DIR = Path(__file__).resolve().parent / "apps"


def app(name: str) -> tuple[str, str]:
    base = {"sleepy": "sleepy-sensor/sensor", "polite": "polite-logger/logger",
            "impolite": "impolite-logger/logger"}[name]
    return str(EXAMPLES / f"{base}.device.nut"), str(EXAMPLES / f"{base}.agent.nut")


# Per module, not per session: a cluster torn down at the very end of a whole run once found its
# event loop already closed; closing each module's cluster after its tests leaves nothing late.
@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import dask

    from impapi.fleet.engine import NO_PROFILER

    with dask.config.set(NO_PROFILER), distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    from distributed import Client

    with Client(cluster) as c:
        yield c
