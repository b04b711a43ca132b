"""The README, followed to the letter in a fresh clone: every shell block, every Python block and
every sample transcript, in order, in one new virtual environment.

What is adapted, and why (nothing else is):

- The clone is ``git clone`` of this repository, plus the working tree's uncommitted changes
  (tracked and untracked files git would commit), so the test checks what is about to land.
- ``python3 -m venv`` runs with the interpreter running this test; the outer environment's
  ``bin`` directory is left off ``PATH``, so every command comes from the new environment.
- Nothing is downloaded. The new environment borrows this one's installed packages (a ``.pth``
  file naming its site-packages; the borrowed pytest gets a ``pytest`` command in the new
  environment's ``bin``), its own bundled setuptools is removed so this environment's modern one
  builds impsim, and ``pip install`` gets ``--no-build-isolation --no-index --no-deps``. The
  Squirrel sources come from this checkout's ``vendor/squirrel3/downloads`` when present
  (``SQUIRREL3_SOURCE``). The C++ build itself runs for real, twice (about a minute each).
- ``pytest`` (the whole suite, which includes this test) runs ``tests/test_docs.py`` and
  ``tests/user/test_python_api.py`` instead; CI runs the whole suite as the README says
  (``.ci/run``).

A transcript block (``$ command`` and its output, ``...`` for the rest) must match the start of
the command's real output line for line.

Deselect with ``-m "not fresh_clone"`` for a quick run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)
STEP_TIMEOUT = 1200  # seconds; a C++ build on a busy machine takes a few minutes
TESTS_INSTEAD_OF_THE_SUITE = "tests/test_docs.py tests/user/test_python_api.py"
NO_DOWNLOAD = "--no-build-isolation --no-index --no-deps"

pytestmark = pytest.mark.fresh_clone


@dataclass
class Block:
    kind: str  # "shell", "python" or "transcript"
    text: str
    line: int  # where it starts in README.md


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        indent, lang = m.group("indent"), m.group("lang")
        body = textwrap.dedent("".join(line[len(indent):] if line.startswith(indent) else line
                                       for line in m.group("body").splitlines(keepends=True)))
        line = text.count("\n", 0, m.start()) + 1
        if lang in ("sh", "bash", "shell"):
            blocks.append(Block("shell", body, line))
        elif lang == "python":
            blocks.append(Block("python", body, line))
        elif lang == "" and body.startswith("$ "):
            blocks.append(Block("transcript", body, line))
        else:
            raise AssertionError(f"README.md:{line}: a ```{lang} block this test does not know how to run: "
                                 "give it a language (sh, python) or teach tests/user/test_readme.py")
    return blocks


def test_the_readme_has_the_blocks_a_newcomer_needs():
    blocks = readme_blocks()
    first, second, *_ = (b for b in blocks if b.kind == "shell")
    assert "python3 -m venv .venv" in first.text and "pip install -e ." in first.text and "impsim run" in first.text
    assert second.text.strip() == 'pip install -e ".[test]" && pytest'
    assert {b.kind for b in blocks} == {"shell", "python", "transcript"}


def adapt_shell(text: str, python: str) -> str:
    """The README's shell text with the documented adaptations (each must apply)."""
    out = text
    if "python3 -m venv .venv" in out:
        borrow = (f'.venv/bin/python -m pip uninstall -q -y setuptools && '
                  f'.venv/bin/python -c "import sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()[\'purelib\'], '
                  f'\'_borrowed_test_environment.pth\').write_text({_borrowed_paths()!r})" && '
                  f"printf '#!/bin/sh\\nexec \"$(dirname \"$0\")/python\" -m pytest \"$@\"\\n' > .venv/bin/pytest && "
                  f"chmod +x .venv/bin/pytest")
        out = out.replace("python3 -m venv .venv", f'"{python}" -m venv .venv && {borrow}')
    out = out.replace("pip install ", f"pip install {NO_DOWNLOAD} ")
    if out.rstrip().endswith("&& pytest"):
        out = out.rstrip() + f" -q -p no:cacheprovider {TESTS_INSTEAD_OF_THE_SUITE}\n"
    return out


def _borrowed_paths() -> str:
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    return "".join(p + "\n" for p in paths)


def _environment(home: Path) -> dict:
    outer_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "NO_COLOR", "IMPSIM_LIB_PATH", "IMPSIM_GITHUB_DIR")
           and not k.startswith("PYTEST_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != outer_bin)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    downloads = ROOT / "vendor" / "squirrel3" / "downloads"
    if (downloads / "squirrel3_3.1.orig.tar.gz").is_file():
        env["SQUIRREL3_SOURCE"] = str(downloads)
    return env


def _clone(dest: Path) -> None:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True, timeout=300)
    diff = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD", "--binary"], check=True, capture_output=True).stdout
    if diff:
        subprocess.run(["git", "-C", str(dest), "apply", "--whitespace=nowarn"], input=diff, check=True)
    untracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--others", "--exclude-standard", "-z"],
                               check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, untracked):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)


def _run(command: str, *, cwd: Path, env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    activate = ". .venv/bin/activate && " if (cwd / ".venv" / "bin" / "activate").exists() else ""
    return subprocess.run(["bash", "-c", f"set -eo pipefail\n{activate}{command}"], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=STEP_TIMEOUT)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout to clone")
def test_every_readme_block_works_in_a_fresh_clone(tmp_path):
    clone = tmp_path / "impsim"
    _clone(clone)
    env = _environment(tmp_path)
    for block in readme_blocks():
        where = f"README.md:{block.line} ({block.kind})"
        if block.kind == "shell":
            r = _run(adapt_shell(block.text, sys.executable), cwd=clone, env=env)
        elif block.kind == "python":
            r = _run("python -", cwd=clone, env=env, stdin=block.text)
        else:
            command, *shown = block.text.splitlines()
            command = command[2:]
            while command.endswith("\\"):  # a command continued on the next line, as a shell reads it
                command = command[:-1] + " " + shown.pop(0).strip()
            r = _run(command, cwd=clone, env=env)
            expected = shown[:shown.index("...")] if "..." in shown else shown
            assert r.returncode == 0, f"{where}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
            assert r.stdout.splitlines()[:len(expected)] == expected, f"{where}: the sample output is stale"
        assert r.returncode == 0, f"{where}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    # The clone's own squirrel package was built and is the one imported from its top directory.
    r = _run('python -c "import squirrel, impapi; print(squirrel.__file__); print(impapi.__version__)"',
             cwd=clone, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == str(clone / "squirrel" / "__init__.py")
    assert (clone / "run.png").read_bytes().startswith(b"\x89PNG")  # the README's timeline


def test_an_unbuilt_source_tree_says_how_to_build_it(tmp_path):
    # Python started in a clone that was never built imports the source squirrel package.
    shutil.copytree(ROOT / "squirrel", tmp_path / "squirrel", ignore=shutil.ignore_patterns("_squirrel*", "__pycache__"))
    # -S: no site-packages, so no installed copy of impsim can lend its extension.
    r = subprocess.run([sys.executable, "-S", "-c", "import squirrel"], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: No module named 'squirrel._squirrel': the squirrel package in ")
    assert "`pip install -e .`" in last
