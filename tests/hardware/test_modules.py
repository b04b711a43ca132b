"""Which hardware objects each module has (docs/imp-model/hardware.md, "What each module has")."""

import pytest
from hw_helpers import logged, sim_of

from impapi import constants as C
from impapi.pinmux import MODULES, module_hardware

NAMES = ["imp001", "imp002", "imp003", "imp004m", "imp005", "imp006", "impC001"]


def all_objects(m) -> list[str]:
    return [p.name for p in m.pins] + list(m.i2c) + list(m.spi) + [u.name for u in m.uart] + list(m.pwmpair)


@pytest.mark.parametrize("imp", NAMES)
def test_every_object_of_the_module_is_a_slot_of_hardware(imp):
    m = module_hardware(imp)
    names = all_objects(m)
    out = logged(f'''
        local missing = [];
        foreach (k in [{", ".join(f'"{n}"' for n in names)}])
            if (!(k in hardware) || typeof hardware[k] != "instance") missing.push(k);
        server.log("missing " + missing.len());
    ''', imp)
    assert out == ["missing 0"]


def test_documented_pin_counts():
    """The hardware.pin page: imp001 6 pins, imp002 12, imp003 23, imp004m 18, imp005 28."""
    counts = {name: len(MODULES[name].pins) for name in ("imp001", "imp002", "imp003", "imp004m", "imp005")}
    assert counts == {"imp001": 6, "imp002": 12, "imp003": 23, "imp004m": 18, "imp005": 28}
    assert [p.name for p in MODULES["imp001"].pins] == ["pin1", "pin2", "pin5", "pin7", "pin8", "pin9"]
    assert {"pinXA", "pinXE"} <= {p.name for p in MODULES["imp005"].pins}
    assert "pinX" not in {p.name for p in MODULES["imp005"].pins}


@pytest.mark.parametrize("imp, absent", [("imp001", "pinA"), ("imp003", "pin1"), ("imp005", "pinX"),
                                         ("imp001", "uartQRPW"), ("imp003", "i2c89"), ("imp006", "spi257")])
def test_an_object_of_another_module_does_not_exist(imp, absent):
    out = logged(f'''
        server.log("{absent}" in hardware);
        try {{ hardware.{absent}.configure(DIGITAL_OUT); }} catch (e) {{ server.log(e); }}
    ''', imp)
    assert out == ["false", f"the index '{absent}' does not exist"]


def test_a_missing_pin_is_an_uncaught_error_with_the_imps_text_and_the_apps_line():
    sim = sim_of('''
        local x = 1;
        hardware.pinA.configure(DIGITAL_OUT);
    ''', "imp001")
    errors = [e.text for e in sim.log if e.text.startswith("ERROR")]
    assert errors[:2] == ["ERROR: the index 'pinA' does not exist", "ERROR:   in main device_code:3"]


@pytest.mark.parametrize("imp", NAMES)
def test_vbat_lightlevel_voltage_presence(imp):
    """hardware.vbat() is imp003/imp004m/impC001 only (its doc page); voltage() and lightlevel()
    everywhere."""
    out = logged('server.log(("vbat" in hardware) + " " + ("lightlevel" in hardware) + " " + ("voltage" in hardware));',
                 imp)
    assert out == [f"{str(imp in ('imp003', 'imp004m', 'impC001')).lower()} true true"]


def test_voltage_vbat_and_lightlevel_give_the_configured_values():
    """The board's supply, battery and light level come from Config (nothing measures them)."""
    from impapi import Config

    out = logged('server.log(hardware.voltage() + " " + hardware.vbat() + " " + hardware.lightlevel());', "imp003",
                 config=Config(supply_voltage=3.0, vbat_voltage=2.5, light_level=70000))
    assert out == ["3 2.5 65535"]
    assert logged('server.log(hardware.voltage());', "imp001") == ["3.3"]


@pytest.mark.parametrize("imp", NAMES)
def test_audio_bluetooth_usb_presence(imp):
    m = MODULES[imp]
    out = logged('''
        local names = ["fixedfrequencydac", "sampler", "bluetooth", "usb"];
        local s = "";
        foreach (n in names) s += (n in hardware) ? "1" : "0";
        server.log(s);
    ''', imp)
    want = "".join("1" if x else "0" for x in (m.fixedfrequencydac, m.sampler, m.bluetooth, m.usb))
    assert out == [want]
    assert m.bluetooth == (imp in ("imp004m", "imp006"))


