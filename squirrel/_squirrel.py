"""Stands in for the compiled extension ``squirrel._squirrel`` (built by ``build.py``) when it
is missing: Python imports an extension module before a source module of the same name, so
this file runs only when there is no build, and says how to make one."""

from __future__ import annotations

from typing import Any

ffi: Any
lib: Any

raise ImportError(
    "squirrel's compiled extension (squirrel/_squirrel.*.so) is not built: run `pip install -e .` "
    "in the project, or `python build.py` to build it in place"
)
