"""The imp's named constants, with the values imp-api.md gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from impapi import constants as c

IMP_API = Path(__file__).resolve().parents[3] / "shared" / "docs" / "imp-api.md"


def test_wake_reasons():
    """§5.1 hardware.wakereason() table."""
    assert dict(c.WAKE_REASONS) == {
        "WAKEREASON_POWER_ON": 0,
        "WAKEREASON_TIMER": 1,
        "WAKEREASON_SW_RESET": 2,
        "WAKEREASON_PIN": 3,
        "WAKEREASON_NEW_SQUIRREL": 4,
        "WAKEREASON_SQUIRREL_ERROR": 5,
        "WAKEREASON_NEW_FIRMWARE": 6,
        "WAKEREASON_SNOOZE": 7,
        "WAKEREASON_HW_RESET": 8,
        "WAKEREASON_BLINKUP": 9,
        "WAKEREASON_SW_RESTART": 10,
        "WAKEREASON_POWER_RESTORED": 11,
    }


def test_shutdown_reasons():
    """§1.1 server.onshutdown() reasons."""
    assert dict(c.SHUTDOWN_REASONS) == {"SHUTDOWN_NEWSQUIRREL": 1, "SHUTDOWN_NEWFIRMWARE": 2, "SHUTDOWN_OTHER": 3}


def test_send_errors():
    """§2.1 send error codes (success is a bare 0)."""
    assert dict(c.SEND_ERRORS) == {
        "SEND_ERROR_NOT_CONNECTED": 1,
        "SEND_ERROR_TIMEOUT": 2,
        "SEND_ERROR_DISCONNECTED": 3,
        "SEND_ERROR_WOULDBLOCK": 4,
    }


def test_connection_reasons():
    """§2.2 connection-state / reason constants, NO_LINK sharing NO_WIFI's value."""
    assert dict(c.CONNECTION_REASONS) == {
        "NOT_CONNECTED": 0,
        "NO_WIFI": 1,
        "NO_LINK": 1,
        "NO_IP_ADDRESS": 2,
        "NOT_RESOLVED": 3,
        "NO_SERVER": 4,
        "SERVER_CONNECTED": 5,
        "NO_PROXY": 6,
        "NOT_AUTHORISED": 7,
        "NO_MODEM": 8,
        "SIM_ERROR": 9,
        "NO_REGISTRATION": 10,
        "REGISTRATION_DENIED": 11,
        "NO_PPP_CONNECTION": 12,
        "PPP_NO_CONNECTIVITY": 13,
    }


def test_spiflash_flags_and_environments():
    """§7.3 write flags; §4.3 imp.environment() values."""
    assert dict(c.SPIFLASH_FLAGS) == {"SPIFLASH_POSTVERIFY": 1, "SPIFLASH_PREVERIFY": 2}
    assert dict(c.ENVIRONMENTS) == {"ENVIRONMENT_CARD": 0, "ENVIRONMENT_MODULE": 1, "ENVIRONMENT_AGENT": 2}


def test_policy_values_are_our_documented_choice_and_distinct():
    """§2.3/§12 gap 1: the real values are unknown; the sheet suggests 0/1/2 and 0/1."""
    assert dict(c.ERROR_POLICIES) == {"SUSPEND_ON_ERROR": 0, "RETURN_ON_ERROR": 1, "RETURN_ON_ERROR_NO_DISCONNECT": 2}
    assert dict(c.WAIT_POLICIES) == {"WAIT_TIL_SENT": 0, "WAIT_FOR_ACK": 1}


def test_rand_max_fits_a_32_bit_int():
    """§9.2 / §12 gap 9: RAND_MAX unconfirmed; 2^31-1 fits the imp's signed 32-bit ints."""
    assert c.RAND_MAX == 2**31 - 1


def test_groups_are_plain_int_mappings_and_read_only():
    for name, group in c.GROUPS.items():
        assert group, name
        for key, value in group.items():
            assert type(value) is int, key
            assert getattr(c, key) == value
    with pytest.raises(TypeError):
        c.WAKE_REASONS["X"] = 1  # type: ignore[index]


def test_all_holds_every_group_and_no_name_clashes():
    names = [n for g in c.GROUPS.values() for n in g]
    assert len(names) == len(set(names))
    assert dict(c.ALL) == {n: v for g in c.GROUPS.values() for n, v in g.items()}


def test_name_of_prefers_the_first_name():
    assert c.name_of(c.CONNECTION_REASONS, 1) == "NO_WIFI"
    assert c.name_of(c.WAKE_REASONS, 7) == "WAKEREASON_SNOOZE"
    with pytest.raises(ValueError, match="99 is not a value of this group"):
        c.name_of(c.SEND_ERRORS, 99)


NAMES = Path(__file__).with_name("imp_api_names.txt")


def _doc_names() -> set[str]:
    return {line for line in NAMES.read_text().splitlines() if line and not line.startswith("#")}


def test_every_constant_named_in_imp_api_md_exists():
    """Every backticked UPPER_CASE name in imp-api.md is registered, except KB (a unit in the
    text) and PI (a float from Squirrel's own math library, §9.2). The names are kept beside
    this test (so it runs without the shared docs) and checked against the document when it is
    there."""
    names = _doc_names()
    if IMP_API.exists():
        named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", IMP_API.read_text()))
        assert named == names, "imp-api.md changed: regenerate tests/impapi/imp_api_names.txt"
    assert len(names) > 40
    assert names - set(c.ALL) - {"KB", "PI"} == set()
