"""The Python API as a user meets it: errors raised where the mistake is made."""

from __future__ import annotations

import pytest

import squirrel
from impapi import Simulation


def test_device_code_that_does_not_compile_raises_from_the_constructor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "syntax-error.nut").write_text('server.log("fine");\nlocal x = ;\n')
    with pytest.raises(squirrel.CompileError) as e:
        Simulation(device="syntax-error.nut")
    assert (e.value.filename, e.value.lineno, e.value.column) == ("syntax-error.nut", 2, 11)
    assert e.value.text == "local x = ;"
    assert str(e.value).startswith("syntax-error.nut:2:11: expression expected")


def test_agent_code_that_does_not_compile_raises_too():
    with pytest.raises(squirrel.CompileError) as e:
        Simulation(device='server.log("ok");\n', agent="function f( {\n")
    assert (e.value.filename, e.value.lineno) == ("<agent>", 1)


def test_a_deployment_that_does_not_compile_is_reported_as_on_an_imp():
    # Code that reaches a running simulation later is the cloud's to reject: the log says so.
    sim = Simulation(device='server.log("v1");\n')
    sim.run("10s")
    sim.cloud.deploy("local x = ;\n")
    sim.run("1m")
    assert sim.fatal_error and "expression expected" in sim.fatal_error


def test_simulation_explains_itself():
    doc = Simulation.__doc__ or ""
    assert "sim.run(" in doc and "CompileError" in doc
