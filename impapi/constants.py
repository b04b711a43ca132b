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
