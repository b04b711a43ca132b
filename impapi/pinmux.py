"""What each imp module has on its pins: the ``hardware.*`` objects by name, and what each pin can do.

The names are those Electric Imp's pin-mux tables and real device code use (``hardware.pin1``,
``hardware.i2c89``, ``hardware.uartQRPW`` ...). Where a name or a capability comes from, and how
sure it is, is written in ``docs/imp-model/hardware.md`` (one line per module there); in short:

- pin lists: the ``hardware.pin`` API page gives imp001 (1 2 5 7 8 9), imp002 (+6, A-E), the pin
  counts of imp003 (23), imp004m (18) and imp005 (28, with XA-XE instead of X); the letters of the
  later modules are inferred from those counts and from Electric Imp's own board code;
- buses: every bus named here is used by Electric Imp's own code (examples, reference, libraries,
  board HAL files) or listed in the ``uart.configure`` baud-rate table; a few more are inferred;
- capabilities: the DAC pins, the wake pins and the imp001 pulse counter are documented; ADC and
  PWM are allowed on every pin (a pin that lacks them on the real module is not known, and an app
  refused here but accepted there would be the worse mistake).

``module_hardware(name)`` gives the table for a module; everything is immutable and shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

# Pin capabilities beyond digital in/out (which every pin has).
ADC, DAC, PWM, WAKE, PULSE = "adc", "dac", "pwm", "wake", "pulse"


@dataclass(frozen=True)
class PinSpec:
    name: str  # "pin1", "pinXA"
    caps: frozenset[str]


@dataclass(frozen=True)
class UartSpec:
    name: str  # "uart1289"
    flow_control: bool  # has CTS/RTS pins (four-letter names)
    min_baud: int
    max_baud: int


@dataclass(frozen=True)
class ModuleHardware:
    """The hardware objects of one module. Object ids (the index in each tuple) are what the
    natives receive: ``pins[3]`` is pin id 3."""

    name: str
    pins: tuple[PinSpec, ...]
    i2c: tuple[str, ...]
    spi: tuple[str, ...]
    uart: tuple[UartSpec, ...]
    pwmpair: tuple[str, ...] = ()  # imp004m's audio PWM pair, usable as a DAC pin
    fixedfrequencydac: bool = False
    sampler: bool = False
    lightlevel: bool = True
    vbat: bool = False
    bluetooth: bool = False
    usb: bool = False
    # SPI clock rates in kHz the module can make (spi.configure rounds down to one of them).
    spi_rates_khz: tuple[float, ...] = ()
    pin_index: dict[str, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pin_index", {p.name: i for i, p in enumerate(self.pins)})

    def pin(self, name: str) -> PinSpec | None:
        i = self.pin_index.get(name)
        return None if i is None else self.pins[i]

    @property
    def wake_pins(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pins if WAKE in p.caps)


def _pins(names: str, special: dict[str, Iterable[str]] | None = None) -> tuple[PinSpec, ...]:
    special = special or {}
    return tuple(PinSpec("pin" + n, frozenset((ADC, PWM, *special.get(n, ())))) for n in names.split())


def _uarts(spec: str, lo: int, hi: int, fast: dict[str, tuple[int, int]] | None = None) -> tuple[UartSpec, ...]:
    fast = fast or {}
    out = []
    for name in spec.split():
        letters = name[4:]
        a, b = fast.get(name, (lo, hi))
        out.append(UartSpec(name, len(letters) >= 4, a, b))
    return tuple(out)


def _rates(top_khz: int, floor_khz: float = 117.0) -> tuple[float, ...]:
    """The top rate and its power-of-two divisions down to the documented 117 kHz floor (the
    imp's SPI clock is a bus clock divided by 2^n; the division is inferred, see hardware.md)."""
    out = []
    r = float(top_khz)
    while r >= floor_khz:
        out.append(r)
        r /= 2
    return tuple(out)


_LETTERS = "A B C D E F G H J K L M N P Q R S T U V W"  # I and O are never used as pin letters

MODULES: dict[str, ModuleHardware] = {
    m.name: m
    for m in (
        ModuleHardware(
            name="imp001",
            pins=_pins("1 2 5 7 8 9", {"1": (DAC, WAKE, PULSE), "5": (DAC,)}),
            i2c=("i2c12", "i2c89"),
            spi=("spi257", "spi189"),
            uart=_uarts("uart1289 uart57 uart12", 916, 3_750_000, {"uart1289": (916, 7_500_000)}),
            fixedfrequencydac=True, sampler=True,
            spi_rates_khz=_rates(15_000),
        ),
        ModuleHardware(
            name="imp002",
            pins=_pins("1 2 5 6 7 8 9 A B C D E", {"1": (DAC, WAKE, PULSE), "5": (DAC,)}),
            i2c=("i2c12", "i2c89"),
            spi=("spi257", "spi189"),
            uart=_uarts("uart1289 uart57 uart12 uart6E", 916, 3_750_000,
                        {"uart1289": (916, 7_500_000), "uart6E": (916, 7_500_000)}),
            fixedfrequencydac=True, sampler=True,
            spi_rates_khz=_rates(15_000),
        ),
        ModuleHardware(
            name="imp003",
            pins=_pins(_LETTERS + " X Y", {"C": (DAC,), "D": (DAC,), "W": (WAKE, PULSE)}),
            i2c=("i2cAB", "i2cFG"),
            spi=("spiEBCA", "spiLGDK"),
            uart=_uarts("uartDM uartFG uartQRPW uartUVGD uartWJ", 550, 4_500_000),
            fixedfrequencydac=True, sampler=True, vbat=True,
            spi_rates_khz=_rates(30_000),
        ),
        ModuleHardware(
            name="imp004m",
            pins=_pins("A B C D E F G H J K L M N P Q R S W", {"W": (WAKE, PULSE)}),
            i2c=("i2cNM", "i2cQP"),
            spi=("spiAHSR", "spiGJKL"),
            uart=_uarts("uartBCAW uartFGJH uartHJ uartQ", 366, 3_000_000,
                        {"uartFGJH": (732, 6_000_000), "uartHJ": (732, 6_000_000)}),
            pwmpair=("pwmpairKD",),
            fixedfrequencydac=True, sampler=True, vbat=True, bluetooth=True,
            spi_rates_khz=_rates(18_000),
        ),
        ModuleHardware(
            name="imp005",
            pins=_pins(_LETTERS + " Y Z XA XB XC XD XE"),
            i2c=("i2c0", "i2cJK"),
            spi=("spi0", "spiBCAD"),
            uart=(UartSpec("uart0", True, 9160, 4_000_000), UartSpec("uart1", True, 35, 2_337_500),
                  UartSpec("uart2", True, 9160, 4_000_000)),
            usb=True,
            spi_rates_khz=_rates(24_000),
        ),
        ModuleHardware(
            name="imp006",
            pins=_pins(_LETTERS + " XA XB XC XD XE XF XG XH XJ XK XL XM XN XP XQ XR XS XT XU"
                       " YA YB YC YD YE YF YG YH YJ YK YL YM", {"V": (WAKE,), "W": (WAKE, PULSE)}),
            i2c=("i2cLM", "i2cTU", "i2cXCD"),
            spi=("spiEFGH",),
            uart=_uarts("uartXEFGH uartYJKLM uartYABCD uartPQRS uartHJKL uartXEFG uartABCD", 366, 3_145_728,
                        {"uartXEFGH": (732, 6_291_456), "uartYJKLM": (732, 6_291_456)}),
            bluetooth=True,
            spi_rates_khz=_rates(24_000),
        ),
        ModuleHardware(
            name="impC001",
            pins=_pins(_LETTERS + " YA YB YC YD YE YF YG YH YJ YK YL YM YN YP YQ YR YS YT YU",
                       {"W": (WAKE, PULSE)}),
            i2c=("i2cKL", "i2cJH"),
            spi=("spiPQRS", "spiYJTHU"),
            uart=_uarts("uartNU uartDCAB uartPQRS", 1526, 12_500_000),
            vbat=True,
            spi_rates_khz=_rates(24_000),
        ),
    )
}


def module_hardware(name: str) -> ModuleHardware:
    """The table for a module name as ``imp.info().type`` spells it."""
    try:
        return MODULES[name]
    except KeyError:
        raise ValueError(f"no hardware table for imp module {name!r}: use one of {', '.join(MODULES)}") from None
