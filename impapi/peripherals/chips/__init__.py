"""Models of real chips, by the name a wiring file uses (``model = "hts221"``).

Each implements its datasheet's register map far enough for a driver written against the
datasheet to read plausible values; docs/wiring.md lists the register facts each one uses and
what it leaves out."""

from __future__ import annotations

from typing import Any, Callable

from .hts221 import HTS221
from .lis3dh import LIS3DH

# name -> (class, the buses it speaks, its default 8-bit I2C address)
CHIPS: dict[str, tuple[Callable[..., Any], tuple[str, ...], int | None]] = {
    "hts221": (HTS221, ("i2c", "spi"), HTS221.I2C_ADDRESS),
    "lis3dh": (LIS3DH, ("i2c", "spi"), LIS3DH.I2C_ADDRESS),
}

__all__ = ["CHIPS", "HTS221", "LIS3DH"]
