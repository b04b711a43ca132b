"""Builder's cache of remote includes (``.builder-cache``) and impt's builderCache / --clear-cache."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from impapi.builder import Builder, BuildError
from impapi.builder.cache import CACHE_LIFETIME_S, RemoteCache
from impapi.cli import main
from impapi.testing.runner import run_tests


@pytest.fixture
def gh(tmp_path, make_repo):
    root = tmp_path / "gh"
    make_repo(root / "electricimp" / "Lib", [({"lib.nut": "// lib v1\n", "sub/x.nut": "// x v1\n"}, "v1.0.0")])
    return root


def build(home: Path, src: str, github_dir: Path | None, cache: Path | None) -> str:
    (home / "t.nut").write_text(src)
    return Builder(home=home, env={}, github_dir=github_dir, line_control=False,
                   cache_dir=cache).build_file(home / "t.nut").text


def test_github_includes_are_kept_and_read_back_from_the_cache(tmp_path, gh):
    """Builder's layout: github/<owner>/<repo>[/<ref>]/<path>. Once cached, the copy is used even
    when the checkout changed or is gone."""
    home, cache = tmp_path / "home", tmp_path / "home" / ".builder-cache"
    home.mkdir()
    src = '@include "github:electricimp/Lib/lib.nut"\n@include "github:electricimp/Lib/sub/x.nut@v1.0.0"\n'
    assert build(home, src, gh, cache) == "// lib v1\n// x v1\n"
    assert (cache / "github/electricimp/Lib/lib.nut").read_text() == "// lib v1\n"
    assert (cache / "github/electricimp/Lib/v1.0.0/sub/x.nut").read_text() == "// x v1\n"
    (gh / "electricimp/Lib/lib.nut").write_text("// lib changed\n")
    assert build(home, src, gh, cache) == "// lib v1\n// x v1\n"
    assert build(home, src, None, cache) == "// lib v1\n// x v1\n"  # no checkouts needed
    assert build(home, src, gh, None) == "// lib changed\n// x v1\n"  # without the cache: the checkout


def test_a_cached_copy_expires_after_24_hours(tmp_path, gh):
    home, cache = tmp_path / "home", tmp_path / "home" / ".builder-cache"
    home.mkdir()
    src = '@include "github:electricimp/Lib/lib.nut"\n'
    build(home, src, gh, cache)
    (gh / "electricimp/Lib/lib.nut").write_text("// lib changed\n")
    copy = cache / "github/electricimp/Lib/lib.nut"
    old = time.time() - CACHE_LIFETIME_S - 1
    os.utime(copy, (old, old))
    assert build(home, src, gh, cache) == "// lib changed\n"
    assert copy.read_text() == "// lib changed\n" and copy.stat().st_mtime > old


def test_http_includes_are_read_from_the_cache_only(tmp_path):
    """impsim fetches nothing: an HTTP include needs a copy where Builder caches it
    (http/<host parts reversed, without www>/<path>), whatever its age."""
    home, cache = tmp_path / "home", tmp_path / "home" / ".builder-cache"
    home.mkdir()
    url = "https://raw.githubusercontent.com/electricimp/Lib/master/Lib.nut"
    src = f'@include "{url}"\n'
    with pytest.raises(BuildError, match="or put a copy at .*/.builder-cache/http/com/githubusercontent/raw/"
                                         "electricimp/Lib/master/Lib.nut"):
        build(home, src, None, cache)
    copy = RemoteCache(cache).http_path(url)
    assert copy == cache / "http/com/githubusercontent/raw/electricimp/Lib/master/Lib.nut"
    copy.parent.mkdir(parents=True)
    copy.write_text("// from the web @{__FILE__}\n")
    os.utime(copy, (0, 0))
    assert build(home, src, None, cache) == "// from the web Lib.nut\n"
    assert RemoteCache(cache).http_path("http://www.example.com/a/../b.nut") == cache / "http/com/example/b.nut"
    with pytest.raises(BuildError, match="HTTP includes are not fetched offline; download the file and "
                                         "@include it by its local path$"):
        build(home, src, None, None)


def _home(tmp_path: Path, gh: Path, builder_cache: bool) -> Path:
    home = tmp_path / "home"
    (home / "tests").mkdir(parents=True, exist_ok=True)
    (home / "tests" / "lib.test.nut").write_text(
        '@include "github:electricimp/Lib/lib.nut"\nclass T extends ImpTestCase { function testA() {} }\n')
    (home / ".impt.test").write_text(json.dumps({"timeout": 5, "builderCache": builder_cache}))
    return home


def test_builder_cache_in_the_test_configuration(tmp_path, gh):
    """impt's spec (test_run_builder_cache): builderCache true keeps .builder-cache in the test
    home; false writes none."""
    home = _home(tmp_path, gh, False)
    assert run_tests(home, github_dir=gh, out=io.StringIO()).exit_code == 0
    assert not (home / ".builder-cache").exists()
    home = _home(tmp_path, gh, True)
    assert run_tests(home, github_dir=gh, out=io.StringIO()).exit_code == 0
    assert (home / ".builder-cache/github/electricimp/Lib/lib.nut").is_file()
    # The remote include is resolved once: the next run needs no checkout.
    assert run_tests(home, out=io.StringIO()).exit_code == 0


def test_clear_cache_removes_the_cache_first(tmp_path, gh, capsys):
    """impt test run --clear-cache (-e): the cache goes, whatever builderCache says."""
    home = _home(tmp_path, gh, True)
    assert run_tests(home, github_dir=gh, out=io.StringIO()).exit_code == 0
    (home / ".impt.test").write_text(json.dumps({"timeout": 5, "builderCache": False}))
    assert main(["test", "-c", str(home), "--github-dir", str(gh), "--clear-cache", "--color", "never"]) == 0
    assert not (home / ".builder-cache").exists()
    # With the cache on and no checkout, clearing it makes the include fail again.
    (home / ".impt.test").write_text(json.dumps({"timeout": 5, "builderCache": True}))
    assert main(["test", "-c", str(home), "--github-dir", str(gh), "--color", "never"]) == 0
    assert main(["test", "-c", str(home), "-e", "--color", "never"]) == 1
    assert "needs a local checkout of electricimp/Lib" in capsys.readouterr().out
