"""Module profiles and imp.getsoftwareversion()."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impapi.constants import (
    ENVIRONMENT_CARD,
    ENVIRONMENT_MODULE,
    NO_LINK,
    NO_REGISTRATION,
    NO_WIFI,
    WAKE_REASONS,
    WAKEREASON_HW_RESET,
)
from impapi.flash import SECTOR_SIZE, SpiFlash
from impapi.profiles import (
    DEFAULT_IMPOS,
    PROFILES,
    Profile,
    get_profile,
    parse_impos,
    software_version,
)

NAMES = ["imp001", "imp002", "imp003", "imp004m", "imp005", "imp006", "impC001"]


def squirrel_split(text: str, seps: str) -> list[str]:
    """Stock Squirrel 3 split(): seps is a set of characters, empty tokens dropped (§9.3)."""
    return [t for t in re.split("[" + re.escape(seps) + "]", text) if t]


def squirrel_tofloat(text: str) -> float:
    """string.tofloat(): strtod on the leading number, trailing text ignored."""
    match = re.match(r"\s*[-+]?\d*\.?\d+", text)
    assert match, f"tofloat would fail on {text!r}"
    return float(match.group(0))


def test_all_seven_modules_and_their_info_type():
    """§4.3: imp.info().type is the module name."""
    assert list(PROFILES) == NAMES
    for name in NAMES:
        assert get_profile(name).info_type == name


def test_environment():
    """§4.3: imp.environment() is ENVIRONMENT_CARD (0) for the imp001 card, MODULE (1) for modules."""
    assert get_profile("imp001").environment == ENVIRONMENT_CARD == 0
    for name in NAMES[1:]:
        assert get_profile(name).environment == ENVIRONMENT_MODULE == 1


def test_spiflash_presence_and_sizes():
    """§7.1: spiflash from imp003 on; imp003 leaves 64 KB and imp004m 248 KB to Squirrel."""
    assert not get_profile("imp001").has_spiflash and not get_profile("imp002").has_spiflash
    assert get_profile("imp001").spiflash_size == 0
    assert get_profile("imp003").spiflash_size == 64 * 1024
    assert get_profile("imp004m").spiflash_size == 248 * 1024
    for name in NAMES[2:]:
        p = get_profile(name)
        assert p.has_spiflash and p.spiflash_size % SECTOR_SIZE == 0 and p.spiflash_size > 0
        assert p.spiflash_chipid is not None and 0 < p.spiflash_chipid <= 0xFFFFFF


def test_profiles_build_working_flash_chips():
    for name in NAMES[2:]:
        p = get_profile(name)
        f = SpiFlash(p.spiflash_size, chipid=p.spiflash_chipid, speeds=p.spiflash_speeds)
        assert f.size == p.spiflash_size and f.chipid() == p.spiflash_chipid


def test_setspeed_only_on_imp003_and_imp004m():
    """§7.3: imp003 4.5/9/18 MHz, imp004m 3/6/12 MHz; no setspeed elsewhere."""
    assert get_profile("imp003").spiflash_speeds == (4_500_000, 9_000_000, 18_000_000)
    assert get_profile("imp004m").spiflash_speeds == (3_000_000, 6_000_000, 12_000_000)
    assert {n for n in NAMES if get_profile(n).spiflash_speeds} == {"imp003", "imp004m"}


def test_spiflash_info_only_on_imp005():
    """§7.3: spiflash.info() is imp005 only."""
    assert {n for n in NAMES if get_profile(n).has_spiflash_info} == {"imp005"}


def test_nv_and_deep_sleep():
    """§6: no nv on imp004m (transition guide) or imp005 (no deep sleep); §2.10: imp005 cannot deep-sleep."""
    assert not get_profile("imp004m").has_nv
    assert not get_profile("imp005").has_nv
    assert not get_profile("imp005").has_deep_sleep
    for name in ("imp001", "imp002", "imp003"):
        assert get_profile(name).has_nv and get_profile(name).has_deep_sleep


def test_wake_reasons():
    """§5.1: imp005 supports only 0, 2, 4, 5, 8, 10; HW_RESET (RESET_L) from imp003 on."""
    assert get_profile("imp005").wake_reasons == {0, 2, 4, 5, 8, 10}
    assert WAKEREASON_HW_RESET not in get_profile("imp001").wake_reasons
    assert WAKEREASON_HW_RESET not in get_profile("imp002").wake_reasons
    assert get_profile("imp003").wake_reasons == set(WAKE_REASONS.values())


def test_getimpeeid_absent_on_imp004m_and_imp005():
    """§5.2: hardware.getimpeeid() is absent on imp004m/imp005."""
    assert not get_profile("imp004m").has_impeeid and not get_profile("imp005").has_impeeid
    assert get_profile("imp001").has_impeeid


def test_memory_budgets_are_plausible_and_ordered():
    p = {n: get_profile(n) for n in NAMES}
    assert p["imp002"].memory_free == 85 * 1024  # transition guide: 85 KB application RAM
    assert p["imp004m"].memory_free == 184 * 1024  # transition guide: 184 KB
    assert p["imp002"].memory_free < p["imp003"].memory_free < p["imp004m"].memory_free < p["imp005"].memory_free
    assert all(q.code_space >= 128 * 1024 for q in p.values())


def test_outage_reason_follows_the_interface():
    """§2.2: NO_WIFI for WiFi, NO_LINK for Ethernet (same value), cellular registration."""
    assert get_profile("imp003").default_outage_reason == NO_WIFI
    assert get_profile("imp005").default_outage_reason == NO_LINK
    assert get_profile("impC001").default_outage_reason == NO_REGISTRATION


def test_profiles_are_frozen_and_replaceable():
    p = get_profile("imp003")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.spiflash_size = 1  # type: ignore[misc]
    q = dataclasses.replace(p, spiflash_size=1024 * 1024)
    assert q.spiflash_size == 1024 * 1024 and p.spiflash_size == 64 * 1024
    assert isinstance(q, Profile)


def test_get_profile_is_case_insensitive_and_lists_valid_names():
    assert get_profile("IMPC001").name == "impC001"
    assert get_profile(" imp004M ").name == "imp004m"
    names = "imp001, imp002, imp003, imp004m, imp005, imp006, impC001"
    with pytest.raises(ValueError, match=f"unknown imp module 'imp007': use one of {names}"):
        get_profile("imp007")


# -- software version (§4.3) ------------------------------------------------------------------


def test_software_version_has_the_real_shape():
    """§4.3: '<shortsha> - release-<MAJOR.MINOR> - <date string> - production'."""
    v = software_version("35.7")
    assert re.fullmatch(r"[0-9a-f]{7} - release-35\.7 - \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - production", v), v


def test_libraries_parse_the_version_with_split():
    """§4.3: libraries do split(imp.getsoftwareversion(), "-")[2].tofloat() and get e.g. 35.7."""
    v = software_version("35.7")
    assert squirrel_tofloat(squirrel_split(v, "-")[2]) == pytest.approx(35.7)


@given(major=st.integers(20, 99), minor=st.integers(0, 99))
def test_split_parse_works_for_any_release(major, minor):
    v = software_version(f"{major}.{minor}")
    token = squirrel_split(v, "-")[2]
    assert token.strip() == f"{major}.{minor}"
    assert squirrel_tofloat(token) == pytest.approx(float(f"{major}.{minor}"))


def test_software_version_is_deterministic_and_release_specific():
    assert software_version("43.1") == software_version("43.1")
    assert software_version("43.1") != software_version("43.2")
    p = get_profile("imp006")
    assert p.software_version() == software_version(DEFAULT_IMPOS) == software_version(p.default_impos)
    assert p.software_version("38.5") == software_version("38.5")


def test_default_impos_is_recent():
    """imp-api.md: behave like a recent impOS (>= 38 or >= 42) unless told otherwise."""
    assert parse_impos(DEFAULT_IMPOS) >= (42, 0)


def test_parse_impos():
    assert parse_impos("43.1") == (43, 1)
    assert parse_impos("38") == (38, 0)
    assert parse_impos(36) == (36, 0)
    assert parse_impos("34.12") > parse_impos("34.9")
    for bad in ("", "x", "43.", "4 3", "-1.0"):
        with pytest.raises(ValueError, match="use MAJOR.MINOR"):
            parse_impos(bad)
    with pytest.raises(TypeError, match="as a string"):
        parse_impos(43.1)


@pytest.mark.parametrize("version", ["99999.0", "43.1000", 1000])
def test_impos_versions_beyond_999_are_refused(version):
    with pytest.raises(ValueError, match="MAJOR and MINOR are at most 999"):
        parse_impos(version)
