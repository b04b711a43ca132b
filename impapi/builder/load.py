"""Loading an app's code the way impCloud builds it: one loader for every entry point.

``impsim run``, ``impsim fuzz``, ``impsim test``, :class:`~impapi.Simulation` and scenario
deployments all turn a ``.nut`` file into the code the imp runs here: Builder directives
(``@include`` of local and ``github:`` files, ``@set``, ``@if``..., with the Builder variables),
then ``#require`` resolved from the library directories (``--lib-dir``, then
``IMPSIM_LIB_PATH``), falling back to impsim's own Promise and JSONEncoder. The result carries
``#line`` directives, so compile and runtime errors name the original file and line.

A file with no Builder directive and no ``#require`` is used exactly as written (the same text,
the same name), so loading it changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .directives import Builder, uses_directives
from .errors import BuildWarning
from .requires import BUILTIN_LIBRARIES, library_dirs, resolve_requires
from .sources import PathLike, read_text

__all__ = ["LoadOptions", "LoadedCode", "add_load_arguments", "build_app", "load_app", "load_arguments",
           "load_options_from_args"]

_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


# eq=False: options compare (and hash, for caches) by identity; their mappings are not hashable.
@dataclass(frozen=True, eq=False)
class LoadOptions:
    """Where the loader finds what an app's code refers to.

    ``lib_dirs``: directories of libraries for ``#require``, searched before those of
    ``IMPSIM_LIB_PATH``. ``github_dir``: checkouts ``DIR/owner/repo`` for ``github:`` includes
    (default: ``IMPSIM_GITHUB_DIR``). ``variables``: Builder variables (a JSON builder config).
    ``home``: the last place relative includes are looked up, and the directory file names in
    messages are relative to (default: the current directory). ``builtins``: libraries served
    when no directory has them (default: impsim's own). ``env``: the environment Builder and the
    defaults read (default: ``os.environ``). ``cache_dir``: where Builder keeps what it reads from
    GitHub and HTTP includes, and reads it from again (impt's ``builderCache``; default: none).
    """

    lib_dirs: Sequence[PathLike] = ()
    github_dir: PathLike | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    home: PathLike | None = None
    builtins: Mapping[str, PathLike] = field(default_factory=lambda: dict(BUILTIN_LIBRARIES))
    env: Mapping[str, str] | None = None
    cache_dir: PathLike | None = None

    @classmethod
    def from_cli(cls, lib_dirs: Sequence[PathLike] = (), github_dir: PathLike | None = None,
                 builder_config: PathLike | None = None, defines: Sequence[str] = ()) -> "LoadOptions":
        """Options from command-line values: ``builder_config`` is a JSON file holding an object
        of Builder variables; each of ``defines`` is ``NAME=VALUE`` (a string value, as Builder's
        own ``-D``), and wins over the file. Raises ``ValueError`` with what to fix."""
        variables: dict[str, Any] = {}
        if builder_config is not None:
            variables.update(_read_variables(builder_config))
        for define in defines:
            name, sep, value = define.partition("=")
            name = name.strip()
            if not sep or not _NAME.fullmatch(name):
                raise ValueError(f"-D {define}: write -D NAME=VALUE, NAME a Builder variable name (letters, digits, _)")
            variables[name] = value
        return cls(lib_dirs=tuple(lib_dirs), github_dir=github_dir, variables=variables)


@dataclass(frozen=True)
class LoadedCode:
    """An app's code as the imp runs it.

    ``source``: the code (the file's own text when it needed no building). ``filename``: the
    name it is compiled under, the path as given. ``files``: every file read (the app first, then
    includes and libraries, by the names errors give them). ``warnings``: ``@warning`` messages.
    ``built``: the text after Builder, before ``#require`` (what impt checks before deploying).
    """

    source: str
    filename: str
    files: tuple[str, ...] = ()
    warnings: tuple[BuildWarning, ...] = ()
    built: str = ""


def load_app(path: PathLike, options: LoadOptions | None = None) -> LoadedCode:
    """Read the ``.nut`` file at ``path`` and build it (see :func:`build_app`).

    Raises :class:`BuildError` naming the file (and line) for a missing or unreadable file, a
    directive that fails or a library that cannot be found.
    """
    name = os.fspath(path)
    return build_app(read_text(Path(name), name), name, options)


def build_app(text: str, path: PathLike, options: LoadOptions | None = None, *,
              name: str | None = None) -> LoadedCode:
    """Build ``text``, the text of the file at ``path``, as impCloud would build it. ``name`` is
    what errors and ``#line`` directives call the file (default: ``path`` as given)."""
    options = options or LoadOptions()
    name = os.fspath(path) if name is None else name
    env: Mapping[str, str] = os.environ if options.env is None else options.env
    home = Path(os.path.abspath(options.home if options.home is not None else os.getcwd()))
    files: list[str] = [name]
    warnings: tuple[BuildWarning, ...] = ()
    if uses_directives(text):
        builder = Builder(home=home, variables=options.variables, env=env, github_dir=options.github_dir,
                          cache_dir=options.cache_dir)
        result = builder.build_file(path, text=text, display=name)
        text = result.text
        files = result.sources
        warnings = tuple(result.warnings)
    built = text
    if "#require" in text:
        required: list[str] = []
        resolved = resolve_requires(text, library_dirs(options.lib_dirs, env), options.builtins, filename=name,
                                    display_root=home, included=required)
        if resolved != text:
            text = resolved
            files = files + [f for f in required if f not in files]
    return LoadedCode(text, name, tuple(files), warnings, built)


def _read_variables(path: PathLike) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"builder config {os.fspath(path)}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"builder config {os.fspath(path)}: cannot read it ({e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"builder config {os.fspath(path)}:{e.lineno}: not JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(f"builder config {os.fspath(path)}: must hold a JSON object of Builder variables, "
                         'e.g. {"DEBUG": true}')
    return data


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say where code finds its libraries, includes and Builder variables
    (``impsim run`` and ``impsim fuzz``; ``impsim test`` has the same ones)."""
    g = parser.add_argument_group("loading code (Builder and #require, as impsim test loads it)")
    g.add_argument("--lib-dir", metavar="DIR", action="append", default=[],
                   help="directory of libraries for #require, repeatable (also IMPSIM_LIB_PATH)")
    g.add_argument("--github-dir", metavar="DIR",
                   help='directory of git checkouts DIR/owner/repo for @include "github:..." (also IMPSIM_GITHUB_DIR)')
    g.add_argument("--builder-config", metavar="FILE", help="JSON file of Builder variables")
    g.add_argument("-D", dest="defines", metavar="NAME=VALUE", action="append", default=[],
                   help="a Builder variable (a string, as Builder's -D), repeatable; wins over --builder-config")


def load_options_from_args(args: argparse.Namespace) -> LoadOptions:
    """:class:`LoadOptions` from the options :func:`add_load_arguments` added (``ValueError``
    when they are wrong)."""
    return LoadOptions.from_cli(args.lib_dir, args.github_dir, args.builder_config, args.defines)


def load_arguments(args: argparse.Namespace) -> list[str]:
    """The command-line words that give the same load options again (for a replay command)."""
    words: list[str] = []
    for d in args.lib_dir:
        words += ["--lib-dir", d]
    if args.github_dir:
        words += ["--github-dir", args.github_dir]
    if args.builder_config:
        words += ["--builder-config", args.builder_config]
    for define in args.defines:
        words += ["-D", define]
    return words
