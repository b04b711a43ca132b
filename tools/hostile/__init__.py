"""Hostile Squirrel programs against the VM and the imp API: a generator, a runner that forks a
child per program and classifies what happened, a shrinker and a campaign driver
(``python -m tools.hostile``). Not shipped: a development tool and its CI test
(``tests/hostile``)."""
