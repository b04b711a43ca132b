"""The Builder subset: directives, includes, line control, github includes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from impapi.builder import (
    GITHUB_DIR_ENV,
    Builder,
    BuildError,
    BuildWarning,
    build,
)


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, newline="")


def plain(home: Path, main: str = "main.nut", **kw) -> str:
    kw.setdefault("env", {})
    return Builder(home=home, line_control=False, **kw).build_file(home / main).text


# --------------------------------------------------------------------------- directives


def test_set_both_forms_and_inline(tmp_path):
    write(tmp_path, {"main.nut": "@set A 2\n@set B = A * 3\n@set C=B+1\nx = @{A}, @{B}, @{C};\n"})
    assert plain(tmp_path) == "x = 2, 6, 7;\n"


def test_variable_precedence(tmp_path):
    write(tmp_path, {"main.nut": "@{V1} @{V2} @{V3} [@{NOPE}]\n@set V1 'set'\n@{V1}\n"})
    out = plain(
        tmp_path,
        variables={"V1": "cfg", "V2": "cfg"},
        env={"V1": "env", "V2": "env", "V3": "env"},
    )
    assert out == "cfg cfg env [null]\nset\n"


def test_environment_variable_loose_compare(tmp_path):
    write(tmp_path, {"main.nut": "@if DEBUG == 1\non\n@else\noff\n@endif\n"})
    assert plain(tmp_path, env={"DEBUG": "1"}) == "on\n"
    assert plain(tmp_path, env={"DEBUG": "0"}) == "off\n"
    assert plain(tmp_path, env={}) == "off\n"


def test_if_elseif_else_nested_and_end(tmp_path):
    src = """\
@if X == 1
one
@elseif X == 2
  @if Y
two-y
  @else
two-n
  @end
@elseif X == 2
never
@else
other
@endif
after
"""
    write(tmp_path, {"main.nut": src})
    assert plain(tmp_path, variables={"X": 1}) == "one\nafter\n"
    assert plain(tmp_path, variables={"X": 2, "Y": True}) == "two-y\nafter\n"
    assert plain(tmp_path, variables={"X": 2}) == "two-n\nafter\n"
    assert plain(tmp_path, variables={"X": 3}) == "other\nafter\n"


@pytest.mark.parametrize(
    "src, line, message",
    [
        ("a\n@if 1\nb\n", 3, "@if at line 2 is never closed"),
        ("@endif\n", 1, "@endif without an open block"),
        ("@else\n", 1, "@else without a matching @if"),
        ("@if 1\n@else\n@else\n@endif\n", 3, "@else after @else"),
        ("@if 1\n@else if 2\n@endif\n", 2, "unexpected text after @else"),
        ("@macro m()\n@endif\n", 2, "@endif closes the @macro at line 1"),
        ("@set\n", 1, "@set needs an argument"),
        ("@set 1x\n", 1, "bad @set"),
        ("@include\n", 1, "@include needs an argument"),
        ("x @{1 + \n", 1, "@{ is not closed"),
        ("@if 1 +\n@endif\n", 1, "unexpected the end"),
        ("@include 42\n", 1, "needs a file name string"),
        ("@repeat -1\n@end\n", 1, "whole number"),
        ("@macro 1bad\n@end\n", 1, "bad macro declaration"),
        ("@include \"http://example.com/x.nut\"\n", 1, "HTTP includes are not fetched"),
        ("@include \"bitbucket-server:a/b/c\"\n", 1, "only local files and github"),
        ("@include \"github:owner/repo\"\n", 1, "must look like"),
    ],
)
def test_syntax_errors_are_located(tmp_path, src, line, message):
    write(tmp_path, {"main.nut": src})
    with pytest.raises(BuildError) as info:
        plain(tmp_path)
    assert info.value.file == "main.nut"
    assert info.value.line == line
    assert message in info.value.message
    assert str(info.value).startswith(f"main.nut:{line}: ")


def test_error_and_warning(tmp_path):
    write(tmp_path, {"main.nut": "@warning 'w' + 1\nok\n@if !defined(PLATFORM)\n@error \"Platform \" + PLATFORM + \" unsupported\"\n@endif\n"})
    with pytest.raises(BuildError) as info:
        plain(tmp_path)
    assert (info.value.file, info.value.line) == ("main.nut", 4)
    assert info.value.message == "Platform null unsupported"
    r = Builder(home=tmp_path, env={}, variables={"PLATFORM": "p"}).build_file(tmp_path / "main.nut")
    assert r.warnings == [BuildWarning("w1", "main.nut", 1)]
    assert str(r.warnings[0]) == "main.nut:1: w1"


def test_builder_comments_and_directive_comments(tmp_path):
    src = "@ a builder comment\n@\n@set A 1 // set it\n@if A // test\nyes\n@endif // done\n@{A}@\n"
    write(tmp_path, {"main.nut": src})
    assert plain(tmp_path) == "yes\n1@\n"


def test_squirrel_at_strings_are_text(tmp_path):
    src = 'local s = @"verbatim";\n@"also text"\n@iffy\n'
    write(tmp_path, {"main.nut": src})
    assert plain(tmp_path) == src


def test_macros(tmp_path):
    src = """\
