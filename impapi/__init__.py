"""impapi: the Electric Imp API, devices, agents and impCloud, simulated in virtual time."""

from .config import Config
from .simulation import Simulation

__all__ = ["Config", "Simulation"]
