"""Wiring files: reading them, the mistakes they can hold, and attaching them through every door
(CLI, scenario file, Python, pytest fixture, impsim test)."""

import textwrap

import pytest
from hw_helpers import lines, sim_of

from impapi import Simulation
from impapi.cli import main
from impapi.peripherals import HTS221, Loopback, RegisterDevice, Script, Wiring, WiringError
from impapi.scenario import load_toml

pytest_plugins = ["pytester"]

APP = '''
    local i2c = hardware.i2c89;
    i2c.configure(CLOCK_SPEED_100_KHZ);
    local r = i2c.read(0xBE, "\\x0F", 1);
    server.log("id " + (r == null ? "none " + i2c.readerror() : r[0]));
'''


def wiring(text: str, tmp_path=None, name="board.toml") -> Wiring:
    text = textwrap.dedent(text)
    if tmp_path is None:
        return Wiring.loads(text, name=name)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Wiring.load(path)


HTS = '''
    [[i2c]]
    bus = "i2c89"
    model = "hts221"
'''


@pytest.mark.parametrize("text, message", [
    ("[[i2c]]\nbus = 'i2c89'\nmodel = 'hts222'",
     "board.toml: [[i2c]] 1 (hts222): unknown model 'hts222' (did you mean 'hts221'?)"),
    ("[[i2c]]\nbus = 'i2c89'\nmodel = 'hts221'\ntemprature = 3",
     "board.toml: [[i2c]] 1 (hts221): unknown field 'temprature' (did you mean 'temperature'?)"),
    ("[[i2c]]\nbus = 'i2c89'\naddress = 0xBF",
     "address 0xBF is odd: the imp API's I2C addresses are the 7-bit address shifted left (0xBE); or write "
     "address7 = 0x5F"),
    ("[[i2c]]\nbus = 'i2c89'\naddress = 0x90\naddress7 = 0x48", "give address (8-bit"),
    ("[[i2c]]\nmodel = 'hts221'", "board.toml: [[i2c]] 1 (hts221): bus is missing"),
    ("[[i2c]]\nbus = 'i2c89'", "address is missing"),
    ("[[i2cs]]\nbus = 'i2c89'", "board.toml: unknown section 'i2cs' (did you mean [[i2c]]?)"),
    ("[[i2c]]\nbus = 'i2c89'\nmodel = 'hts221'\ntemperature = { csv = 'nope.csv' }", "no such CSV file"),
    ("[[i2c]]\nbus = 'i2c89'\nmodel = 'hts221'\ntemperature = { wave = 'sine' }", "a wave needs a period"),
    ("[[i2c]]\nbus = 'i2c89'\nmodel = 'hts221'\ntemperature = { points = [['1h', 2], ['0s', 1]] }",
     "the times go backwards"),
    ("[[i2c]]\nbus = 'i2c89'\naddress = 0x90\n[[i2c.register]]\nat = 0x100\nvalue = 1", "at must be an integer from 0"),
    ("[[i2c]]\nbus = 'i2c89'\naddress = 0x90\n[[i2c.register]]\nat = 0xFF\nwidth = 2\nvalue = 1.5",
     "2 bytes from 0xFF go past register 0xFF"),
    ("[[i2c]]\nbus = 'i2c89'\naddress = 0x90\n[[i2c.register]]\nat = 1\nvalue = 2\nreadonly = true\nwritable = 1",
     "give writable (a bit mask) or readonly, not both"),
    ("[[i2c]]\nbus = 'i2c89'\nmodel = 'nosuchmodule:Thing'", "cannot import nosuchmodule"),
    ("[[spi]]\nbus = 'spi257'", "say what is attached"),
    ("[[uart]]\nbus = 'uart57'", "say what is at the other end"),
    ("[[uart]]\nbus = 'uart57'\nloopback = true\nstep = []", "say what is at the other end"),
    ("[[uart]]\nbus = 'uart57'\nstep = [{ answer = 'OK' }]", "answer follows an expect"),
    ("[[uart]]\nbus = 'uart57'\nstep = [{ send = 'x' }]\nrepeat = true", "would send for ever at one instant"),
    ("[[uart]]\nbus = 'uart57'\nstep = [{ expect_hex = 'zz' }]", "expect_hex is hexadecimal bytes"),
    ("[[pin]]\npin = 'pin1'", "say what drives pin1"),
    ("[[pin]]\npin = 'pin1'\nlevel = 2", "level is 0 or 1"),
    ("[[i2c]]\nbus = 'i2c89'\nmodel = 'hts221'\nname = 'a'\n[[i2c]]\nbus = 'i2c89'\naddress = 0x30\nname = 'a'",
     "the name 'a' is taken by board.toml: [[i2c]] 1 (hts221)"),
    ("[[i2c]\n", "board.toml: invalid TOML"),
])
def test_every_mistake_names_the_file_the_entry_and_what_to_do(text, message):
    with pytest.raises(WiringError) as e:
        Wiring.loads(text, name="board.toml")
    assert message in str(e.value)


