"""The ``imp`` object (imp-api.md §4, §10)."""

from __future__ import annotations

import math
from typing import Any

from .. import constants as C
from ..api import AGENT, BOTH, DEVICE, Api, Array, Blob, Callback, ImpError
from ..durations import MAX_US
from ..halt import DeepSleep, Restart
from .common import deep_sleep_ok, seconds, sleep_until_us

imp = Api("imp")
net = Api("net")  # imp.net
TIMER_RESOLUTION_US = 10_000  # §4.1: centiseconds
MAX_WAKEUP_S = 2**30 / 100
MAX_DEEPSLEEP_S = 2_419_198  # §4.2
USERCONFIG_LIMIT = 4096  # §4.4


def timer_delay_us(interval: float) -> int:
    """0 runs at the next idle moment; anything else rounds to the 10 ms tick, at least one."""
    us = int(round(interval * 1e6))
    if us <= 0:
        return 0
    return max(TIMER_RESOLUTION_US, (us + TIMER_RESOLUTION_US // 2) // TIMER_RESOLUTION_US * TIMER_RESOLUTION_US)


@imp.native(BOTH)
def wakeup(host: Any, interval: float, callback: Callback, name: str | None = None) -> Any:
    if math.isnan(interval):
        raise ImpError("imp.wakeup interval must be a number of seconds")
    # §4.1: a negative interval is taken as 0 (the timer fires at the next idle moment), so a
    # deadline computed as already past fires at once instead of raising.
    interval = max(interval, 0)
    if interval > MAX_WAKEUP_S:
        raise ImpError(f"imp.wakeup interval must be at most {MAX_WAKEUP_S:.0f} s")
    timer = host.add_timer(timer_delay_us(interval), callback)
    if name is not None and host.side == AGENT and timer is not None:
        # D:api/imp/wakeup: an agent-only name, which imp.cancelwakeup() takes instead of the
        # timer. A name given again names the newer timer (UNCONFIRMED); on the device it is
        # ignored (UNCONFIRMED).
        host.timer_names[name] = timer
    return timer


@imp.native(BOTH)
def cancelwakeup(host: Any, timer: Any) -> None:
    if isinstance(timer, str) and host.side == AGENT:
        # D:api/imp/cancelwakeup: a name that identifies no active timer (cancelled, fired, or
        # never set) throws. The wording is ours (UNCONFIRMED).
        named = host.timer_names.pop(timer, None)
        if named is None or not host.cancel_timer(named):
            raise ImpError(f'imp.cancelwakeup(): no active timer is named "{timer}"')
        return
    host.cancel_timer(timer)  # a fired or cancelled timer is ignored (§4.1)


@imp.native(BOTH)
def onidle(host: Any, callback: Callback | None) -> None:
    host.onidle_handler = callback


@imp.native(BOTH)
def sleep(host: Any, secs: float) -> None:
    """Blocks this VM only: its timers and messages due meanwhile run late, in order; the other
    side runs on (§4.2)."""
    us = int(round(seconds(secs, "imp.sleep") * 1e6))
    if us > MAX_US:  # a block longer than any run (1e38 s would carry the clock past year 9999)
        raise ImpError(f"imp.sleep: at most {MAX_US // 1_000_000} seconds")
    if us:
        host.block_until(host.clock.now_us + us)


@imp.native((DEVICE,), available=deep_sleep_ok)
def deepsleepfor(host: Any, secs: float) -> DeepSleep:
    s = seconds(secs, "imp.deepsleepfor")
    if s > MAX_DEEPSLEEP_S:
        raise ImpError(f"imp.deepsleepfor: at most {MAX_DEEPSLEEP_S} seconds")
    return DeepSleep(host.clock.now_us + int(round(s * 1e6)), flush=False)


@imp.native((DEVICE,), available=deep_sleep_ok)
def deepsleepuntil(host: Any, hour: int, minute: int, second: int = 0, dayofweek: int | None = None) -> DeepSleep:
    return DeepSleep(sleep_until_us(host, hour, minute, second, dayofweek), flush=False)


@imp.native((DEVICE,))
def reset(host: Any) -> Restart:
    return Restart(C.WAKEREASON_SW_RESET, cold=True, exit_code="Exit Code 16: imp.reset()")


@imp.native(BOTH)
def getmemoryfree(host: Any) -> int:
    vm = host.vm
    return max(0, (vm.memory_limit or 0) - vm.memory_used)  # in the imp's bytes (ScriptHost)


@imp.native(BOTH)
def getsoftwareversion(host: Any) -> str:
    return host.owner.software_version()


@imp.native((DEVICE,))
def getbootromversion(host: Any) -> str:
    return host.owner.software_version()


@imp.native((DEVICE,))
def info(host: Any) -> dict:
    return {"type": host.owner.profile.info_type}


@imp.native(BOTH)
def environment(host: Any) -> int:
    return C.ENVIRONMENT_AGENT if host.side == AGENT else host.owner.profile.environment


@imp.native((DEVICE,), available=lambda host: host.owner.profile.name != "impC001")
def configure(host: Any, name: str, inputs: Array, outputs: Array) -> str:
    """Deprecated: it set up the long-retired Blueprint; it has no effect, and impOS on the impC001
    no longer has it (D:node/2366). Old apps still call it at boot."""
    return name


@imp.native((DEVICE,))
def getmacaddress(host: Any) -> str:
    return host.owner.id[-12:]  # 12 lowercase hex characters (§4.3)


# Power-save mode is off after a power cycle (D:resources/imprestartoptions) and kept by every
# other boot; the send buffer belongs to the connection (D:node/2430): see Device.


@imp.native((DEVICE,))
def setpowersave(host: Any, on: bool | int) -> None:  # apps pass 1 and 0 too
    host.owner.powersave = bool(on)


@imp.native((DEVICE,))
def getpowersave(host: Any) -> bool:
    return host.owner.powersave


@imp.native((DEVICE,))
def enableblinkup(host: Any, on: bool | int) -> None:
    pass


@imp.native((DEVICE,))
def setsendbuffersize(host: Any, size: int) -> int:
    old = host.owner.sendbuffer
    host.owner.sendbuffer = int(size)
    return old


@imp.native((DEVICE,))
def setuserconfiguration(host: Any, data: str | Blob | None) -> None:
    if data is None:
        host.owner.userconfig = None
        return
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > USERCONFIG_LIMIT:
        raise ImpError("value too long in imp.setuserconfiguration(value)")
    host.owner.userconfig = raw


@imp.native((DEVICE,))
def getuserconfiguration(host: Any) -> Any:
    raw = host.owner.userconfig
    return None if raw is None else host.vm.new_blob(raw)


@imp.native(BOTH)
def onunhandledexception(host: Any, handler: Callback | None) -> None:
    host.unhandled_handler = handler


@net.native((DEVICE,), name="info")
def net_info(host: Any) -> dict:
    """§4.3: interfaces, and ``active``/``ipv4`` only while connected."""
    kind = host.owner.profile.interfaces[0]
    iface = {"type": kind, "macaddress": host.owner.id[-12:]}
    if kind == "wifi" and host.owner.wifi_config is not None:
        iface["ssid"] = host.owner.wifi_config[0]  # the configured network (D:api/imp/setwificonfiguration)
    out: dict = {"interface": [iface]}
    if host.owner.connected:
        out["active"] = 0
        out["ipv4"] = {"address": "192.0.2.10", "netmask": "255.255.255.0", "gateway": "192.0.2.1"}
    return out


def _wifi(host: Any) -> bool:
    return host.side == DEVICE and "wifi" in host.owner.profile.interfaces


# WiFi information (§4.3 lists them; their details are out of the sheet's scope): fixed, plausible
# values for a good link while connected.
@imp.native((DEVICE,), available=_wifi)
def rssi(host: Any) -> int:
    return -55 if host.owner.connected else 0


@imp.native((DEVICE,), available=_wifi)
def getssid(host: Any) -> str:
    stored = host.owner.wifi_config
    return "" if stored is None else stored[0]


# The device's stored network settings (D:api/imp/setwificonfiguration, D:api/imp/clearconfiguration):
# kept in non-volatile memory, so they survive every boot, and read only by later connection
# attempts -- the current connection is not affected.
@imp.native((DEVICE,), available=_wifi)
def setwificonfiguration(host: Any, ssid: str, key: str) -> None:
    # An SSID or key that is not UTF-8 arrives as bytes: kept byte for byte.
    host.owner.wifi_config = tuple(v if isinstance(v, str) else v.decode("latin-1") for v in (ssid, key))


@imp.native((DEVICE,))
def clearconfiguration(host: Any, action: int = C.CONFIG_ALL) -> None:
    if action & ~C.CONFIG_ALL or not action:
        raise ImpError("imp.clearconfiguration: the action must be CONFIG_WIFI, CONFIG_STATIC_NETWORK, "
                       "CONFIG_PROXY or CONFIG_ALL")
    if action & C.CONFIG_WIFI:
        host.owner.wifi_config = None
    if action == C.CONFIG_ALL:  # everything, device enrollment included
        host.owner.enrolled = False


@imp.native((DEVICE,), available=_wifi)
def getbssid(host: Any) -> str:
    return "0050c2" + host.owner.id[-6:] if host.owner.connected else ""


@imp.native((DEVICE,), available=_wifi)
def getchannel(host: Any) -> int:
    return 6 if host.owner.connected else 0


@imp.native((DEVICE,), available=_wifi)
def scanwifinetworks(host: Any) -> list:
    ssid = host.env.config.wifi_ssid
    return [{"ssid": ssid, "bssid": "0050c2" + host.owner.id[-6:], "channel": 6, "rssi": -55,
             "open": host.env.config.wifi_key == ""}]