@macro greet(who, colour)
Hello, @{who}! @{defined(colour) ? colour : "no colour"} @{__FILE__}:@{__LINE__}
@endmacro
@include greet("a", "red")
@include greet("b")
[@{greet("c", 1)}]
@set who "global"
@include greet()
@{who}
"""
    write(tmp_path, {"main.nut": src})
    assert plain(tmp_path) == (
        "Hello, a! red main.nut:2\n"
        "Hello, b! no colour main.nut:2\n"
        "[Hello, c! 1 main.nut:2]\n"
        "Hello, global! no colour main.nut:2\n"
        "global\n"
    )


def test_macro_from_included_file_keeps_its_file(tmp_path):
    write(tmp_path, {
        "lib/m.nut": "@macro where()\n@{__FILE__} @{__PATH__}\n@end\n",
        "main.nut": '@include "lib/m.nut"\n@include where()\n',
    })
    assert plain(tmp_path) == f"m.nut {(tmp_path / 'lib').as_posix()}\n"


def test_macro_redeclaration(tmp_path):
    write(tmp_path, {"main.nut": "@macro m()\n@end\n@macro m()\n@end\n"})
    with pytest.raises(BuildError, match="macro m is already declared at main.nut:1") as info:
        plain(tmp_path)
    assert info.value.line == 3


def test_macro_only_defined_when_reached(tmp_path):
    write(tmp_path, {"main.nut": "@if false\n@macro m()\nx\n@end\n@endif\n@include m()\n"})
    with pytest.raises(BuildError, match=r"unknown function m\(\).*macros declared with @macro before"):
        plain(tmp_path)


def test_loops(tmp_path):
    src = """\