def test_wake_pins_are_the_documented_ones():
    """"Wake an imp from deep sleep": pin 1 on imp001/imp002, W on imp003/imp004m/impC001,
    V and W on imp006, none on imp005."""
    assert {n: MODULES[n].wake_pins for n in NAMES} == {
        "imp001": ("pin1",), "imp002": ("pin1",), "imp003": ("pinW",), "imp004m": ("pinW",), "imp005": (),
        "imp006": ("pinV", "pinW"), "impC001": ("pinW",)}


def test_hardware_constants_are_registered_on_the_device_only():
    names = list(C.PIN_MODES) + list(C.I2C_SPEEDS) + list(C.SPI_FLAGS) + list(C.UART_SETTINGS) + \
        list(C.UART_EVENTS) + list(C.AUDIO_FLAGS) + ["WAKEREASON_PIN1"]
    src = "local r = getroottable(), n = 0;\n" + "".join(f'if ("{k}" in r) n++;\n' for k in names) + \
        'server.log(n);'
    assert logged(src) == [str(len(names))]
    from impapi import Simulation
    sim = Simulation(agent=src)
    sim.run("2s")
    assert [e.text for e in sim.log if e.source == "agent"] == ["0"]


def test_documented_constant_values():
    assert (C.DIGITAL_IN, C.DIGITAL_IN_PULLUP, C.DIGITAL_IN_PULLDOWN, C.DIGITAL_OUT, C.DIGITAL_OUT_OD,
            C.DIGITAL_OUT_OD_PULLUP, C.DIGITAL_IN_WAKEUP) == (256, 512, 768, 1024, 1280, 1536, 2560)
    assert (C.SIMPLEX_RX, C.SIMPLEX_TX, C.CLOCK_IDLE_HIGH, C.CLOCK_IDLE_LOW, C.CLOCK_2ND_EDGE, C.MSB_FIRST,
            C.LSB_FIRST, C.NO_SCLK, C.USE_CS_L) == (1, 2, 4, 0, 8, 0, 16, 32, 64)
    assert C.CLOCK_SPEED_400_KHZ == 400_000 and C.CLOCK_SPEED_10_KHZ == 10_000
    assert len(set(C.PIN_MODES.values())) == len(C.PIN_MODES)


def test_objects_are_stable_and_have_no_settable_fields():
    out = logged('''
        local p = hardware.pin1;
        server.log(p == hardware.pin1);
        server.log(p == hardware.pin2);
        local t = {}; t[p] <- "x"; server.log(t[hardware.pin1]);
        try { p.foo <- 1; } catch (e) { server.log("newslot refused"); }
        try { p.foo = 1; } catch (e) { server.log(e); }
    ''')
    assert out == ["true", "false", "x", "newslot refused", "the index 'foo' does not exist"]


def test_nothing_a_script_does_to_an_object_survives_a_boot():
    """Objects are shared between boots of a reused VM: the builder keeps their ids out of reach."""
    sim = sim_of('''
        if (!("nv" in getroottable())) nv <- { n = 0 };
        nv.n++;
        hardware.pin9.configure(DIGITAL_OUT, nv.n % 2);
        server.log("boot " + nv.n + " " + hardware.pin9.read());
        if (nv.n < 3) imp.deepsleepfor(1);
    ''', "imp001", run="30s")
    assert [t for t in (e.text for e in sim.log) if t.startswith("boot")] == ["boot 1 1", "boot 2 0", "boot 3 1"]


def test_voltage_vbat_and_lightlevel_read_the_configured_values():
    """With nothing attached the supply, battery and light level are the Config's (hardware.md)."""
    from impapi import Config

    out = logged('server.log(hardware.voltage() + " " + hardware.vbat() + " " + hardware.lightlevel());',
                 "imp003", config=Config(supply_voltage=3.0, vbat_voltage=2.5, light_level=1234))
    assert out == ["3 2.5 1234"]
