"""Patch 07 (NUL-safe strings): string functions and NUL bytes, in both dialects.

Each test names the function; docs/imp-model/language.md gives the rule and its source."""

from __future__ import annotations

import pytest

import squirrel

# "ab\0cd": a string with a NUL in the middle, built at run time as imp code builds them.
S = 'local z = 0; local s = "ab" + z.tochar() + "cd"; '


@pytest.fixture(params=("imp", "standard"))
def vm(request):
    with squirrel.VM(dialect=request.param) as vm:
        yield vm


def test_find_searches_past_a_nul(vm):
    assert vm.run(S + 'return s.find("cd")') == 3


def test_find_a_needle_that_starts_with_nul(vm):
    assert vm.run(S + "return [s.find(z.tochar()), s.find(z.tochar() + \"c\"), s.find(z.tochar(), 3)]") == [2, 2, None]


def test_find_free_page_style_scan(vm):
    # A flash map of used (1) and free (0) pages, scanned from a start index.
    assert vm.run("""
        local s = "", found = [], at = 0;
        foreach (v in [1, 1, 0, 1, 0, 0, 1, 1]) s += v.tochar();
        while ((at = s.find((0).tochar(), at)) != null) found.push(at++);
        return found;
    """) == [2, 4, 5]


def test_find_keeps_stock_results_for_plain_text(vm):
    assert vm.run('return ["abcabc".find("c", 3), "abc".find(""), "abc".find("", 2), "".find(""), '
                  '"abc".find("abcd"), "abc".find("c", 3), "abc".find("a", -1)]') == [5, 0, 2, None, None, None, None]


def test_slice_copies_nul_bytes(vm):
    assert vm.run(S + "return [s.slice(1, 4), s.slice(-3).len()]") == ["b\x00c", 3]


def test_split_by_length(vm):
    assert vm.run('return split("a\\x00b,c", ",")') == ["a\x00b", "c"]
    assert vm.run('return split("a\\x00b\\x00", "\\x00")') == ["a", "b"]
    assert vm.run('return split("a,b;c", ",;")') == ["a", "b", "c"]


def test_split_with_many_separators_is_one_pass(vm):
    # Every byte value is a separator: stock compared each byte of the text with each of them.
    seps = "".join(f"\\x{i:02x}" for i in range(1, 256) if i != ord("a"))
    assert vm.run(f'local t = "a-"; while (t.len() < 100000) t += t; return split(t, "{seps}").len()') == 65536


def test_strip_family_keeps_what_follows_a_nul(vm):
    assert vm.run('return [lstrip("  a\\x00b "), rstrip(" a\\x00  "), strip(" \\x00 "), strip("\\t a\\x00b \\n")]') == \
        ["a\x00b ", " a\x00", "\x00", "a\x00b"]


def test_strip_of_only_whitespace_is_empty(vm):
    assert vm.run('return [strip("   "), lstrip("  "), rstrip(" "), strip("")]') == ["", "", "", ""]


def test_tolower_toupper_by_length(vm):
    assert vm.run(S + "return [s.toupper(), (\"A\" + z.tochar() + \"B\").tolower()]") == ["AB\x00CD", "a\x00b"]


def test_format_s_by_length(vm):
    assert vm.run(S + 'return [format("[%s]", s), format("[%6s]", s), format("[%-6s]", s), format("[%.3s]", s), '
                      'format("%s|%d", s, 7)]') == ["[ab\x00cd]", "[ ab\x00cd]", "[ab\x00cd ]", "[ab\x00]", "ab\x00cd|7"]


def test_format_s_without_nul_is_unchanged(vm):
    assert vm.run('return [format("[%5s]", "ab"), format("[%-5s]", "ab"), format("[%.1s]", "ab")]') == \
        ["[   ab]", "[ab   ]", "[a]"]


def test_regexp_reads_text_up_to_its_first_nul(vm):
    # The imp documents this for regexp's match; search and capture use the same engine.
    assert vm.run(S + 'return [regexp("ab").match(s), regexp("ab.c").match(s), regexp("c").search(s), '
                      'regexp("(b)").capture(s).len(), regexp("b").search(s).begin]') == [True, False, None, 2, 1]


def test_escape_by_length():
    with squirrel.VM("standard") as vm:
        assert vm.run(S + "return escape(s)") == "ab\\0cd"


def test_equality_compares_whole_strings(vm):
    assert vm.run('return ["r\\x00a" == "r\\x00c", "r\\x00a" != "r\\x00c", "r\\x00a" == "r\\x00a"]') == [False, True, True]


def test_relational_operators_stop_at_the_first_nul(vm):
    # The imp's documented Known Issue, kept: what follows a NUL is ignored.
    assert vm.run('return ["r\\x00c" <=> "r\\x00a", "r\\x00c" > "r\\x00a", "ra" > "r\\x00z"]') == [0, False, True]


def test_tointeger_tofloat_stop_at_a_nul(vm):
    assert vm.run(S.replace('"ab"', '"12"').replace('"cd"', '".5"') +
                  "return [s.tointeger(), s.tofloat(), (\"7\" + z.tochar()).tointeger()]") == [12, 12.0, 7]


def test_print_and_error_pass_the_whole_string():
    out, err = [], []
    with squirrel.VM(print=out.append, error=err.append) as vm:
        vm.run(S + "print(s); error(s); print(42)")
    assert out == ["ab\x00cd", "42"] and err == ["ab\x00cd"]