@repeat 3
r@{loop.index}/@{loop.iteration}
@endrepeat
@set n 2
@while n > 0
w@{n}
@set n = n - 1
@endwhile
"""
    write(tmp_path, {"main.nut": src})
    assert plain(tmp_path) == "r0/1\nr1/2\nr2/3\nw2\nw1\n"


def test_runaway_while(tmp_path, monkeypatch):
    import impapi.builder.directives as b

    monkeypatch.setattr(b, "MAX_LOOP_ITERATIONS", 50)
    write(tmp_path, {"main.nut": "@while true\nx\n@end\n"})
    with pytest.raises(BuildError, match="ran 50 times"):
        plain(tmp_path)


def test_file_line_path_variables(tmp_path):
    write(tmp_path, {
        "main.nut": '@{__FILE__}:@{__LINE__}\n@include "sub/inc.nut"\n@{__FILE__}:@{__LINE__} @{__PATH__}\n',
        "sub/inc.nut": "\n@{__FILE__}:@{__LINE__} @{__PATH__}\n",
    })
    home = tmp_path.as_posix()
    assert plain(tmp_path) == f"main.nut:1\n\nin" f"c.nut:2 {home}/sub\nmain.nut:3 {home}\n"


def test_include_path_expression(tmp_path):
    write(tmp_path, {
        "lib/index.nut": '@include __PATH__ + "/src/impl.nut"\n',
        "lib/src/impl.nut": "impl\n",
        "main.nut": '@set DIR "lib"\n@include DIR + "/index.nut"\n',
    })
    assert plain(tmp_path) == "impl\n"


# --------------------------------------------------------------------------- includes


def test_include_lookup_order(tmp_path):
    # a.nut exists next to the including file, next to the input and in the home: the first wins.
    home = tmp_path / "home"
    write(home, {
        "a.nut": "home-a\n", "b.nut": "home-b\n", "c.nut": "home-c\n",
        "tests/a.nut": "input-a\n", "tests/b.nut": "input-b\n",
        "tests/lib/a.nut": "inc-a\n",
        "tests/main.test.nut": '@include "lib/helper.nut"\n',
        "tests/lib/helper.nut": '@include "a.nut"\n@include "b.nut"\n@include "c.nut"\n',
    })
    out = Builder(home=home, env={}, line_control=False).build_file(home / "tests/main.test.nut").text
    assert out == "inc-a\ninput-b\nhome-c\n"


def test_include_cwd_rule_like_serializer_tests(tmp_path):
    write(tmp_path, {
        "Serializer.class.nut": "class Serializer {}\n",
        "tests/CommonTest.nut": "common\n",
        "tests/Basic.test.nut": '@include "Serializer.class.nut"\n@include "./tests/CommonTest.nut"\n',
    })
    out = Builder(home=tmp_path, env={}, line_control=False).build_file(tmp_path / "tests/Basic.test.nut").text
    assert out == "class Serializer {}\ncommon\n"


def test_include_absolute(tmp_path):
    write(tmp_path, {"x/abs.nut": "abs\n"})
    write(tmp_path, {"main.nut": f'@include "{(tmp_path / "x/abs.nut").as_posix()}"\n'})
    assert plain(tmp_path) == "abs\n"


def test_include_not_found_says_where_it_looked(tmp_path):
    write(tmp_path, {"tests/t.nut": 'ok\n@include "nope.nut"\n'})
    with pytest.raises(BuildError) as info:
        Builder(home=tmp_path, env={}).build_file(tmp_path / "tests/t.nut")
    e = info.value
    assert (e.file, e.line) == ("tests/t.nut", 2)
    assert 'included file "nope.nut" not found' in e.message
    assert "tests/nope.nut" in e.message and ", nope.nut" in e.message


def test_include_once_by_identity(tmp_path):
    write(tmp_path, {
        "lib/x.nut": "x\n",
        "main.nut": '@include once "lib/x.nut"\n@include once "./lib/../lib/x.nut"\n'
                    '@include "lib/x.nut"\n@include once "lib/x.nut"\n',
    })
    assert plain(tmp_path) == "x\nx\n"


def test_include_once_after_plain_include(tmp_path):
    write(tmp_path, {"x.nut": "x\n", "main.nut": '@include "x.nut"\n@include once "x.nut"\n'})
    assert plain(tmp_path) == "x\n"


def test_include_cycle_is_reported(tmp_path, monkeypatch):
    import impapi.builder.directives as b

    monkeypatch.setattr(b, "MAX_DEPTH", 20)
    write(tmp_path, {"a.nut": '@include "b.nut"\n', "b.nut": '@include "a.nut"\n'})
    with pytest.raises(BuildError, match="include cycle") as info:
        plain(tmp_path, main="a.nut")
    assert "a.nut -> b.nut" in info.value.message


def test_include_once_breaks_cycles(tmp_path):
    write(tmp_path, {"a.nut": 'a\n@include once "b.nut"\n', "b.nut": 'b\n@include once "a.nut"\n'})
    assert plain(tmp_path, main="a.nut") == "a\nb\n"


def test_include_function_inline(tmp_path):
    write(tmp_path, {"data.txt": "line1\nline2\n", "main.nut": 's <- "@{include("data.txt") | escape}";\n'})
    assert plain(tmp_path) == 's <- "line1\\nline2";\n'


def test_missing_final_newline_and_bom_and_crlf(tmp_path):
    write(tmp_path, {
        "inc.nut": "\ufeffno-newline",
        "crlf.nut": "a\r\n@if 1\r\nb\r\n@endif\r\n",
        "main.nut": '@include "inc.nut"\n@include "crlf.nut"\nend',
    })
    assert plain(tmp_path) == "no-newline\na\r\nb\r\nend\n"


def test_not_utf8(tmp_path):
    write(tmp_path, {"bad.nut": b"x = \"\xb1\";\n", "main.nut": '@include "bad.nut"\n'})
    with pytest.raises(BuildError, match="not UTF-8") as info:
        plain(tmp_path)
    assert (info.value.file, info.value.line) == ("main.nut", 1)


def test_missing_input(tmp_path):
    with pytest.raises(BuildError, match="does not exist"):
        Builder(home=tmp_path).build_file(tmp_path / "none.nut")


def test_build_text_and_sources(tmp_path):
    write(tmp_path, {"tests/t.test.nut": "class T {}\n", "src/dev.nut": "dev\n"})
    session = '@include "src/dev.nut"\nfunction __module_tests() {\n@include "tests/t.test.nut"\n}\n@{__FILE__}\n'
    r = Builder(home=tmp_path, env={}).build_text(session, name="__session__")
    assert r.sources == ["__session__", "src/dev.nut", "tests/t.test.nut"]
    assert r.text == (
        '#line 1 "src/dev.nut"\ndev\n'
        '#line 2 "__session__"\nfunction __module_tests() {\n'
        '#line 1 "tests/t.test.nut"\nclass T {}\n'
        '#line 4 "__session__"\n}\n__session__\n'
    )


def test_build_shorthand(tmp_path):
    write(tmp_path, {"m.nut": "@{1+1}\n"})
    assert build(tmp_path / "m.nut", home=tmp_path, env={}, line_control=False).text == "2\n"


def test_display_outside_home_is_absolute(tmp_path):
    write(tmp_path, {"outside/o.nut": "o\n", "home/m.nut": '@include "../outside/o.nut"\n'})
    r = Builder(home=tmp_path / "home", env={}).build_file(tmp_path / "home/m.nut")
    assert f'#line 1 "{(tmp_path / "outside/o.nut").as_posix()}"' in r.text


# --------------------------------------------------------------------------- line control


def test_every_line_maps_back(tmp_path, linemap):
    write(tmp_path, {
        "tests/t.nut": "\n".join([  # noqa: FLY002
            "t1",                       # 1
            "@set X 1",                 # 2
            "t3",                       # 3
            '@include "lib/a.nut"',     # 4
            "t5",                       # 5
            "@if X == 2",               # 6
            "t7",                       # 7
            "@elseif X == 1",           # 8
            "t9",                       # 9
            '@include once "lib/a.nut"',  # 10
            "@else",                    # 11
            "t12",                      # 12
            "@endif",                   # 13
            "@include m()",             # 14
            "t15 @{m()}",               # 15 (inline macro: two lines of output)
            "t16",                      # 16
            "",
        ]),
        "tests/lib/a.nut": "a1\n@macro m()\na3\na4\n@end\na6\n",
    })
    r = Builder(home=tmp_path, env={}).build_file(tmp_path / "tests/t.nut")
    t, a = "tests/t.nut", "tests/lib/a.nut"
    assert [m for m in linemap(r.text, "<chunk>") if m[2]] == [
        (t, 1, "t1"),
        (t, 3, "t3"),
        (a, 1, "a1"),
        (a, 6, "a6"),
        (t, 5, "t5"),
        (t, 9, "t9"),
        (a, 3, "a3"),  # @include m(): the macro body lines
        (a, 4, "a4"),
        (t, 15, "t15 a3"),  # inline macro: its output carries the line's origin ...
        (t, 16, "a4"),  # ... and its extra line is attributed linearly,
        (t, 16, "t16"),  # then a directive puts t16 right again
    ]


def test_no_line_directive_inside_verbatim_string(tmp_path, linemap):
    src = 'local s = @"\n@if true\nkept ""quoted""\n@endif\n";\nafter\n'
    write(tmp_path, {"m.nut": src})
    text = Builder(home=tmp_path, env={}).build_file(tmp_path / "m.nut").text
    assert text == '#line 1 "m.nut"\nlocal s = @"\nkept ""quoted""\n";\n#line 6 "m.nut"\nafter\n'
    assert ("m.nut", 6, "after") in linemap(text)


def test_line_directive_inside_block_comment_is_fine(tmp_path):
    write(tmp_path, {"m.nut": "/*\n@set A 1\ncomment\n*/\nx\n"})
    text = Builder(home=tmp_path, env={}).build_file(tmp_path / "m.nut").text
    assert text == '#line 1 "m.nut"\n/*\n#line 3 "m.nut"\ncomment\n*/\nx\n'


def test_strings_with_at_quote_do_not_confuse_the_lexer(tmp_path):
    # '@"' inside a normal string or a comment is not a verbatim string.
    src = 'local a = "x@\\"y"; // @"\n@set A 1\nz\n'
    write(tmp_path, {"m.nut": src})
    text = Builder(home=tmp_path, env={}).build_file(tmp_path / "m.nut").text
    assert '#line 3 "m.nut"\nz\n' in text


def test_quote_in_file_name(tmp_path):
    write(tmp_path, {'we"ird.nut': "w\n", "m.nut": "@include \"we\\\"ird.nut\"\n"})
    text = Builder(home=tmp_path, env={}).build_file(tmp_path / "m.nut").text
    assert "#line 1 \"we'ird.nut\"" in text


# --------------------------------------------------------------------------- github


@pytest.fixture
def gh(tmp_path, make_repo):
    root = tmp_path / "gh"
    make_repo(root / "electricimp" / "Promise", [
        ({"promise.lib.nut": "// promise v1\n@include \"helper.nut\"\n", "helper.nut": "// helper v1\n",
          "src/index.nut": '@include __PATH__ + "/impl.nut"\n', "src/impl.nut": "// impl v1 @{__PATH__}\n"}, "v1.0.0"),
        ({"promise.lib.nut": "// promise v2\n@include \"helper.nut\"\n", "helper.nut": "// helper v2\n",
          "src/impl.nut": "// impl v2\n"}, None),
    ])
    # An uncommitted change: without @ref the working tree is what is read.
    (root / "electricimp" / "Promise" / "helper.nut").write_text("// helper worktree\n")
    return root


def gh_build(home: Path, src: str, github_dir: Path | None, env=None):
    (home / "t.nut").write_text(src)
    return Builder(home=home, env=env or {}, github_dir=github_dir, line_control=False).build_file(home / "t.nut")


def test_github_working_tree(tmp_path, gh):
    r = gh_build(tmp_path, '@include "github:electricimp/Promise/promise.lib.nut"\n', gh)
    assert r.text == "// promise v2\n// helper worktree\n"


def test_github_at_tag_and_branch_and_commit(tmp_path, gh):
    r = gh_build(tmp_path, '@include "github:electricimp/Promise/promise.lib.nut@v1.0.0"\n', gh)
    assert r.text == "// promise v1\n// helper v1\n"  # the relative include stays at v1.0.0
    r = gh_build(tmp_path, '@include "github:electricimp/Promise/promise.lib.nut@main"\n', gh)
    assert r.text == "// promise v2\n// helper v2\n"
    sha = subprocess.run(["git", "-C", str(gh / "electricimp/Promise"), "rev-parse", "v1.0.0"],
                         capture_output=True, text=True, check=True).stdout.strip()
    r = gh_build(tmp_path, f'@include "github:electricimp/Promise/helper.nut@{sha[:10]}"\n', gh)
    assert r.text == "// helper v1\n"


def test_github_path_variable_inherits_ref(tmp_path, gh):
    r = gh_build(tmp_path, '@include "github:electricimp/Promise/src/index.nut@v1.0.0"\n', gh)
    assert r.text == "// impl v1 github:electricimp/Promise/src\n"


def test_github_line_control_names(tmp_path, gh):
    (tmp_path / "t.nut").write_text('@include "github:electricimp/Promise/helper.nut@v1.0.0"\nx\n')
    r = Builder(home=tmp_path, env={}, github_dir=gh).build_file(tmp_path / "t.nut")
    assert r.text == '#line 1 "github:electricimp/Promise/helper.nut@v1.0.0"\n// helper v1\n#line 2 "t.nut"\nx\n'
    assert r.sources == ["t.nut", "github:electricimp/Promise/helper.nut@v1.0.0"]


def test_github_case_insensitive_and_env_dir(tmp_path, gh):
    r = gh_build(tmp_path, '@include "github:ElectricImp/promise/helper.nut@v1.0.0"\n', None,
                 env={GITHUB_DIR_ENV: str(gh)})
    assert r.text == "// helper v1\n"


def test_github_include_once_distinguishes_refs(tmp_path, gh):
    src = ('@include once "github:electricimp/Promise/helper.nut@v1.0.0"\n'
           '@include once "github:electricimp/promise/helper.nut@v1.0.0"\n'
           '@include once "github:electricimp/Promise/helper.nut"\n')
    assert gh_build(tmp_path, src, gh).text == "// helper v1\n// helper worktree\n"


def test_github_errors(tmp_path, gh):
    with pytest.raises(BuildError) as info:
        gh_build(tmp_path, 'x\n@include "github:electricimp/Promise/helper.nut"\n', None)
    e = info.value
    assert (e.file, e.line) == ("t.nut", 2)
    assert "--github-dir" in e.message and GITHUB_DIR_ENV in e.message
    assert "DIR/electricimp/Promise" in e.message

    with pytest.raises(BuildError, match="no checkout at .*/gh/someone/Lib; clone it there with git clone https://github.com/someone/Lib"):
        gh_build(tmp_path, '@include "github:someone/Lib/x.nut"\n', gh)

    with pytest.raises(BuildError, match="ref v9.9.9 is not in .*fetch --tags"):
        gh_build(tmp_path, '@include "github:electricimp/Promise/helper.nut@v9.9.9"\n', gh)

    with pytest.raises(BuildError, match="nope.nut does not exist at v1.0.0"):
        gh_build(tmp_path, '@include "github:electricimp/Promise/nope.nut@v1.0.0"\n', gh)

    with pytest.raises(BuildError, match="does not exist in the checkout"):
        gh_build(tmp_path, '@include "github:electricimp/Promise/nope.nut"\n', gh)


def test_github_ref_needs_git_checkout(tmp_path, monkeypatch):
    plain_dir = tmp_path / "gh" / "o" / "r"
    plain_dir.mkdir(parents=True)
    (plain_dir / "f.nut").write_text("f\n")
    # The working tree read works without git ...
    assert gh_build(tmp_path, '@include "github:o/r/f.nut"\n', tmp_path / "gh").text == "f\n"
    # ... a ref does not.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(BuildError, match="is not a git checkout, so @v1 cannot be read"):
        gh_build(tmp_path, '@include "github:o/r/f.nut@v1"\n', tmp_path / "gh")


def test_own_line_directives_in_text_are_respected(tmp_path, linemap):
    # impt's session code writes `#line 1 "__tests_bootstrap__"` before the bootstrap function.
    write(tmp_path, {"tests/t.test.nut": "class T {}\n"})
    session = (
        'function __module_tests() {\n@include "tests/t.test.nut"\n}\n'
        'function __module_tests_bootstrap() {\n#line 1 "__tests_bootstrap__"\n@set X 1\nb1\nb2\n}\n'
        '@include "tests/t.test.nut"\n'
    )
    text = Builder(home=tmp_path, env={}).build_text(session, name="__session__").text
    mapped = [m for m in linemap(text, "x") if m[2]]
    assert mapped == [
        ("__session__", 1, "function __module_tests() {"),
        ("tests/t.test.nut", 1, "class T {}"),
        ("__session__", 3, "}"),
        ("__session__", 4, "function __module_tests_bootstrap() {"),
        ("__tests_bootstrap__", 1, "b1"),
        ("__tests_bootstrap__", 2, "b2"),
        ("__tests_bootstrap__", 3, "}"),
        ("tests/t.test.nut", 1, "class T {}"),
    ]


def test_github_spellings(tmp_path, gh):
    assert gh_build(tmp_path, '@include "github.com/electricimp/Promise/helper.nut@v1.0.0"\n', gh).text == "// helper v1\n"
    with pytest.raises(BuildError, match="HTTP includes are not fetched"):
        gh_build(tmp_path, '@include "https://github.com/electricimp/Promise/blob/main/helper.nut"\n', gh)
