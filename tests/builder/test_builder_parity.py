"""Directive arguments read the way Electric Imp's Builder reads them.

Builder parses every argument with jsep 0.3, whose top level skips ``;`` and ``,`` between
expressions (one expression is its value; none or several are a syntax error), and first strips
``//`` and ``/* */`` comments from directive arguments (not from inline ``@{...}``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from impapi.builder import Builder, BuildError, BuildWarning, evaluate
from impapi.builder.expressions import strip_comments


def build(tmp_path: Path, files: dict[str, str], main: str = "main.nut"):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return Builder(home=tmp_path, env={}, line_control=False).build_file(tmp_path / main)


def text(tmp_path: Path, main_text: str, **files: str) -> str:
    return build(tmp_path, {"main.nut": main_text, **files}).text


# --------------------------------------------------------------------------- separators


@pytest.mark.parametrize("arg", ['"x.nut";', '"x.nut",', '"x.nut" ;', ';"x.nut"', '"x.nut";;', '"x.nut"; // done'])
def test_include_with_separators(tmp_path, arg):
    assert text(tmp_path, f"@include {arg}\n", **{"x.nut": "x\n"}) == "x\n"


def test_include_once_with_separator(tmp_path):
    src = '@include once "x.nut";\n@include once "x.nut";\n@include "x.nut";\n'
    assert text(tmp_path, src, **{"x.nut": "x\n"}) == "x\nx\n"


def test_include_macro_call_with_separator(tmp_path):
    src = "@macro m(a);\n[@{a}]\n@endmacro\n@include m(7);\n"
    assert text(tmp_path, src) == "[7]\n"


@pytest.mark.parametrize("src, out", [
    ("@set A 1;\n@{A}\n", "1\n"),
    ("@set A = 2,\n@{A}\n", "2\n"),
    ('@set S "a;b";\n@{S}\n', "a;b\n"),
    ("@if 1;\nyes\n@endif\n", "yes\n"),
    ("@if 0;\nno\n@elseif 1;\nyes\n@else\nno\n@endif\n", "yes\n"),
    ("@set N 0\n@while N < 2;\n@{N}\n@set N N + 1;\n@endwhile\n", "0\n1\n"),
    ("@repeat 2;\n@{loop.iteration}\n@endrepeat\n", "1\n2\n"),
])
def test_directives_with_separators(tmp_path, src, out):
    assert text(tmp_path, src) == out


def test_error_and_warning_with_separators(tmp_path):
    r = build(tmp_path, {"main.nut": '@warning "careful";\nx\n'})
    assert r.warnings == [BuildWarning("careful", "main.nut", 1)]
    with pytest.raises(BuildError) as info:
        text(tmp_path, '@error "stop",\n')
    assert (info.value.message, info.value.line) == ("stop", 1)


@pytest.mark.parametrize("src", [
    '@include "x.nut"; "y.nut"\n',
    '@include once "x.nut", "y.nut"\n',
    "@set A 1; 2\n",
    "@set A 1 2\n",
    "@if 1, 0\nx\n@endif\n",
    "@if 0\n@elseif 1;1\n@endif\n",
    '@error "a"; "b"\n',
    '@warning "a" "b"\n',
    "@while 0;0\n@endwhile\n",
    "@repeat 1,1\n@endrepeat\n",
])
def test_several_expressions_are_a_syntax_error(tmp_path, src):
    with pytest.raises(BuildError) as info:
        text(tmp_path, src, **{"x.nut": "x\n", "y.nut": "y\n"})
    assert info.value.message.startswith("Syntax error: unexpected")
    assert info.value.file == "main.nut" and info.value.line in (1, 2)


@pytest.mark.parametrize("src", ["@set A ;\n", "@include ,\n", "@if ;;\n@endif\n"])
def test_separators_alone_are_a_syntax_error(tmp_path, src):
    with pytest.raises(BuildError) as info:
        text(tmp_path, src)
    assert info.value.message.startswith("Syntax error: no expression")


def test_separators_inside_brackets_are_not_skipped(tmp_path):
    with pytest.raises(BuildError, match="expected"):
        text(tmp_path, "@set A (1;)\n")
    assert text(tmp_path, "@set A [1, 2];\n@{A}\n") == "1,2\n"


# --------------------------------------------------------------------------- inline expressions


@pytest.mark.parametrize("inline, out", [("@{A;}", "3"), ("@{A,}", "3"), ("@{;A}", "3"), ("@{'}';}", "}")])
def test_inline_with_separators(tmp_path, inline, out):
    assert text(tmp_path, f"@set A 3\nv = {inline};\n") == f"v = {out};\n"


@pytest.mark.parametrize("inline", ["@{A;A}", "@{A A}", "@{;}", "@{A /* c */}", "@{A // c}"])
def test_inline_syntax_errors(tmp_path, inline):
    # Builder strips comments from directive arguments only: in @{...} a comment is a syntax error.
    with pytest.raises(BuildError) as info:
        text(tmp_path, f"@set A 3\nv = {inline};\n")
    assert info.value.line == 2


# --------------------------------------------------------------------------- comments


@pytest.mark.parametrize("arg", [
    '"x.nut" // a comment',
    '"x.nut"// a comment with "quotes" and (brackets',
    '/* before */ "x.nut"',
    '"x.nut" /* after */',
    '"x" + /* in the middle */ ".nut"',
    '"x.nut" /* a */ /* b */;',
])
def test_include_comments(tmp_path, arg):
    assert text(tmp_path, f"@include {arg}\n", **{"x.nut": "x\n"}) == "x\n"


@pytest.mark.parametrize("src, out", [
    ("@set A /* one */ 1\n@{A}\n", "1\n"),
    # The comment is cut out with nothing in its place, as Builder does.
    ("@set A 1/**/2\n@{A}\n", "12\n"),
    ('@set S "a//b" // c\n@{S}\n', "a//b\n"),
    ('@set S \'a/*b*/c\'\n@{S}\n', "a/*b*/c\n"),
    ("@if 0 /* c */ || 1\nyes\n@elseif /* c */ 1\nno\n@else /* c */\nno\n@endif /* c */\n", "yes\n"),
    ("@repeat 2 /* times */\nr\n@endrepeat // done\n", "r\nr\n"),
    ("@macro m(a) /* declaration */\n<@{a}>\n@end // m\n@{m(1)}\n", "<1>\n"),
])
def test_directive_comments(tmp_path, src, out):
    assert text(tmp_path, src) == out


def test_error_and_warning_comments(tmp_path):
    r = build(tmp_path, {"main.nut": '@warning "w" /* c */\n'})
    assert r.warnings == [BuildWarning("w", "main.nut", 1)]
    with pytest.raises(BuildError) as info:
        text(tmp_path, '@error /* c */ "e" // c\n')
    assert info.value.message == "e"


@pytest.mark.parametrize("src", ["@if /* only a comment */\n@endif\n", "@set A // nothing\n"])
def test_argument_that_is_only_a_comment(tmp_path, src):
    with pytest.raises(BuildError, match="needs an argument|bad @set"):
        text(tmp_path, src)


def test_unclosed_block_comment_drops_the_rest(tmp_path):
    assert text(tmp_path, "@set A 1 /* never closed + 5\n@{A}\n") == "1\n"


@pytest.mark.parametrize("arg, out", [
    ('"a" // c', '"a" '),
    ("/* c */ a", " a"),
    ("/* a */ /* b */", ""),
    ('"/*" + \'//\'', '"/*" + \'//\''),
    ('"a\\"//" // c', '"a\\"//" '),
    ("a\\//b", "a\\//b"),
    ('"open // string', '"'),
    ("no comment", "no comment"),
])
def test_strip_comments(arg, out):
    assert strip_comments(arg) == out


def test_evaluate_reads_a_directive_argument():
    assert evaluate("1; // c") == 1
    assert evaluate("/* c */ 'a' + 'b',") == "ab"


# --------------------------------------------------------------------------- through impsim test


def test_test_file_including_with_a_semicolon_passes(tmp_path, monkeypatch, capsys):
    from impapi.testing.cli_test import add_test_parser, cmd_test

    monkeypatch.delenv("IMPSIM_LIB_PATH", raising=False)
    monkeypatch.delenv("IMPSIM_GITHUB_DIR", raising=False)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "global.nut").write_text("const ANSWER = 42;\n")
    (tmp_path / "tests" / "a.test.nut").write_text(
        '@include "tests/global.nut"; // shared constants\n'
        "class A extends ImpTestCase { function testAnswer() { assertEqual(42, ANSWER); } }\n"
    )
    (tmp_path / ".impt.test").write_text("{}")
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser(prog="impsim")
    add_test_parser(parser.add_subparsers(dest="command", required=True))
    assert cmd_test(parser.parse_args(["test"])) == 0
    out = capsys.readouterr().out
    assert "A::testAnswer()" in out and out.endswith("Testing succeeded\nIMPT COMMAND SUCCEEDS\n")


# --------------------------------------------------------------------------- what Builder refuses


@pytest.mark.parametrize("src, message", [
    ("@if VALUE == 0x10\nx\n@endif\n", "Builder has no hexadecimal literals"),
    ("@if VALUE === 16\nx\n@endif\n", "=== is not an operator"),
    ("@set HALF VALUE / 0\n", "division by zero"),
    ("v = @{CONFIG.missing};\n", "no member 'missing' in the object"),
])
def test_builder_4_2_refusals_are_errors_at_the_line(tmp_path, src, message):
    # Builder 4.2 fails the build on each of these, so impt cannot deploy the code: a build here
    # must fail too, pointing at the line.
    (tmp_path / "main.nut").write_text("// app\n" + src)
    builder = Builder(home=tmp_path, env={}, line_control=False, variables={"VALUE": 16, "CONFIG": {"on": 1}})
    with pytest.raises(BuildError) as info:
        builder.build_file(tmp_path / "main.nut")
    assert message in info.value.message
    assert (info.value.file, info.value.line) == ("main.nut", 2)


def test_escapes_in_directive_strings_are_jseps(tmp_path):
    assert text(tmp_path, '@set S "a\\x41\\tb"\n@{S}\n') == "ax41\tb\n"
