"""What the imp documentation leaves open, as documented defaults a user can change.

Every behaviour of the simulation follows a rule a real imp follows. Where the rule is not
known (imp-api.md marks it unconfirmed) or depends on the world (latencies), the simulation
reads it from :class:`Config`; each field names the section of imp-api.md it stands for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

__all__ = ["Config"]


@dataclass
class Config:
    """Behaviour imp-api.md leaves unconfirmed or that depends on the world, with documented
    defaults (times in microseconds)."""

    message_latency_us: int = 50_000  # device <-> agent, one way
    error_restart_delay_us: int = 5_000_000  # §10: delay before Squirrel restarts after an error
    watchdog_instructions: int | None = 250_000_000  # per event; None: no watchdog (a safety net, not an imp rule)
    # Virtual time one Squirrel instruction takes, in ns (docs/imp-model/execution-time.md): the
    # work a handler does (instructions, and what natives charge in instructions' worth, the
    # watchdog's units) moves its VM's own clock, which hardware.millis(), time(), imp.wakeup,
    # sends and logs read; the VM's next event waits until the handler has ended; other machines
    # are not held up. instruction_ns None: the device module's own figure (Profile.instruction_ns);
    # a number: that figure whatever the module. 0: Squirrel takes no virtual time. UNCONFIRMED
    # (inferred: 500 ns on imp001/imp002, 300 on the M4F modules, 100 on imp005, 5 on the agent).
    instruction_ns: float | None = None
    agent_instruction_ns: float = 5.0
    cold_boot_wait_us: int = 10_000_000  # §1.3: Squirrel starts after 10 s without a connection
    # A restart of Squirrel without a power cycle (server.restart() on either side, an update
    # installed at a restart, a wake from deep sleep) takes this long: the next run starts this
    # long after the last one ended, and a deep sleep wakes no sooner. UNCONFIRMED: the imp
    # documents no figure. Never 0, so code that restarts at every start runs its restart loop
    # in virtual time, as it would on the imp, instead of at one instant.
    restart_us: int = 200_000
    snooze_us: int = 540_000_000  # §2.3: 9 minutes of snooze between reconnect attempts
    reconnect_window_us: int = 60_000_000  # §2.3, §2.7: impOS retries for a minute
    # Joining the network, DHCP, DNS and TLS on a good network: how long a connection attempt
    # needs the network up without a break. No document gives a figure (inferred).
    connect_latency_us: int = 2_000_000
    nv_limit: int = 4096  # §6 unconfirmed; over it, or unserialisable: nv is not kept (logged)
    # §6 unconfirmed: whether server.restart() (WAKEREASON_SW_RESTART) keeps nv. impOS saves nv
    # as it goes to deep sleep, and server.restart() does not sleep: dropped by default.
    nv_survives_restart: bool = False
    agent_disconnect_detect_us: int = 270_000_000  # §3.5
    agent_error_restarts: bool = False  # §10 unconfirmed
    agent_memory: int = 1024 * 1024
    crash_loop_boots: int = 5  # consecutive error restarts that count as a crash loop
    update_deadline_us: int | None = None  # §1.1 unconfirmed: the cloud forces a delayed update
    # The VM is a 64-bit build: a Squirrel value takes 16 bytes where the imp's 32-bit build uses
    # 8, and pointers double too. Object overhead is counted divided by this factor, while the
    # contents of strings and blobs (the same size on the imp) count in full, so an app fits as
    # it would on the module and imp.getmemoryfree() is in the imp's bytes.
    memory_scale: float = 2.0
    # Each boot starts from a pristine copy of the imp's globals in a VM kept from the previous
    # boot (squirrel.VM.snapshot/restore) rather than in a new VM: the same behaviour, several
    # times faster. A VM whose shared state a script changed is replaced, not reused. False:
    # a new VM per boot (the reference the tests compare against). imp.getmemoryfree() may
    # differ by a few hundred bytes: Squirrel's string and hash tables are already grown.
    reuse_vms: bool = True
    # A deployment to an online device (how `impsim test` starts every session): the agent
    # restarts at once; the device runs the new code only after downloading it. UNCONFIRMED:
    # impt's testing guide logs the agent restart about 2.25-2.5 s before the device code runs
    # (22 KB of code); the device stays connected while it downloads, which the model does not
    # show (it is offline until it runs the code). The default keeps the order suites written
    # for hardware rely on: the device runs after the agent restarted and before an agent-side
    # test runner starts (2 s after the agent), so neither side's first message is lost.
    device_start_delay_us: int = 1_000_000
    # The WiFi network around the device, which its stored configuration (BlinkUp, or
    # imp.setwificonfiguration) must name to connect. The device starts configured for it.
    # wifi_key None: the network's password is not checked (any key joins).
    wifi_ssid: str = "impsim"
    wifi_key: str | None = None
    # The hardware with nothing attached, and bus time (docs/imp-model/hardware.md).
    floating_input: int = 0  # a DIGITAL_IN pin with no pull and nothing driving it reads this
    analog_input: float = 0.5  # an ANALOG_IN pin with nothing attached: a fraction of the supply
    spi_idle_byte: int = 0xFF  # what SPI reads with no device selected (MISO pulled up)
    # i2c.write()/readerror() when no device acknowledges; None: the module's own code (-2 for a
    # write or a sub-address phase, -6 for a bare read; -9 on the imp005).
    i2c_nack_error: int | None = None
    supply_voltage: float = 3.3  # hardware.voltage()
    vbat_voltage: float = 3.0  # hardware.vbat(), where the module has it
    light_level: int = 32768  # hardware.lightlevel(), 0-65535
    # A deep sleep begun with an armed wake-up pin already high ends this long after it began,
    # with WAKEREASON_PIN (the wake input sees its level, not only an edge); None: the imp
    # sleeps on until its timer or the pin's next rising edge.
    wake_pin_high_at_sleep_us: int | None = 1_000
    # Bus transfers take the time their bits need at the configured clock or baud rate.
    bus_timing: bool = False
    record_io: bool = True  # pin writes and bus transfers become structured events ...
    record_io_limit: int | None = 100_000  # ... this many per device at most (None: no limit)
    # The agent's outgoing HTTP requests (docs/imp-model/agent-http.md). sendasync() without a
    # timeout gives up after 600 s (documented); sendsync() waits at most 60 s (UNCONFIRMED: the
    # imp's "short-term" request limit); an answer without its own latency arrives 100 ms after
    # the request (the world's, not the imp's).
    http_timeout_us: int = 600_000_000
    http_sync_timeout_us: int = 60_000_000
    http_latency_us: int = 100_000

    def instruction_ps(self, profile: Any = None) -> int:
        """Picoseconds of virtual time per instruction: on a device of ``profile`` (a
        :class:`~impapi.profiles.Profile`), or on the agent (None)."""
        ns = self.agent_instruction_ns if profile is None else \
            profile.instruction_ns if self.instruction_ns is None else self.instruction_ns
        # A float or an int itself, most often: no isinstance calls (every boot asks, ~0.2 us).
        number = ns.__class__ in _PLAIN_NUMBERS or (isinstance(ns, (int, float)) and not isinstance(ns, bool))
        ps = _ps_of_ns(ns) if number else None
        if ps is None:
            what = "agent_instruction_ns" if profile is None else "instruction_ns"
            raise ValueError(f"Config.{what} must be a number of nanoseconds >= 0, got {ns!r}")
        return ps


_PLAIN_NUMBERS = (float, int)


@functools.lru_cache(maxsize=64, typed=True)  # asked at every boot: each value worked out once
def _ps_of_ns(ns: float) -> int | None:
    """Picoseconds for ``ns`` nanoseconds; None when it is not a time (negative, NaN, infinite)."""
    return round(ns * 1000) if 0 <= ns < float("inf") else None
