"""impapi: the Electric Imp API, devices, agents and impCloud, simulated in virtual time."""

from .simulation import Config, Simulation

__all__ = ["Config", "Simulation"]
