"""What is wired to the imp's pins and buses: the interfaces peripheral models implement, the
board that holds them, the models impsim ships, and wiring files (docs/wiring.md).

The imp's bus and pin objects (``impapi.natives.pins``, ``impapi.natives.buses``) talk only to a
:class:`Board`. A board with nothing attached behaves like a bare module: I2C addresses are not
acknowledged, SPI reads the idle line, UARTs receive nothing, inputs read their pull (or the
configured floating level) and analog inputs the configured level. Attaching a model changes
what one address, bus or pin sees; nothing else changes::

    board = sim.device.board
    board.attach_i2c("i2c89", 0xBE, HTS221(temperature=21.5))  # 8-bit address, as the imp API uses
    board.attach_spi("spi257", MyFlash(), cs="pin8")  # selected while pin8 is low
    board.attach_uart("uart57", Loopback())
    board.drive("pin1", 1)                            # an input driven high from now on
    board.analog("pin2", lambda t_us: 0.25)           # a quarter of the supply

or, from a file, ``Simulation(..., wiring="board.toml")`` (:class:`Wiring`).

Every output the imp makes (pin writes, PWM duty, bus transfers, bytes sent) is also recorded as
a structured event of the simulation (kinds ``pin``, ``i2c``, ``spi``, ``uart``; see
:mod:`impapi.events`), and so is every input an outside source changes (``pin-in``,
``uart-rx``); ``sim.io`` (:mod:`impapi.iorecord`) queries them.
"""

from .base import AnalogSource, I2CDevice, ModelPins, SPIDevice, UARTLine, UARTPeer
from .board import Board, PinLine
from .chips import CHIPS, HTS221, LIS3DH
from .registers import RegisterDevice
from .signals import Signal, SignalAttr, SignalError, signal
from .uart import Loopback, Responder, Script, Step
from .wiring import Wiring, WiringError

__all__ = ["AnalogSource", "Board", "CHIPS", "HTS221", "I2CDevice", "LIS3DH", "Loopback", "ModelPins", "PinLine",
           "RegisterDevice", "Responder", "SPIDevice", "Script", "Signal", "SignalAttr", "SignalError", "Step",
           "UARTLine", "UARTPeer", "Wiring", "WiringError", "signal"]
