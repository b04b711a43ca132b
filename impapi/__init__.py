"""impapi: the Electric Imp API, devices, agents and impCloud, simulated in virtual time."""

from squirrel import __version__  # one version for the distribution: its metadata

from .config import Config
from .simulation import Simulation

__all__ = ["Config", "Simulation", "__version__"]
