"""Fleets: one app on many simulated imps, under one release plan, on Dask distributed.

:class:`Fleet` builds the devices from a fleet file (:mod:`.config`), derives each one's seed
and scenario from the fleet seed (:mod:`.devices`), runs them in shards (:mod:`.shard`) on a
cluster (:mod:`.engine`) and merges the shards into a :class:`FleetResult` (:mod:`.result`),
drawn by :mod:`.chart` and written by :mod:`.report`. ``impsim fleet`` is :mod:`.cli`.

Dask is an extra (``pip install 'impsim[fleet]'``): this package imports without it, and
running a fleet without it says how to install it.
"""

from .config import FleetConfig, FleetFileError, load_fleet, loads_fleet
from .devices import DeviceSpec, Plan, device_seed
from .engine import FleetError, dask_problem
from .fleet import Fleet
from .observe import DeviceOutcome
from .result import FleetResult, Outlier

__all__ = ["DeviceOutcome", "DeviceSpec", "Fleet", "FleetConfig", "FleetError", "FleetFileError", "FleetResult",
           "Outlier", "Plan", "dask_problem", "device_seed", "load_fleet", "loads_fleet"]
