"""``hardware.bluetooth`` (imp004m, imp006) and ``hardware.usb`` (imp005) with nothing in range or
plugged in (docs/imp-model/hardware.md).

Bluetooth opens (on the imp004m with its UART and firmware, as the API requires), scans find
nothing, advertising and serving succeed and no central ever connects: the radio of a module in
an empty room. USB configures and no device ever attaches, so the callback is never called."""

from __future__ import annotations

from typing import Any

from ..api import DEVICE, Blob, Callback, ImpError
from .objects import UART, bad_type, mux_of, need_bytes, need_number, objects, run_of, wrong_count


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
def ble_startscan(host: Any, callback: Callback, options: Any = None) -> None:
    run = _open(host)
    run.record("bluetooth", action="scan")


@objects.native((DEVICE,), available=_has_ble)
def ble_stopscan(host: Any) -> None:
    _open(host)


@objects.native((DEVICE,), available=_has_ble)
def ble_startadvertise(host: Any, advert: str | Blob, *args: Any) -> None:
    run = _open(host)
    if len(args) not in (0, 2, 3):  # advert[, min, max[, scan response]]
        raise wrong_count()
    data = need_bytes(1, advert)
    if len(args) == 3:
        need_bytes(4, args[2])
        args = args[:2]
    for i, a in enumerate(args):
        need_number(i + 2, a)
    run.record("bluetooth", action="advertise", data=data.hex())


@objects.native((DEVICE,), available=_has_ble)
def ble_stopadvertise(host: Any) -> None:
    _open(host)


@objects.native((DEVICE,), available=_has_ble)
def ble_onconnect(host: Any, callback: Callback | None) -> None:
    _open(host)


@objects.native((DEVICE,), available=_has_ble)
def ble_close(host: Any) -> None:
    run_of(host).extras["bluetooth"] = False


@objects.native((DEVICE,), available=_has_usb)
def usb_configure(host: Any, callback: Callback) -> None:
    run_of(host).extras["usb"] = True


@objects.native((DEVICE,), available=_has_usb)
def usb_disable(host: Any) -> None:
    run_of(host).extras["usb"] = False


@objects.native((DEVICE,), available=_has_usb)
def usb_transfer(host: Any, *args: Any) -> None:
    raise ImpError("no USB device is attached")
