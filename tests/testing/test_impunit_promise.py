"""impsim's Promise.nut against the electricimp Promise 4.x API and semantics (the README's
examples, timed in virtual time), run on a simulated device."""

from __future__ import annotations

import pytest

from impapi.simulation import Simulation
from impapi.testing.session import BUILTIN_LIBRARIES

PROMISE = BUILTIN_LIBRARIES["Promise.lib.nut"].read_text(encoding="utf-8")

HELPERS = r'''
function show(v) {
    if (typeof v == "array") { local s = "["; foreach (i, x in v) s += (i ? "," : "") + show(x); return s + "]"; }
    return v == null ? "null" : v + "";
}
function log(what) { server.log(format("%.2f %s", hardware.millis() / 1000.0, what)); }
'''


def run(code: str, for_: str = "30s", side: str = "device") -> list[str]:
    source = PROMISE + HELPERS + code
    if side == "agent":
        source = source.replace("hardware.millis() / 1000.0", "time() - 0.0")
        sim = Simulation(agent=source)
        sim.run(for_=for_)
        return [e.text for e in sim.log if e.type in ("agent.log", "agent.error")]
    sim = Simulation(device=source)
    sim.run(for_=for_)
    return [e.text for e in sim.log if e.type in ("server.log", "server.error")]


def test_then_is_deferred_and_chains_values():
    assert run(r'''
local p = Promise(function(resolve, reject) { resolve(1); });
local seen = null;
p.then(function(v) { seen = v; return v + 1; })
 .then(function(v) { log("second " + v); return Promise.resolve(v * 10); })
 .then(function(v) { log("adopted " + v); });
log("right after then: " + show(seen));
''') == ["0.00 right after then: null", "0.00 second 2", "0.00 adopted 20"]


def test_rejection_paths():
    assert run(r'''
Promise.reject("r1")
    .then(function(v) { log("never"); })
    .fail(function(r) { log("fail got " + r); return "recovered"; })
    .then(function(v) { log("then got " + v); throw "again"; })
    .then(null, function(r) { log("onRejected got " + r); });
Promise(function(resolve, reject) { throw "thrown in action"; })
    .fail(function(r) { log("action throw: " + r); });
''') == [
        # each link of a chain waits for the next wakeup: the second chain's first callback
        # comes before the first chain's second one
        "0.00 action throw: thrown in action", "0.00 fail got r1", "0.00 then got recovered",
        "0.00 onRejected got again"]


def test_finally_sees_value_or_reason_and_passes_its_result_on():
    assert run(r'''
Promise.resolve("v").finally(function(x) { log("finally " + x); return "f"; })
    .then(function(v) { log("after finally " + v); });
Promise.reject("r").finally(function(x) { log("finally " + x); })
    .then(function(v) { log("settled as resolved: " + show(v)); });
''') == ["0.00 finally v", "0.00 finally r", "0.00 after finally f", "0.00 settled as resolved: null"]


def test_resolve_and_reject_only_once():
    assert run(r'''
Promise(function(resolve, reject) { resolve(1); resolve(2); reject(3); })
    .then(function(v) { log("value " + v); }, function(r) { log("never"); });
Promise(function(resolve, reject) { reject("no"); resolve(1); })
    .then(function(v) { log("never"); }, function(r) { log("reason " + r); });
''') == ["0.00 value 1", "0.00 reason no"]


def test_all_readme_example():
    assert run(r'''
local series = [
    Promise(function(resolve, reject) { imp.wakeup(1.0, function() { resolve(1); }); }),
    Promise(function(resolve, reject) { imp.wakeup(1.5, function() { resolve(2); }); }),
    Promise(function(resolve, reject) { imp.wakeup(0.5, function() { resolve(3); }); })
];
Promise.all(series).then(function(values) { log(show(values)); });
Promise.all([]).then(function(values) { log("empty " + show(values)); });
Promise.all([Promise.resolve(1), @() Promise.reject("bad"), 3]).fail(function(r) { log("all failed: " + r); });
Promise.all([@() Promise.resolve("f"), 7]).then(function(v) { log(show(v)); });
''') == ["0.00 empty []", "0.00 all failed: bad", "0.00 [f,7]", "1.50 [1,2,3]"]


