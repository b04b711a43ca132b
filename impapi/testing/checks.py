"""``impapi.testing.checks``: the polite-deployment checks (:mod:`impapi.testing.fuzz.checks`)
under the name the README uses, so ``import impapi.testing.checks`` works as written."""

import sys

from .fuzz import checks as _checks

sys.modules[__name__] = _checks
