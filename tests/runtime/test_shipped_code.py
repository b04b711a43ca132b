"""Code read on one machine and run on another (a fleet's workers): code loaded elsewhere runs
as the file would, and a scenario's deployments can come with their code."""

import os

from impapi import Simulation
from impapi.builder import LoadedCode
from impapi.scenario import Deploy, Scenario, ScenarioEvent, apply


def test_loaded_code_runs_like_the_file_with_the_same_device_id(tmp_path):
    path = tmp_path / "id.device.nut"
    path.write_text('server.log(hardware.getdeviceid() + " " + imp.getmacaddress());\n')
    from_file = Simulation(device=str(path), seed=4).run("1m")
    shipped = Simulation(device=LoadedCode(path.read_text(), str(path)), seed=4).run("1m")
    assert [e.text for e in shipped.log] == [e.text for e in from_file.log]
    assert shipped.device.id == from_file.device.id and shipped.device.filename == str(path)


def test_deployed_code_given_with_the_scenario_is_not_read_from_disk(tmp_path):
    missing = os.path.join(str(tmp_path), "elsewhere", "v2.device.nut")
    scn = Scenario((ScenarioEvent(60_000_000, "deploy", Deploy(missing)),))
    sim = Simulation(device='server.log("v1");\n')
    apply(scn, sim, code={missing: 'server.log("v2");\n'})
    sim.run("5m")
    assert [e.text for e in sim.log if e.source == "device"] == ["v1", "v2"]
