"""hardware.spiflash: NOR semantics, enable state, write flags, speeds, image files, activity."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impapi.constants import SPIFLASH_POSTVERIFY, SPIFLASH_PREVERIFY
from impapi.flash import (
    NOT_ENABLED,
    SECTOR_SIZE,
    FlashError,
    FlashImageError,
    FlashOp,
    SpiFlash,
)

SIZE = 64 * 1024


def flash(**kw) -> SpiFlash:
    f = SpiFlash(kw.pop("size", SIZE), **kw)
    f.enable()
    return f


# -- NOR semantics (imp-api.md §7.2) ----------------------------------------------------------


def test_a_new_chip_reads_erased_0xff():
    """§7.2: an erased cell reads as 1, so an erased byte is 0xFF."""
    f = flash()
    assert f.read(0, 16) == b"\xff" * 16
    assert f.read(SIZE - 4, 4) == b"\xff" * 4


def test_writing_can_only_clear_bits():
    """§7.2: programming turns 1s into 0s only; the stored byte is old AND data."""
    f = flash()
    assert f.write(0, b"\xf0\x0f\xaa") == 0
    assert f.read(0, 3) == b"\xf0\x0f\xaa"
    assert f.write(0, b"\x0f\xff\x55") == 0  # no verification asked: "succeeds"
    assert f.read(0, 3) == b"\x00\x0f\x00"


def test_erase_restores_a_whole_4k_sector_and_only_it():
    """§7.2, §7.3: only an erase sets bits back to 1, a 4 KB sector at a time."""
    f = flash()
    f.write(SECTOR_SIZE - 2, b"\x00" * 4)  # straddles sectors 0 and 1
    f.erasesector(SECTOR_SIZE)
    assert f.read(SECTOR_SIZE - 2, 4) == b"\x00\x00\xff\xff"
    f.erasesector(0)
    assert f.read(0, 2 * SECTOR_SIZE) == b"\xff" * (2 * SECTOR_SIZE)


def test_erasesector_requires_a_sector_aligned_address():
    """§7.3: address must be a multiple of 4096 (0x1000), else a Squirrel error."""
    f = flash()
    with pytest.raises(FlashError, match=r"address 0x1001 is not a multiple of 4096 \(0x1000\)"):
        f.erasesector(0x1001)
    with pytest.raises(FlashError, match="not a multiple of 4096"):
        f.erasesector(-1)


def test_erasesector_out_of_range():
    f = flash()
    with pytest.raises(FlashError, match=r"0x10000 is out of range: valid sector addresses are 0 to 0xF000"):
        f.erasesector(SIZE)
    with pytest.raises(FlashError, match="-4096 is out of range"):
        f.erasesector(-4096)


# -- enable / disable (§7.3) ------------------------------------------------------------------


def test_reads_writes_and_erases_need_enable():
    """§7.3: enable() must be called before any read, write or erase; otherwise a Squirrel error."""
    f = SpiFlash(SIZE)
    assert not f.enabled
    for call in (lambda: f.read(0, 1), lambda: f.write(0, b"\x00"), lambda: f.erasesector(0)):
        with pytest.raises(FlashError) as info:
            call()
        assert str(info.value) == NOT_ENABLED == "spiflash is not enabled: call hardware.spiflash.enable() first"
    f.enable()
    f.write(0, b"\x00")
    f.disable()
    with pytest.raises(FlashError, match="not enabled"):
        f.read(0, 1)
    f.enable()
    assert f.read(0, 1) == b"\x00"  # data survives disable


def test_size_and_chipid_work_while_disabled():
    """§7.3: size() is the user part; chipid() is the 3-byte JEDEC ID."""
    f = SpiFlash(SIZE, chipid=0xC22013)
    assert f.size == SIZE
    assert f.chipid() == 0xC22013


def test_reset_disables_and_keeps_data():
    f = flash(speeds=(4_500_000, 9_000_000, 18_000_000))
    f.write(0, b"\x12")
    f.setspeed(18_000_000)
    f.enable()
    f.reset()
    assert not f.enabled and f.speed == 4_500_000
    f.enable()
    assert f.read(0, 1) == b"\x12"


# -- ranges -----------------------------------------------------------------------------------


def test_read_range_checks():
    """§7.3: a range outside [0, size()) raises."""
    f = flash()
    assert f.read(SIZE - 1, 1) == b"\xff"
    assert f.read(0, 0) == b""
    with pytest.raises(FlashError, match=r"read of 2 bytes at 0xFFFF is out of range: the flash holds 0x10000 \(65536\) bytes"):
        f.read(SIZE - 1, 2)
    with pytest.raises(FlashError, match="read of 1 bytes at -1 is out of range"):
        f.read(-1, 1)
    with pytest.raises(FlashError, match="length must not be negative"):
        f.read(0, -1)
    with pytest.raises(FlashError, match="must be integers"):
        f.read(0.5, 1)  # type: ignore[arg-type]


def test_write_range_checks_and_writes_nothing_on_error():
    f = flash()
    with pytest.raises(FlashError, match="write of 4 bytes at 0xFFFE is out of range"):
        f.write(SIZE - 2, b"\x00" * 4)
    assert f.read(SIZE - 2, 2) == b"\xff\xff"
    assert f.ops == ()


# -- write flags and sub-ranges (§7.3) --------------------------------------------------------


def test_flag_values():
    """§7.3: SPIFLASH_PREVERIFY = 2, SPIFLASH_POSTVERIFY = 1."""
    assert (SPIFLASH_PREVERIFY, SPIFLASH_POSTVERIFY) == (2, 1)


def test_preverify_refuses_a_write_that_needs_a_0_to_1_change():
    """§7.3: with PREVERIFY, if the write cannot succeed nothing is written and it returns
    failure: 2, the value of the flag that failed (electricimp/SpiFlash)."""
    f = flash()
    f.write(0, b"\x0f\xff")
    assert f.write(0, b"\xff\x00", SPIFLASH_PREVERIFY) == SPIFLASH_PREVERIFY == 2
    assert f.read(0, 2) == b"\x0f\xff"  # untouched, not even the byte that could be written


def test_preverify_passes_when_only_clearing_bits():
    f = flash()
    f.write(0, b"\x0f")
    assert f.write(0, b"\x05", SPIFLASH_PREVERIFY) == 0
    assert f.read(0, 1) == b"\x05"


def test_postverify_reports_a_mismatch_after_writing():
    """§7.3: POSTVERIFY reads back and compares; failure returns 1 (the flag's value). The
    write itself still happened with NOR semantics."""
    f = flash()
    f.write(0, b"\x0f")
    assert f.write(0, b"\xf1", SPIFLASH_POSTVERIFY) == SPIFLASH_POSTVERIFY == 1
    assert f.read(0, 1) == b"\x01"
    assert f.write(16, b"\x12\x34", SPIFLASH_POSTVERIFY) == 0


def test_both_flags_prefer_the_preverify_result():
    f = flash()
    f.write(0, b"\x00")
    assert f.write(0, b"\xff", SPIFLASH_PREVERIFY | SPIFLASH_POSTVERIFY) == SPIFLASH_PREVERIFY
    assert f.write(1, b"\xab", SPIFLASH_PREVERIFY | SPIFLASH_POSTVERIFY) == 0


def test_no_verification_returns_zero_even_on_mismatch():
    """§7.3: 0 means no verification was requested or verification passed."""
    f = flash()
    f.write(0, b"\x00")
    assert f.write(0, b"\xff") == 0


def test_start_and_end_select_part_of_the_source():
    """§7.3: startIndex/endIndex select part of the blob; default the whole blob."""
    f = flash()
    assert f.write(100, b"0123456789", 0, 2, 5) == 0
    assert f.read(99, 5) == b"\xff234\xff"
    assert f.write(200, b"abcdef", 0, 4) == 0
    assert f.read(200, 3) == b"ef\xff"
    assert f.write(300, bytearray(b"xy")) == 0 and f.write(302, memoryview(b"z")) == 0
    assert f.read(300, 3) == b"xyz"


@pytest.mark.parametrize(("start", "end"), [(-1, None), (3, 2), (0, 11), (11, None), (1.0, None)])
def test_bad_start_or_end(start, end):
    f = flash()
    with pytest.raises(FlashError, match=r"start/end .* out of range for a source of 10 bytes: need 0 <= start <= end <= 10"):
        f.write(0, b"0123456789", 0, start, end)


@pytest.mark.parametrize("flags", [4, 7, -1, True, "2"])
def test_bad_flags(flags):
    f = flash()
    with pytest.raises(FlashError, match="invalid spiflash write flags.*SPIFLASH_PREVERIFY, SPIFLASH_POSTVERIFY, both or 0"):
        f.write(0, b"\x00", flags)


def test_source_must_be_bytes_like():
    f = flash()
    with pytest.raises(TypeError, match="bytes-like"):
        f.write(0, "text")  # type: ignore[arg-type]


def test_flash_errors_are_value_errors():
    assert issubclass(FlashError, ValueError) and issubclass(FlashImageError, ValueError)
    assert not issubclass(FlashImageError, FlashError)  # configuration, not Squirrel's fault


# -- setspeed [doc D:api/hardware/spiflash/setspeed; imp-api.md §7.3] -------------------------


IMP003 = (4_500_000, 9_000_000, 18_000_000)
IMP004M = (3_000_000, 6_000_000, 12_000_000)


def test_default_speed_is_the_documented_default():
    """§7.3: imp003 defaults to 4.5 MHz, imp004m to 3 MHz."""
    assert SpiFlash(SIZE, speeds=IMP003).speed == 4_500_000
    assert SpiFlash(SIZE, speeds=IMP004M).speed == 3_000_000
    assert SpiFlash(SIZE).speed is None


@pytest.mark.parametrize(
    ("speeds", "asked", "got"),
    [
        (IMP003, 4_500_000, 4_500_000),
        (IMP003, 10_000_000, 9_000_000),
        (IMP003, 17_999_999.5, 9_000_000),
        (IMP003, 18_000_000, 18_000_000),
        (IMP004M, 11_000_000, 6_000_000),
        (IMP004M, 3e6, 3_000_000),
    ],
)
def test_setspeed_rounds_down_to_a_valid_speed(speeds, asked, got):
    """The method returns the speed applied, rounded down to the nearest valid speed."""
    assert SpiFlash(SIZE, speeds=speeds).setspeed(asked) == got


def test_setspeed_applies_at_the_next_enable():
    f = flash(speeds=IMP003)
    assert f.setspeed(18_000_000) == 18_000_000
    assert f.speed == 4_500_000
    f.enable()
    assert f.speed == 18_000_000


@pytest.mark.parametrize("asked", [4_499_999, 18_000_001, 0, -5])
def test_setspeed_out_of_range_raises(asked):
    """§7.3: an out-of-range value raises an exception."""
    with pytest.raises(FlashError, match=r"out of range: this module supports 4500000, 9000000, 18000000 Hz"):
        SpiFlash(SIZE, speeds=IMP003).setspeed(asked)


def test_setspeed_absent_on_other_modules():
    """§7.3: setspeed() is imp003 and imp004m only."""
    with pytest.raises(FlashError, match="not available on this module"):
        SpiFlash(SIZE).setspeed(1_000_000)


# -- construction and image files -------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -4096, 1000, 4097])
def test_size_must_be_whole_sectors(size):
    with pytest.raises(ValueError, match="positive multiple of 4096"):
        SpiFlash(size)


def test_missing_image_starts_erased_and_is_created_on_sync(tmp_path):
    path = tmp_path / "sub" / "flash.bin"
    (tmp_path / "sub").mkdir()
    f = SpiFlash(SIZE, image=path)
    f.enable()
    assert f.read(0, 4) == b"\xff" * 4
    assert not path.exists()
    f.write(10, b"hello")
    f.sync()
    data = path.read_bytes()
    assert len(data) == SIZE and data[10:15] == b"hello"
    assert [p.name for p in path.parent.iterdir()] == ["flash.bin"]  # no temp files left


def test_an_image_path_that_cannot_be_written_is_refused_before_anything_runs(tmp_path):
    """The image is written at the end of a run: a path whose directory does not exist, or a
    pipe or a device, fails at once (and no directory is made)."""
    with pytest.raises(ValueError, match="the directory .*nodir does not exist"):
        SpiFlash(SIZE, image=tmp_path / "nodir" / "flash.bin")
    assert not (tmp_path / "nodir").exists()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        with pytest.raises(ValueError, match="not a regular file"):
            SpiFlash(SIZE, image=path)


def test_image_is_loaded_and_saved_on_close(tmp_path):
    path = tmp_path / "flash.bin"
    with SpiFlash(SIZE, image=path) as f:
        f.enable()
        f.write(0, b"\x01\x02")
    g = SpiFlash(SIZE, image=path)
    g.enable()
    assert g.read(0, 3) == b"\x01\x02\xff"
    g.erasesector(0)
    g.close()
    assert path.read_bytes()[:2] == b"\xff\xff"


def test_saving_an_image_keeps_its_permissions_and_writes_through_a_symlink(tmp_path):
    real = tmp_path / "images" / "flash.bin"
    real.parent.mkdir()
    real.write_bytes(b"\xff" * SIZE)
    real.chmod(0o644)
    link = tmp_path / "flash.link"
    link.symlink_to(real)
    with SpiFlash(SIZE, image=link) as f:
        f.enable()
        f.write(0, b"ok")
    assert link.is_symlink() and real.read_bytes()[:2] == b"ok"
    assert real.stat().st_mode & 0o777 == 0o644


def test_image_size_mismatch_is_a_clear_error(tmp_path):
    path = tmp_path / "flash.bin"
    path.write_bytes(b"\xff" * 8192)
    with pytest.raises(FlashImageError, match=r"is 8192 bytes but this device's flash is 65536 bytes.*delete the file"):
        SpiFlash(SIZE, image=path)


def test_image_snapshot_and_load():
    f = flash(size=8192)
    f.write(0, b"\x00")
    snap = f.image
    assert len(snap) == 8192 and snap[0] == 0
    g = SpiFlash(8192)
    g.load_image(snap)
    assert g.peek(0, 2) == b"\x00\xff"
    with pytest.raises(FlashImageError):
        g.load_image(b"\xff")


def test_peek_needs_no_enable_and_leaves_no_trace():
    f = SpiFlash(SIZE)
    assert f.peek(0, 2) == b"\xff\xff"
    assert f.ops == ()
    with pytest.raises(FlashError):
        f.peek(SIZE, 1)


# -- activity for the fuzzer ------------------------------------------------------------------


def test_erase_counts_per_sector():
    f = flash()
    f.erasesector(0)
    f.erasesector(0)
    f.erasesector(3 * SECTOR_SIZE)
    assert f.erase_counts[:4] == (2, 0, 0, 1)
    assert len(f.erase_counts) == SIZE // SECTOR_SIZE
    assert f.erase_count(3 * SECTOR_SIZE + 17) == 1


def test_operation_log_with_virtual_time():
    now = [0]
    f = flash(now=lambda: now[0])
    now[0] = 1_000
    f.write(8, b"abc")
    now[0] = 2_000
    f.erasesector(0)
    now[0] = 3_000
    f.write(0, b"\x00")
    f.write(0, b"\xff", SPIFLASH_PREVERIFY)
    f.write(0, b"", SPIFLASH_PREVERIFY)  # zero-length: not recorded
    f.read(0, 10)  # reads are not recorded
    assert f.ops == (
        FlashOp("write", 8, 3, 1_000, 0),
        FlashOp("erase", 0, SECTOR_SIZE, 2_000, 0),
        FlashOp("write", 0, 1, 3_000, 0),
        FlashOp("write", 0, 1, 3_000, SPIFLASH_PREVERIFY),
    )
    f.clear_ops()
    assert f.ops == ()


def test_operation_log_without_a_clock_has_no_times():
    f = flash()
    f.write(0, b"x")
    assert f.ops[0].time_us is None


# -- model check ------------------------------------------------------------------------------

SMALL = 2 * SECTOR_SIZE

op = st.one_of(
    st.tuples(
        st.just("write"),
        st.integers(0, SMALL - 1),
        st.binary(min_size=0, max_size=64),
        st.sampled_from([0, 1, 2, 3]),
    ),
    st.tuples(st.just("erase"), st.sampled_from([0, SECTOR_SIZE]), st.just(b""), st.just(0)),
)


@settings(max_examples=150)
@given(st.lists(op, max_size=40))
def test_matches_a_byte_by_byte_nor_model(ops):
    f = flash(size=SMALL)
    model = bytearray(b"\xff" * SMALL)
    for kind, addr, data, flags in ops:
        if kind == "erase":
            f.erasesector(addr)
            model[addr : addr + SECTOR_SIZE] = b"\xff" * SECTOR_SIZE
            continue
        if addr + len(data) > SMALL:
            with pytest.raises(FlashError):
                f.write(addr, data, flags)
            continue
        old = model[addr : addr + len(data)]
        can = all(o & d == d for o, d in zip(old, data))
        result = f.write(addr, data, flags)
        if flags & SPIFLASH_PREVERIFY and not can:
            assert result == SPIFLASH_PREVERIFY
            continue
        for i, d in enumerate(data):
            model[addr + i] &= d
        expected = SPIFLASH_POSTVERIFY if flags & SPIFLASH_POSTVERIFY and not can else 0
        assert result == expected
    assert f.read(0, SMALL) == bytes(model)
