"""#require resolution from library directories and built-ins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from impapi.builder import (
    LIB_PATH_ENV,
    Builder,
    BuildError,
    find_library,
    library_dirs,
    resolve_requires,
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return root


@pytest.mark.parametrize(
    "layout",
    [
        "Foo.lib.nut:1.2.3",
        "Foo.lib.nut@1.2.3",
        "foo.LIB.nut:1.2.3",
        "Foo/1.2.3/Foo.lib.nut",
        "Foo/v1.2.3/Foo.lib.nut",
        "foo/1.2.3/foo.class.nut",
        "Foo.lib.nut",
        "Foo.class.nut",
        "FOO.LIB.NUT",
        "Foo/Foo.lib.nut",
    ],
)
def test_layouts(tmp_path, layout):
    write(tmp_path / "libs", {layout: "// foo\n"})
    found = find_library("Foo.lib.nut:1.2.3", [tmp_path / "libs"])
    assert found == tmp_path / "libs" / layout


def test_class_and_lib_suffixes_are_interchangeable(tmp_path):
    write(tmp_path, {"Promise.lib.nut": "p\n"})
    assert find_library("promise.class.nut:3.0.1", [tmp_path]) == tmp_path / "Promise.lib.nut"


def test_exact_version_beats_unversioned_and_dirs_are_ordered(tmp_path):
    write(tmp_path / "a", {"Foo.lib.nut": "any\n", "Bar.lib.nut": "bar-a\n"})
    write(tmp_path / "b", {"Foo/1.0.0/Foo.lib.nut": "exact\n", "Bar.lib.nut": "bar-b\n"})
    dirs = [tmp_path / "a", tmp_path / "b"]
    assert find_library("Foo.lib.nut:1.0.0", dirs) == tmp_path / "b/Foo/1.0.0/Foo.lib.nut"
    assert find_library("Foo.lib.nut:2.0.0", dirs) == tmp_path / "a/Foo.lib.nut"
    assert find_library("Bar.lib.nut:1.0.0", dirs) == tmp_path / "a/Bar.lib.nut"
    assert find_library("Baz.lib.nut:1.0.0", dirs) is None
    # A different version directory does not satisfy the request.
    write(tmp_path / "c", {"Qux/1.0.0/Qux.lib.nut": "q\n"})
    assert find_library("Qux.lib.nut:1.0.1", [tmp_path / "c"]) is None


def test_builtins(tmp_path):
    builtins = {"Promise": tmp_path / "promise.nut", "JSONEncoder.class.nut": tmp_path / "json.nut"}
    assert find_library("Promise.lib.nut:4.0.0", [], builtins) == tmp_path / "promise.nut"
    assert find_library("promise.class.nut:3.0.1", [], builtins) == tmp_path / "promise.nut"
    assert find_library("Promise.lib.nut", [], builtins) == tmp_path / "promise.nut"
    assert find_library("Promise.lib.nut:2.0.0", [], builtins) is None
    assert find_library("JSONEncoder.class.nut:2.0.0", [], builtins) == tmp_path / "json.nut"
    assert find_library("jsonencoder.lib.nut:9.9.9", [], builtins) == tmp_path / "json.nut"
    # A real library in a library directory wins over the built-in.
    write(tmp_path / "libs", {"Promise.lib.nut": "real\n"})
    assert find_library("Promise.lib.nut:4.0.0", [tmp_path / "libs"], builtins) == tmp_path / "libs/Promise.lib.nut"


def test_library_dirs_from_cli_and_env(tmp_path):
    env = {LIB_PATH_ENV: os.pathsep.join([str(tmp_path / "e1"), "", str(tmp_path / "e2")])}
    assert library_dirs([tmp_path / "c"], env) == [tmp_path / "c", tmp_path / "e1", tmp_path / "e2"]
    assert library_dirs((), {}) == []


def test_resolve_with_line_control(tmp_path, linemap):
    libs = write(tmp_path / "libs", {"Foo.lib.nut": "foo1\nfoo2"})
    text = 'a1\n#require "Foo.lib.nut:1.0.0"\na3\n'
    out = resolve_requires(text, [libs], filename="main.nut", display_root=tmp_path)
    assert out == 'a1\n#line 1 "libs/Foo.lib.nut"\nfoo1\nfoo2\n#line 3 "main.nut"\na3\n'
    assert [m for m in linemap(out, "main.nut") if m[2]] == [
        ("main.nut", 1, "a1"), ("libs/Foo.lib.nut", 1, "foo1"), ("libs/Foo.lib.nut", 2, "foo2"), ("main.nut", 3, "a3"),
    ]


def test_resolve_follows_existing_line_directives(tmp_path, linemap):
    libs = write(tmp_path / "libs", {"Foo.lib.nut": "foo\n"})
    text = '#line 40 "tests/t.nut"\nx40\n#require "Foo.lib.nut:1.0.0"\nx42\n'
    out = resolve_requires(text, [libs], filename="session")
    assert [m for m in linemap(out, "session") if m[2]][-1] == ("tests/t.nut", 42, "x42")
    assert f'#line 1 "{(libs / "Foo.lib.nut").as_posix()}"' in out  # outside display root: absolute


def test_resolve_without_line_control(tmp_path):
    libs = write(tmp_path / "libs", {"Foo.lib.nut": "foo\n"})
    out = resolve_requires('#require "Foo.lib.nut:1.0.0"\nx\n', [libs], line_control=False)
    assert "#line" not in out and out.startswith("foo\n") and out.endswith("\nx\n")


def test_once_per_library_and_nested_requires(tmp_path, linemap):
    libs = write(tmp_path / "libs", {
        "A.lib.nut": '#require "B.lib.nut:1.0.0"\na\n',
        "B.lib.nut": "b\n",
    })
    text = '#require "A.lib.nut:1.0.0"\n#require "B.lib.nut:1.0.0"\nz3\n'
    out = resolve_requires(text, [libs], filename="m", display_root=tmp_path)
    assert out.count("\nb\n") == 1
    assert '// #require "B.lib.nut:1.0.0": already included from libs/B.lib.nut' in out
    mapped = [m for m in linemap(out, "m") if m[2] and not m[2].startswith("//")]
    assert mapped == [("libs/B.lib.nut", 1, "b"), ("libs/A.lib.nut", 2, "a"), ("m", 3, "z3")]


def test_requires_in_comments_and_verbatim_strings_are_left(tmp_path):
    text = '/*\n#require "Nope.lib.nut:1.0.0"\n*/\nlocal s = @"\n#require "Nope.lib.nut:1.0.0"\n";\n'
    assert resolve_requires(text, []) == text


def test_missing_library_message(tmp_path):
    text = '#line 5 "tests/t.nut"\n\n#require "Foo.lib.nut:1.2.3"\n'
    with pytest.raises(BuildError) as info:
        resolve_requires(text, [tmp_path], filename="m")
    e = info.value
    assert (e.file, e.line) == ("tests/t.nut", 6)
    assert '#require "Foo.lib.nut:1.2.3": library not found' in e.message
    assert "--lib-dir" in e.message and LIB_PATH_ENV in e.message
    assert "Foo.lib.nut:1.2.3" in e.message and "Foo/1.2.3/Foo.lib.nut" in e.message
    assert tmp_path.as_posix() in e.message


def test_missing_library_without_dirs_and_old_promise(tmp_path):
    with pytest.raises(BuildError, match="no library directories are set"):
        resolve_requires('#require "X.lib.nut:1.0.0"\n', [])
    with pytest.raises(BuildError, match="built-in Promise implements versions 3.x/4.x only"):
        resolve_requires('#require "Promise.class.nut:1.1.0"\n', [], {"Promise": tmp_path / "p.nut"})


def test_malformed_require(tmp_path):
    with pytest.raises(BuildError, match="malformed #require") as info:
        resolve_requires("x\n#require Foo.lib.nut\n", [], filename="m")
    assert info.value.line == 2


def test_builder_then_requires_maps_errors_to_the_original_file(tmp_path, linemap):
    write(tmp_path, {
        "lib/index.nut": '#require "Promise.lib.nut:4.0.0"\n#require "JSONEncoder.class.nut:2.0.0"\nimpunit\n',
        "tests/t.test.nut": "t1\nt2\n",
        "builtin/promise.nut": "promise\n",
        "builtin/json.nut": "json\n",
    })
    session = '@include "lib/index.nut"\nfunction f() {\n@include "tests/t.test.nut"\n}\n'
    built = Builder(home=tmp_path, env={}).build_text(session, name="__session__").text
    builtins = {"Promise.lib.nut": tmp_path / "builtin/promise.nut", "JSONEncoder": tmp_path / "builtin/json.nut"}
    out = resolve_requires(built, [], builtins, filename="__session__", display_root=tmp_path)
    mapped = {text: (f, n) for f, n, text in linemap(out, "__session__") if text}
    assert mapped["promise"] == ("builtin/promise.nut", 1)
    assert mapped["json"] == ("builtin/json.nut", 1)
    assert mapped["impunit"] == ("lib/index.nut", 3)
    assert mapped["t2"] == ("tests/t.test.nut", 2)
    assert mapped["}"] == ("__session__", 4)