def test_race_readme_example():
    assert run(r'''
local series = [
    Promise(function(resolve, reject) { imp.wakeup(1, function() { reject(1); }); }),
    function() { return Promise(function(resolve, reject) { imp.wakeup(1.5, function() { resolve(2); }); }); },
    function() { return Promise(function(resolve, reject) { imp.wakeup(0.5, function() { reject(3); }); }); }
];
Promise.race(series).then(function(v) { log("never " + v); }, function(r) { log("race rejected " + r); });
''') == ["0.50 race rejected 3"]


def test_serial_readme_examples():
    assert run(r'''
local lazy = [
    Promise(function(resolve, reject) { imp.wakeup(1, function() { resolve(1); }); }),
    function() { return Promise(function(resolve, reject) { imp.wakeup(1.5, function() { resolve(2); }); }); },
    Promise(function(resolve, reject) { imp.wakeup(0.5, function() { resolve(3); }); })
];
Promise.serial(lazy).then(function(v) { log("lazy " + v); });
local eager = [
    Promise(function(resolve, reject) { imp.wakeup(1, function() { resolve(1); }); }),
    Promise(function(resolve, reject) { imp.wakeup(1.5, function() { resolve(2); }); }),
    Promise(function(resolve, reject) { imp.wakeup(0.5, function() { resolve(3); }); })
];
Promise.serial(eager).then(function(v) { log("eager " + v); });
Promise.serial([@() Promise.resolve(1), @() Promise.reject("stop"), function() { log("never called"); }])
    .fail(function(r) { log("serial rejected " + r); });
Promise.serial([]).then(function(v) { log("empty " + show(v)); });
''') == ["0.00 empty null", "0.00 serial rejected stop", "1.50 eager 3", "2.50 lazy 3"]


def test_loop_readme_example():
    assert run(r'''
local i = 0;
Promise.loop(
    @() i++ < 3,
    function() {
        return Promise(function(resolve, reject) {
            imp.wakeup(3, function() { resolve("Counter is " + i); });
        });
    }).then(function(v) { log(v); });
local j = 0;
Promise.loop(@() true, function() { return ++j < 2 ? Promise.resolve(j) : Promise.reject("stopped at " + j); })
    .fail(function(r) { log(r); });
Promise.loop(@() false, @() Promise.resolve(1)).then(function(v) { log("no iterations: " + show(v)); });
''') == ["0.00 no iterations: null", "0.00 stopped at 2", "9.00 Counter is 3"]


def test_unhandled_rejection_is_reported():
    assert run(r'''
Promise.reject("nobody listens");
local handled = Promise.reject("handled later in the same event");
handled.fail(function(r) { log("ok: " + r); });
''') == ["Unhandled promise rejection: nobody listens", "0.00 ok: handled later in the same event"]


def test_many_promises_at_once_do_not_exhaust_device_timers():
    """The device has 20 timers; 50 promises settling in one event need one wakeup."""
    assert run(r'''
local series = [];
for (local i = 0; i < 50; i++) series.push(Promise.resolve(i));
Promise.all(series).then(function(v) { log("sum " + v.reduce(@(a, b) a + b)); });
''') == ["0.00 sum 1225"]


def test_works_on_the_agent():
    assert run(r'''
Promise.all([Promise.resolve(1), Promise(function(res, rej) { imp.wakeup(2, @() res(2)); })])
    .then(function(v) { server.log("agent " + show(v)); });
''', side="agent") == ["agent [1,2]"]


def test_callbacks_keep_this_when_bound():
    assert run(r'''
class Sensor {
    name = "s1";
    function read() {
        return Promise(function(resolve, reject) { resolve(name); }.bindenv(this))
            .then(function(v) { return name + ":" + v; }.bindenv(this));
    }
}
Sensor().read().then(function(v) { log(v); });
''') == ["0.00 s1:s1"]


@pytest.mark.parametrize("method", ["then", "fail", "finally"])
def test_instance_methods_return_promises(method):
    arg = "null" if method == "then" else "@(x) x"
    assert run(f'''
local p = Promise.resolve(1).{method}({arg});
log((p instanceof Promise) + "");
''') == ["0.00 true"]


def test_version():
    assert run('log(Promise.VERSION);') == ["0.00 4.0.0"]
