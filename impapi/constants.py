"""The imp's named integer constants, grouped as in imp-api.md.

Each group is a plain ``dict[str, int]`` so the natives can register a whole group in the
Squirrel root table in one loop. Values come from imp-api.md; where the sheet marks a value
[UNCONFIRMED] the value here is our documented choice (see the group's comment).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# §5.1 hardware.wakereason()
WAKEREASON_POWER_ON = 0
WAKEREASON_TIMER = 1
WAKEREASON_SW_RESET = 2
WAKEREASON_PIN = 3
WAKEREASON_NEW_SQUIRREL = 4
WAKEREASON_SQUIRREL_ERROR = 5
WAKEREASON_NEW_FIRMWARE = 6
WAKEREASON_SNOOZE = 7
WAKEREASON_HW_RESET = 8
WAKEREASON_BLINKUP = 9
WAKEREASON_SW_RESTART = 10
WAKEREASON_POWER_RESTORED = 11

# §1.1 server.onshutdown() reasons
SHUTDOWN_NEWSQUIRREL = 1
SHUTDOWN_NEWFIRMWARE = 2
SHUTDOWN_OTHER = 3

# §2.1 send error codes (success is a bare 0 and has no name on the imp)
SEND_ERROR_NOT_CONNECTED = 1
SEND_ERROR_TIMEOUT = 2
SEND_ERROR_DISCONNECTED = 3
SEND_ERROR_WOULDBLOCK = 4

# §2.2 connection-state / reason constants
NOT_CONNECTED = 0
NO_WIFI = 1
NO_LINK = 1
NO_IP_ADDRESS = 2
NOT_RESOLVED = 3
NO_SERVER = 4
SERVER_CONNECTED = 5
NO_PROXY = 6
NOT_AUTHORISED = 7
NO_MODEM = 8
SIM_ERROR = 9
NO_REGISTRATION = 10
REGISTRATION_DENIED = 11
NO_PPP_CONNECTION = 12
PPP_NO_CONNECTIVITY = 13

# §2.3 send-timeout policies. The real values are [UNCONFIRMED] (§12 gap 1); we use the
# 0/1/2 and 0/1 the sheet suggests. Code that uses the names, as real code does, is unaffected.
SUSPEND_ON_ERROR = 0
RETURN_ON_ERROR = 1
RETURN_ON_ERROR_NO_DISCONNECT = 2
WAIT_TIL_SENT = 0
WAIT_FOR_ACK = 1

# §7.3 hardware.spiflash.write() flags
SPIFLASH_POSTVERIFY = 1
SPIFLASH_PREVERIFY = 2

# §4.3 imp.environment()
ENVIRONMENT_CARD = 0
ENVIRONMENT_MODULE = 1
ENVIRONMENT_AGENT = 2

# imp.clearconfiguration() actions (D:api/imp/clearconfiguration). Electric Imp does not
# publish their values [UNCONFIRMED]; ours are distinct bits, CONFIG_ALL all of them. Code
# that uses the names, as real code does, is unaffected.
CONFIG_WIFI = 1
CONFIG_STATIC_NETWORK = 2
CONFIG_PROXY = 4
CONFIG_ALL = 7

# The hardware objects' constants (docs/imp-model/hardware.md). Sources: pin modes, I2C speeds,
# UART events: a public imp API stub file and real code; SPI flags: the spi.configure page.
# Values marked (choice) are not published: ours are distinct bits; code uses the names.
DIGITAL_IN = 256
DIGITAL_IN_PULLUP = 512
DIGITAL_IN_PULLDOWN = 768
DIGITAL_OUT = 1024
DIGITAL_OUT_OD = 1280
DIGITAL_OUT_OD_PULLUP = 1536
ANALOG_IN = 1792  # (choice)
ANALOG_OUT = 2048  # (choice)
PWM_OUT = 2304  # (choice)
DIGITAL_IN_WAKEUP = 2560
PULSE_COUNTER = 2816  # (choice)
PWM_OUT_STEPS = 3072  # (choice)

CLOCK_SPEED_10_KHZ = 10_000
CLOCK_SPEED_50_KHZ = 50_000
CLOCK_SPEED_100_KHZ = 100_000
CLOCK_SPEED_400_KHZ = 400_000

SIMPLEX_RX = 1
SIMPLEX_TX = 2
CLOCK_IDLE_LOW = 0
CLOCK_IDLE_HIGH = 4
CLOCK_2ND_EDGE = 8
MSB_FIRST = 0
LSB_FIRST = 16
NO_SCLK = 32
USE_CS_L = 64

PARITY_NONE = 0  # (choice)
PARITY_EVEN = 1  # (choice)
PARITY_ODD = 2  # (choice)
NO_TX = 1  # (choice) uart.configure flags
NO_RX = 2  # (choice)
NO_CTSRTS = 4  # (choice)
TIMING_ENABLED = 8  # (choice)
CALLBACK_WITH_FLAGS = 16  # (choice) the callback receives the event bits (it does whenever it takes a parameter)

READ_READY = 1  # uart callback events / uart.flags()
WRITE_DONE = 2
NOISE_ERROR = 4
FRAME_ERROR = 8
PARITY_ERROR = 16
OVERRUN_ERROR = 32
LINE_IDLE = 64

A_LAW_COMPRESS = 1  # (choice) sampler flag
A_LAW_DECOMPRESS = 2  # (choice) fixedfrequencydac flag
NORMALISE = 4  # (choice) sampler flag
AUDIO = 8  # (choice) fixedfrequencydac flag

# The older name of WAKEREASON_PIN (from when pin 1 was the only wake pin); still used by apps.
WAKEREASON_PIN1 = 3

# hardware.configure()'s peripherals (D:api/hardware/configure), the imp001's and imp002's first
# way to enable a bus. [UNCONFIRMED] values: only the names are documented; the second names
# are documented aliases of the first.
SPI_257, SPI_189, UART_1289, UART_57, UART_12, I2C_89, I2C_12 = 1, 2, 3, 4, 5, 6, 7
UART2_1289, UART1_57, I2C1_89, I2C2_12 = UART_1289, UART_57, I2C_89, I2C_12

# The agent's httprequest (D:api/httprequest/sendasync, D:api/httprequest/setvalidation).
# [UNCONFIRMED] values: only the names are documented.
NO_TIMEOUT = -1
VALIDATE_NONE = 0
VALIDATE_USING_SYSTEM_CA_CERTS = 1

# §9.2 math.rand() bound. [UNCONFIRMED] (§12 gap 9): 2^31-1 is the C library value on both
# the imp's ARM toolchain and glibc, and it fits the imp's 32-bit signed integers.
RAND_MAX = 2147483647


def _group(names: str) -> Mapping[str, int]:
    g = globals()
    return MappingProxyType({name: g[name] for name in names.split()})


WAKE_REASONS = _group(
    "WAKEREASON_POWER_ON WAKEREASON_TIMER WAKEREASON_SW_RESET WAKEREASON_PIN "
    "WAKEREASON_NEW_SQUIRREL WAKEREASON_SQUIRREL_ERROR WAKEREASON_NEW_FIRMWARE "
    "WAKEREASON_SNOOZE WAKEREASON_HW_RESET WAKEREASON_BLINKUP WAKEREASON_SW_RESTART "
    "WAKEREASON_POWER_RESTORED"
)
SHUTDOWN_REASONS = _group("SHUTDOWN_NEWSQUIRREL SHUTDOWN_NEWFIRMWARE SHUTDOWN_OTHER")
SEND_ERRORS = _group(
    "SEND_ERROR_NOT_CONNECTED SEND_ERROR_TIMEOUT SEND_ERROR_DISCONNECTED SEND_ERROR_WOULDBLOCK"
)
CONNECTION_REASONS = _group(
    "NOT_CONNECTED NO_WIFI NO_LINK NO_IP_ADDRESS NOT_RESOLVED NO_SERVER SERVER_CONNECTED "
    "NO_PROXY NOT_AUTHORISED NO_MODEM SIM_ERROR NO_REGISTRATION REGISTRATION_DENIED "
    "NO_PPP_CONNECTION PPP_NO_CONNECTIVITY"
)
ERROR_POLICIES = _group("SUSPEND_ON_ERROR RETURN_ON_ERROR RETURN_ON_ERROR_NO_DISCONNECT")
WAIT_POLICIES = _group("WAIT_TIL_SENT WAIT_FOR_ACK")
SPIFLASH_FLAGS = _group("SPIFLASH_POSTVERIFY SPIFLASH_PREVERIFY")
ENVIRONMENTS = _group("ENVIRONMENT_CARD ENVIRONMENT_MODULE ENVIRONMENT_AGENT")
CONFIG_ACTIONS = _group("CONFIG_WIFI CONFIG_STATIC_NETWORK CONFIG_PROXY CONFIG_ALL")
MATH = _group("RAND_MAX")
PIN_MODES = _group(
    "DIGITAL_IN DIGITAL_IN_PULLUP DIGITAL_IN_PULLDOWN DIGITAL_OUT DIGITAL_OUT_OD DIGITAL_OUT_OD_PULLUP "
    "ANALOG_IN ANALOG_OUT PWM_OUT DIGITAL_IN_WAKEUP PULSE_COUNTER PWM_OUT_STEPS"
)
I2C_SPEEDS = _group("CLOCK_SPEED_10_KHZ CLOCK_SPEED_50_KHZ CLOCK_SPEED_100_KHZ CLOCK_SPEED_400_KHZ")
SPI_FLAGS = _group(
    "SIMPLEX_RX SIMPLEX_TX CLOCK_IDLE_LOW CLOCK_IDLE_HIGH CLOCK_2ND_EDGE MSB_FIRST LSB_FIRST NO_SCLK USE_CS_L"
)
UART_SETTINGS = _group("PARITY_NONE PARITY_EVEN PARITY_ODD NO_TX NO_RX NO_CTSRTS TIMING_ENABLED CALLBACK_WITH_FLAGS")
UART_EVENTS = _group("READ_READY WRITE_DONE NOISE_ERROR FRAME_ERROR PARITY_ERROR OVERRUN_ERROR LINE_IDLE")
AUDIO_FLAGS = _group("A_LAW_COMPRESS A_LAW_DECOMPRESS NORMALISE AUDIO")
LEGACY = _group("WAKEREASON_PIN1 SPI_257 SPI_189 UART_1289 UART_57 UART_12 I2C_89 I2C_12 UART2_1289 UART1_57 "
                "I2C1_89 I2C2_12")

HTTP = _group("NO_TIMEOUT VALIDATE_NONE VALIDATE_USING_SYSTEM_CA_CERTS")

GROUPS: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "wake_reasons": WAKE_REASONS,
        "shutdown_reasons": SHUTDOWN_REASONS,
        "send_errors": SEND_ERRORS,
        "connection_reasons": CONNECTION_REASONS,
        "error_policies": ERROR_POLICIES,
        "wait_policies": WAIT_POLICIES,
        "spiflash_flags": SPIFLASH_FLAGS,
        "environments": ENVIRONMENTS,
        "config_actions": CONFIG_ACTIONS,
        "math": MATH,
        "pin_modes": PIN_MODES,
        "i2c_speeds": I2C_SPEEDS,
        "spi_flags": SPI_FLAGS,
        "uart_settings": UART_SETTINGS,
        "uart_events": UART_EVENTS,
        "audio_flags": AUDIO_FLAGS,
        "legacy": LEGACY,
        "http": HTTP,
    }
)

# Everything a device root table may hold; a module without spiflash, or the agent, registers
# only the groups that apply to it.
ALL: Mapping[str, int] = MappingProxyType(
    {name: value for group in GROUPS.values() for name, value in group.items()}
)


def name_of(group: Mapping[str, int], value: int) -> str:
    """The first name in `group` with `value`, for log text (NO_WIFI rather than NO_LINK)."""
    for name, v in group.items():
        if v == value:
            return name
    raise ValueError(f"{value} is not a value of this group: {', '.join(group)}")
