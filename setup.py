# cffi's setuptools integration is configured here: pyproject.toml cannot carry cffi_modules.
from setuptools import setup

setup(cffi_modules=["build.py:ffibuilder"])