@pytest.mark.parametrize("text, message", [
    (HTS.replace("i2c89", "i2cAB"), "the imp001 has no I2C bus 'i2cAB'"),
    ("[[spi]]\nbus = 'spi257'\ncs = 'pinX'\nmodel = 'lis3dh'", "the imp001 has no pin 'pinX'"),
    ("[[uart]]\nbus = 'uartDM'\nloopback = true", "the imp001 has no UART 'uartDM'"),
    ("[[pin]]\npin = 'pinW'\nlevel = 1", "the imp001 has no pin 'pinW' (did you mean 'pin9'?); its pins: pin1, pin2, pin5"),
])
def test_names_are_checked_against_the_module(text, message):
    with pytest.raises(WiringError) as e:
        Simulation(device="server.log(1);\n", imp="imp001", wiring=Wiring.loads(text, name="board.toml"))
    assert message in str(e.value)


def test_a_missing_or_unreadable_wiring_file_is_an_error(tmp_path):
    with pytest.raises(WiringError, match="no such wiring file"):
        Wiring.load(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(WiringError, match="not UTF-8"):
        Wiring.load(tmp_path / "bad.toml")


def test_wiring_needs_device_code():
    with pytest.raises(ValueError, match="the simulation has no device code"):
        Simulation(agent="server.log(1);\n", wiring=Wiring.loads(HTS))


def test_each_simulation_gets_fresh_models_from_one_wiring():
    w = wiring(HTS)
    a = Simulation(device="server.log(1);\n", imp="imp001", wiring=w, start=False)
    b = Simulation(device="server.log(1);\n", imp="imp001", wiring=w, start=False)
    assert isinstance(a.models["hts221"], HTS221)
    assert a.models["hts221"] is not b.models["hts221"]
    a.models["hts221"].write(0x10, 0x00, 0)
    assert b.models["hts221"].get(0x10) == 0x1B


def test_python_classes_and_functions_are_models(tmp_path):
    (tmp_path / "mymodels.py").write_text(textwrap.dedent('''
        from impapi.peripherals import RegisterDevice

        class Id(RegisterDevice):
            def __init__(self, ident=0x42):
                super().__init__()
                self.define(0x0F, ident, writable=0)

        def shout(data, t_us):
            return data.upper()

        class NotAModel:
            pass
    '''), encoding="utf-8")
    w = wiring('''
        [[i2c]]
        bus = "i2c89"
        address = 0xBE
        model = "mymodels:Id"
        ident = 0x99

        [[uart]]
        bus = "uart57"
        model = "mymodels:shout"
        delay = "1ms"
    ''', tmp_path)
    sim = sim_of(APP + '''
        local u = hardware.uart57;
        u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, function() { server.log(u.readstring()); });
        u.write("hello");
    ''', run="5s", wiring=w)
    assert lines(sim) == ["id 153", "HELLO"]
    assert isinstance(sim.models["Id"], RegisterDevice)
    with pytest.raises(WiringError, match="NotAModel is not an I2C model: it has no i2c_write, i2c_read"):
        wiring('[[i2c]]\nbus = "i2c89"\naddress = 0x90\nmodel = "mymodels:NotAModel"', tmp_path, "b2.toml")
    with pytest.raises(WiringError, match="Id does not take these fields"):
        wiring('[[i2c]]\nbus = "i2c89"\naddress = 0x90\nmodel = "mymodels:Id"\ncolour = 1', tmp_path, "b3.toml")


def test_a_function_of_the_board_wires_from_python():
    sim = sim_of(APP, wiring=lambda board: board.attach_i2c("i2c89", 0xBE, HTS221(), name="t"))
    assert lines(sim) == ["id 188"]
    assert sim.wiring_file is None


def test_uart_loopback_and_any_address(tmp_path):
    w = wiring('''
        [[uart]]
        bus = "uart57"
        loopback = true

        [[i2c]]
        bus = "i2c89"
        address = "any"
    ''')
    sim = sim_of('''
        local u = hardware.uart57;
        u.configure(9600, 8, PARITY_NONE, 1, NO_CTSRTS, function() { server.log("back " + u.readstring()); });
        u.write("ping");
        local i2c = hardware.i2c89;
        i2c.configure(CLOCK_SPEED_100_KHZ);
        server.log(i2c.write(0x20, "\\x05\\x07") + " " + i2c.read(0x20, "\\x05", 1)[0] + " " + i2c.read(0x40, "\\x05", 1)[0]);
    ''', wiring=w)
    assert lines(sim) == ["0 7 0", "back ping"]
    assert isinstance(sim.models["loopback"], Loopback)


CLI_APP = '''
if (!("nv" in getroottable())) nv <- { n = 0 };
nv.n++;
local i2c = hardware.i2c89;
i2c.configure(CLOCK_SPEED_400_KHZ);
local t = i2c.read(0xBE, "\\xAA", 2);
server.log(nv.n + " " + hardware.wakereason() + " " + (t == null ? "none" : (t[0] | t[1] << 8)));
hardware.pin1.configure(DIGITAL_IN_WAKEUP);
imp.deepsleepfor(600);
'''


def test_the_same_wiring_and_scenario_give_the_same_log_through_every_door(tmp_path, capsys, monkeypatch):
    """impsim run with flags, a scenario file naming the wiring, Simulation.play, and a fuzz
    reproduction: one log, byte for byte."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.device.nut").write_text(CLI_APP, encoding="utf-8")
    (tmp_path / "board.toml").write_text(textwrap.dedent('''
        [[i2c]]
        bus = "i2c89"
        model = "hts221"
        temperature = { points = [["0s", 10], ["1h", 30]] }
    '''), encoding="utf-8")
    flags = ["app.device.nut", "--imp", "imp001", "--for", "1h", "--wiring", "board.toml", "--seed", "4",
             "--at", "25m:pin=pin1:pulse:20ms", "--at", "40m:pin=pin1:1", "--at", "40m30s:pin=pin1:0"]
    assert main(["run", *flags]) == 0
    by_flags = capsys.readouterr().out
    assert "[Device] 4 3 " in by_flags  # a pin wake, nv kept

    scn = load_toml  # the scenario file names the wiring
    (tmp_path / "run.toml").write_text(textwrap.dedent('''
        [scenario]
        device = "app.device.nut"
        imp = "imp001"
        duration = "1h"
        seed = 4
        wiring = "board.toml"

        [[event]]
        at = "25m"
        type = "pin"
        pin = "pin1"
        pulse = "20ms"

        [[event]]
        at = "40m"
        type = "pin"
        pin = "pin1"
        level = 1

        [[event]]
        at = "40m30s"
        type = "pin"
        pin = "pin1"
        level = 0
    '''), encoding="utf-8")
    assert main(["run", "--scenario", "run.toml"]) == 0
    assert capsys.readouterr().out == by_flags

    scenario = scn(tmp_path / "run.toml")
    played = Simulation.from_scenario(scenario).play(scenario)
    assert "\n".join(played.sim.log.format(e) for e in played.sim.log) + "\n" == by_flags
    # What the replay would print to reproduce it names the wiring.
    args = played.replayable.to_cli_args(tmp_path)
    assert args[args.index("--wiring") + 1] == "board.toml"
    assert main(["run", *args]) == 0
    assert capsys.readouterr().out == by_flags


def test_impsim_test_takes_the_wiring_from_impt_test_or_the_command_line(tmp_path, capsys, monkeypatch):
    from impapi.testing.runner import run_tests

    (tmp_path / "app.device.nut").write_text("i2c <- hardware.i2c89; i2c.configure(CLOCK_SPEED_400_KHZ);\n")
    (tmp_path / "board.toml").write_text(HTS, encoding="utf-8")
    (tmp_path / "t.test.nut").write_text(textwrap.dedent('''
        class T extends ImpTestCase {
            function testId() { this.assertEqual(0xBC, i2c.read(0xBE, "\\x0F", 1)[0]); }
        }
    '''), encoding="utf-8")
    (tmp_path / ".impt.test").write_text('{"deviceFile": "app.device.nut", "testFiles": ["*.test.nut"], '
                                         '"wiring": "board.toml"}')
    assert run_tests(tmp_path, imp="imp001").exit_code == 0
    (tmp_path / ".impt.test").write_text('{"deviceFile": "app.device.nut", "testFiles": ["*.test.nut"]}')
    assert run_tests(tmp_path, imp="imp001").exit_code == 1  # nothing attached: the read fails
    assert run_tests(tmp_path, imp="imp001", overrides={"wiring": "board.toml"}).exit_code == 0
    out = capsys.readouterr().out
    (tmp_path / ".impt.test").write_text('{"deviceFile": "app.device.nut", "testFiles": ["*.test.nut"], '
                                         '"wiring": "nope.toml"}')
    assert run_tests(tmp_path, imp="imp001").exit_code == 1
    assert '"wiring" file nope.toml does not exist' in capsys.readouterr().out
    assert "Testing succeeded" in out


def test_the_pytest_fixture_reads_files_beside_the_test_and_toml_text(pytester):
    pytester.makefile(".toml", board=HTS)
    pytester.makepyfile(textwrap.dedent('''
        def test_wired(impsim_simulation, impsim_wiring):
            app = 'i2c <- hardware.i2c89; i2c.configure(100000); server.log(i2c.read(0xBE, "\\\\x0F", 1)[0]);'
            for w in ("board.toml", impsim_wiring("board.toml"), impsim_wiring(open("board.toml").read())):
                sim = impsim_simulation(device=app, imp="imp001", wiring=w)
                sim.run("5s")
                assert sim.log.messages(source="device") == ["188"]
    '''))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_script_peer_is_a_script():
    w = wiring('''
        [[uart]]
        bus = "uart57"
        name = "modem"
        [[uart.step]]
        expect = "AT\\r"
        answer = "OK\\r\\n"
    ''')
    sim = Simulation(device="server.log(1);\n", imp="imp001", wiring=w, start=False)
    assert isinstance(sim.models["modem"], Script)


def test_unnamed_models_that_would_share_a_name_say_where_they_are():
    wiring = Wiring.loads(textwrap.dedent('''
        [[i2c]]
        bus = "i2c89"
        address = 0x90
        [[i2c]]
        bus = "i2c89"
        address = 0x3C
        [[i2c]]
        bus = "i2c89"
        model = "hts221"
        [[spi]]
        bus = "spi257"
        cs = "pin8"
        model = "lis3dh"
        [[i2c]]
        bus = "i2c12"
        model = "lis3dh"
        name = "motion"
    '''))
    sim = Simulation(device="", imp="imp001", wiring=wiring, start=False)
    assert sorted(sim.models) == ["hts221", "lis3dh", "motion", "registers@i2c89:0x3C", "registers@i2c89:0x90"]
