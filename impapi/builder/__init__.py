"""Electric Imp Builder and impCloud ``#require``, offline: how impsim turns an app's source files
into the code a simulated imp runs.

* :mod:`.directives` -- the directive processor (``@include``, ``@set``, ``@if``, ``@macro``,
  ``@while``, ``@repeat``, ``@error``/``@warning``, inline ``@{...}``): :class:`Builder`;
* :mod:`.expressions` -- the expression language of directive arguments (JavaScript semantics);
* :mod:`.sources` -- local and ``github:`` includes (GitHub references read from local checkouts);
* :mod:`.lines` -- line control: ``#line`` directives so errors point at the original file and line;
* :mod:`.requires` -- the ``#require`` registry (libraries found in library directories, and
  impsim's own Promise and JSONEncoder in ``libraries/``);
* :mod:`.load` -- the loader every entry point uses: :func:`load_app` gives an app's code as the
  imp runs it.

This package sits at the bottom of impsim next to :mod:`squirrel`: it imports nothing of the
simulator, so every entry point (tests, ``impsim run``, fuzzing, the Python API) can share it.
"""

from __future__ import annotations

from .directives import BuildResult, Builder, build
from .errors import BuildError, BuildWarning
from .expressions import evaluate, js_number
from .load import LoadedCode, LoadOptions, build_app, load_app
from .requires import (
    BUILTIN_LIBRARIES,
    BUILTIN_MAJOR_VERSIONS,
    LIB_PATH_ENV,
    LIBRARIES_DIR,
    find_library,
    library_dirs,
    resolve_requires,
)
from .sources import GITHUB_DIR_ENV

__all__ = [
    "BUILTIN_LIBRARIES",
    "BUILTIN_MAJOR_VERSIONS",
    "GITHUB_DIR_ENV",
    "LIBRARIES_DIR",
    "LIB_PATH_ENV",
    "BuildError",
    "BuildResult",
    "BuildWarning",
    "Builder",
    "LoadOptions",
    "LoadedCode",
    "build",
    "build_app",
    "evaluate",
    "find_library",
    "js_number",
    "library_dirs",
    "load_app",
    "resolve_requires",
]
