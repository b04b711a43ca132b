"""Natives can have Squirrel check their argument types (``typemask``) before they run."""

import pytest

import squirrel


def _message(vm, code):
    with pytest.raises(squirrel.ScriptError) as e:
        vm.run(code)
    return e.value.message


def test_a_typemask_is_checked_by_squirrel_with_its_own_words():
    calls = []
    vm = squirrel.VM()
    vm.root["f"] = squirrel.native(lambda a, b=None: calls.append((a, b)), typemask=".s|o n")
    vm.run('f("x"); f(null, 2.5); f("y", 3)')
    assert calls == [("x", None), (None, 2.5), ("y", 3)]
    assert _message(vm, "f(1)") == "parameter 1 has an invalid type 'integer' ; expected: 'null|string'"
    assert _message(vm, 'f("x", "2")') == "parameter 2 has an invalid type 'string' ; expected: 'integer|float'"
    assert len(calls) == 3


def test_a_nativeset_member_keeps_its_typemask_in_every_vm():
    def on(context, name, callback):
        context.append(name)

    ns = squirrel.NativeSet({"on": squirrel.native(on, typemask=".sc")})
    for _ in range(2):
        seen = []
        vm = squirrel.VM()
        vm.install(vm.root, ns, seen)
        vm.run('on("a", function() {})')
        assert _message(vm, 'on("b", 5)') == "parameter 2 has an invalid type 'integer' ; expected: 'function|function'"
        assert _message(vm, 'on("b")') == "wrong number of parameters"
        assert seen == ["a"]


@pytest.mark.parametrize("mask", ["|s", "s|", "z", ".s|"])
def test_a_typemask_squirrel_cannot_read_is_refused_at_once(mask):
    with pytest.raises(ValueError, match="typemask"):
        squirrel.native(lambda a: a, typemask=mask)
