"""``hardware.bluetooth`` (imp004m, imp006) and ``hardware.usb`` (imp005) with nothing in range or
plugged in (docs/imp-model/hardware.md).

Bluetooth opens (on the imp004m with its UART and firmware, as the API requires), scans find
nothing, advertising and serving succeed and no central ever connects: the radio of a module in
an empty room. USB configures and no device ever attaches, so the callback is never called."""

from __future__ import annotations

from typing import Any

from ..api import DEVICE, ImpError
from .objects import UART, bad_type, mux_of, need_bytes, need_function, need_number, objects, run_of, wrong_count


def _has_ble(host: Any) -> bool:
    return mux_of(host).bluetooth


def _has_usb(host: Any) -> bool:
    return mux_of(host).usb


@objects.native((DEVICE,), available=_has_ble)
def ble_open(host: Any, *args: Any) -> None:
    run = run_of(host)
    if run.mux.name == "imp004m":
        # The imp004m's radio needs its UART and the firmware the app supplies.
        if len(args) != 2:
            raise wrong_count()
        uart, firmware = args
        if not isinstance(uart, int) or not 0 <= uart - UART < len(run.mux.uart):
            raise bad_type(1, uart, "uart")
        need_bytes(2, firmware)
    elif len(args) > 2:
        raise wrong_count()
    run.extras["bluetooth"] = True
    run.record("bluetooth", action="open")


def _open(host: Any) -> Any:
    run = run_of(host)
    if not run.extras.get("bluetooth"):
        raise ImpError("bluetooth is not open")
    return run


@objects.native((DEVICE,), available=_has_ble)
def ble_startscan(host: Any, *args: Any) -> None:
    run = _open(host)
    if not 1 <= len(args) <= 2:
        raise wrong_count()
    need_function(1, args[0])
    run.record("bluetooth", action="scan")


@objects.native((DEVICE,), available=_has_ble)
def ble_stopscan(host: Any) -> None:
    _open(host)


@objects.native((DEVICE,), available=_has_ble)
def ble_startadvertise(host: Any, *args: Any) -> None:
    run = _open(host)
    if len(args) not in (1, 3, 4):  # advert[, min, max[, scan response]]
        raise wrong_count()
    data = need_bytes(1, args[0])
    if len(args) == 4:
        need_bytes(4, args[3])
        args = args[:3]
    for i, a in enumerate(args[1:]):
        need_number(i + 2, a)
    run.record("bluetooth", action="advertise", data=data.hex())


@objects.native((DEVICE,), available=_has_ble)
def ble_stopadvertise(host: Any) -> None:
    _open(host)


@objects.native((DEVICE,), available=_has_ble)
def ble_onconnect(host: Any, callback: Any) -> None:
    _open(host)
    if callback is not None:
        need_function(1, callback)


@objects.native((DEVICE,), available=_has_ble)
def ble_close(host: Any) -> None:
    run_of(host).extras["bluetooth"] = False


@objects.native((DEVICE,), available=_has_usb)
def usb_configure(host: Any, callback: Any) -> None:
    need_function(1, callback)
    run_of(host).extras["usb"] = True


@objects.native((DEVICE,), available=_has_usb)
def usb_disable(host: Any) -> None:
    run_of(host).extras["usb"] = False


@objects.native((DEVICE,), available=_has_usb)
def usb_transfer(host: Any, *args: Any) -> None:
    raise ImpError("no USB device is attached")
