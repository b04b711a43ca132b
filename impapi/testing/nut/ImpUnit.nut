// impsim's own implementation of the impUnit 1.2.3 test framework API (ImpTestCase and
// ImpUnitRunner), written from the behaviour described in docs/impunit.md (§1.1-§1.4); not
// derived from Electric Imp's source. MIT licence, like the rest of the project.
//
// Included by index.nut inside a module function, so the classes below become slots of the
// root table, where the runner looks for test cases. Kept compact: every function and local
// costs device memory.

// --- ImpTestCase (§1.2, §1.3) -------------------------------------------------------------------

class ImpTestCase {
    runner = null;      // the ImpUnitRunner running this case
    session = null;     // the runner's session id
    assertions = 0;     // incremented by every assertion, before it checks

    // The value a failing assertion throws. Under impsim's test session, imp.__impsim_where
    // first records where the assertion was called (the session reads the call stack).
    function _impsimFail(message) {
        local root = getroottable();
        if ("imp" in root && "__impsim_where" in root.imp) root.imp.__impsim_where(message);
        return message;
    }

    // impsim's view of the simulated board (docs/testing.md): what the app did to its pins and
    // buses since this call, and the world outside the imp. Only impsim's test sessions have it.
    function impsim() {
        local root = getroottable();
        if ("imp" in root && "__impsim_io" in root.imp) return root.imp.__impsim_io();
        throw "impsim() reads the simulated board: it works only in impsim's test sessions";
    }

    // format() on the imp accepts numbers (and other values) for %s; stock Squirrel 3.1 only
    // strings. Try the values as they are, then as their string forms. Any other format error
    // (a stray %, too few arguments) is what the assertion throws.
    function _format(message, args) {
        local call = [this, message];
        call.extend(args);
        try {
            return format.acall(call);
        } catch (e) {
            if (e != "string expected for the specified format") throw e;
        }
        call = [this, message];
        foreach (a in args) call.push(a == null ? "null" : a + "");
        return format.acall(call);
    }

    function assertTrue(condition, message = "Failed to assert that condition is true") {
        assertions++;
        if (!condition) throw _impsimFail(message);
    }

    function assertEqual(expected, actual, message = "Expected value: %s, got: %s") {
        assertions++;
        if (expected != actual) throw _impsimFail(_format(message, [expected, actual]));
    }

    function assertGreater(actual, cmp, message = "Failed to assert that %s > %s") {
        assertions++;
        if (actual <= cmp) throw _impsimFail(_format(message, [actual, cmp]));
    }

    function assertLess(actual, cmp, message = "Failed to assert that %s < %s") {
        assertions++;
        if (actual >= cmp) throw _impsimFail(_format(message, [actual, cmp]));
    }

    function assertClose(expected, actual, maxDiff, message = "Expected value: %s\xc2\xb1%s, got: %s") {
        assertions++;
        if (math.fabs(expected - actual) > maxDiff) throw _impsimFail(_format(message, [expected, maxDiff, actual]));
    }

    function assertBetween(actual, min, max, message = "Expected value the range of %s..%s, got %s") {
        assertions++;
        if (min > max) {
            local t = min;
            min = max;
            max = t;
        }
        if (actual < min || actual > max) throw _impsimFail(_format(message, [min, max, actual]));
    }

    // The default args array is created once, with the closure, and ctx is inserted into it on
    // every call: calls relying on the default see the ctx values of earlier calls too (a quirk
    // of the original that tests may depend on, kept on purpose).
    function assertThrowsError(fn, ctx, args = [], message = "Function was expected to throw an error") {
        assertions++;
        args.insert(0, ctx);
        try {
            fn.pacall(args);
        } catch (e) {
            return e;
        }
        throw _impsimFail(message);
    }

    function assertDeepEqual(expected, actual, message = "Comparison failed on '%s': expected %s, got %s") {
        assertions++;
        try {
            _deepEqual(expected, actual, message, true, "", 0);
            _deepEqual(actual, expected, message, false, "", 0);
        } catch (e) {
            throw _impsimFail(e);
        }
    }

    // lhs is the value whose keys are walked: expected on the forward pass, actual on the
    // backward one. Each key's path is its parent's path plus the key ('b.c' for key c of b,
    // whatever siblings came before), as impUnit 1.2.3 reports it since its 2021 path fix.
    function _deepEqual(lhs, rhs, message, forward, path, level) {
        if (level > 32) throw "Possible cyclic reference at " + (path.len() ? path.slice(1) : path);
        local tl = typeof lhs, tr = typeof rhs;
        if (tl != tr) {
            throw "Values are not the same type, typeof lhs = " + (forward ? tl : tr) + ", typeof rhs = "
                + (forward ? tr : tl);
        }
        // impsim decision (impunit.md §1.3): blobs take the "meta" branch, as on the imp, so two
        // blobs with the same bytes are equal.
        local raw = tl == "blob" ? "meta" : type(lhs);
        if (raw == "table" || raw == "class" || raw == "array") {
            foreach (k, v in lhs) {
                local keyPath = path + "." + k;
                if (!(k in rhs)) {
                    local shown = v == null ? "null" : v + "";
                    throw _format(message, [keyPath.slice(1), forward ? shown : "none", forward ? "none" : shown]);
                }
                _deepEqual(v, rhs[k], message, forward, keyPath, level + 1);
            }
        } else if (tl == "blob") {
            if (lhs.len() != rhs.len()) {
                throw format("Blob lengths unequal, lhs.len() == %d, rhs.len() == %d",
                    forward ? lhs.len() : rhs.len(), forward ? rhs.len() : lhs.len());
            }
            if (!crypto.equals(lhs, rhs)) {
                throw format("Blobs are the same length (%d bytes), but the contents are not identical.", lhs.len());
            }
        } else if (raw != "null" && lhs != rhs) {
            if (!forward) {
                local t = lhs;
                lhs = rhs;
                rhs = t;
            }
            throw _format(message, [path.len() ? path.slice(1) : path, lhs == null ? "null" : lhs + "",
                rhs == null ? "null" : rhs + ""]);
        }
    }

    function info(message = "") {
        runner._log("INFO", { message = message });
    }

    function runCommand(command = "") {
        runner._log("EXTERNAL_COMMAND", { command = command });
    }
}

// --- ImpUnitRunner (§1.4) -----------------------------------------------------------------------

class ImpUnitRunner {
    timeout = 2;              // seconds, per test method (setUp/tearDown included)
    readableOutput = true;    // false: machine-readable JSON messages (what impt reads)
    stopOnFailure = false;
    session = null;
    testClass = "";           // run only this root-table class (exact key)
    testCase = "";            // run only this method

    tests = 0;
    assertions = 0;
    failures = 0;

    _steps = null;            // the generator over the steps of the session
    _over = false;
    _depth = 0;               // steps run nested in one another (sync tests)

    function run() {
        _log("SESSION_START", "");
        _steps = _walk();
        _run();
    }

    // Messages (§1.1). Readable: [impUnit:<TYPE>] <message> (a non-string message JSON-encoded).
    // Machine: {"__IMPUNIT__":1,"type":"<TYPE>","session":<id>,"message":<message>}.
    // A value JSONEncoder cannot encode is sent as its string form rather than lost.
    function _log(type, message) {
        local text = null;
        try {
            text = readableOutput
                ? "[impUnit:" + type + "] " + (typeof message == "string" ? message : JSONEncoder.encode(message))
                : JSONEncoder.encode({ __IMPUNIT__ = 1, type = type, session = session, message = message });
        } catch (e) {
            return _log(type, message == null ? "null" : message + "");
        }
        server.log(text);
    }

    // Test cases: root-table classes with ImpTestCase anywhere in their base chain, collected in a
    // table keyed by their root key (so they run in that table's iteration order). Methods: every
    // member whose name starts with "test", sorted.
    function _findTests() {
        local cases = {};
        foreach (key, cls in getroottable()) {
            if (type(cls) != "class" || (testClass != "" && key != testClass)) continue;
            local parent = cls.getbase();
            while (parent != null && parent != ImpTestCase) parent = parent.getbase();
            if (parent == null) continue;
            local methods = [];
            foreach (m, _ in cls) {
                if (m.len() >= 4 && m.slice(0, 4) == "test" && (testCase == "" || m == testCase)) methods.push(m);
            }
            methods.sort();
            cases[key] <- [cls, methods];
        }
        return cases;
    }

    // A generator of steps: [name, instance, method, isTest].
    function _walk() {
        foreach (name, c in _findTests()) {
            local instance = c[0]();
            instance.runner = this;
            instance.session = session;
            if ("setUp" in instance) yield [name + "::setUp()", instance, "setUp", false];
            foreach (m in c[1]) yield [name + "::" + m + "()", instance, m, true];
            if ("tearDown" in instance) yield [name + "::tearDown()", instance, "tearDown", false];
        }
        return null;
    }

    function _now() {
        return "hardware" in getroottable() ? hardware.millis() / 1000.0 : time();
    }

    function _run() {
        if (_over) return;
        local step = _steps.getstatus() == "dead" ? null : resume _steps;
        if (step == null) return _finish();

        local root = getroottable();
        if ("collectgarbage" in root) collectgarbage();
        _log("TEST_START", step[0]);
        if (step[3]) tests++;

        local instance = step[1], before = instance.assertions, started = _now(), result = null;
        try {
            result = instance[step[2]]();
        } catch (e) {
            // Under impsim's test session, imp.__impsim_caught records where e was raised.
            if ("imp" in root && "__impsim_caught" in root.imp) root.imp.__impsim_caught();
            return _done(false, e, instance, before);
        }

        if ("Promise" in root && result instanceof root.Promise) {
            // Async: the first of resolve, reject and the timeout decides; later ones are ignored.
            local settled = false, runner = this, limit = timeout;
            local timer = imp.wakeup(limit, function() {
                if (!settled) {
                    settled = true;
                    runner._done(false, "Test timed out after " + limit + "s", instance, before);
                }
            });
            local settle = function(ok, value) {
                if (!settled) {
                    settled = true;
                    runner._done(ok, value, instance, before);
                }
            };
            result.then(@(value = null) settle(true, value), @(reason = null) settle(false, reason));
            result.finally(function(_ = null) {
                if (timer != null) imp.cancelwakeup(timer);
            });
            return;
        }

        local elapsed = _now() - started;
        if (elapsed > timeout) {
            _done(false, "Test took " + elapsed + "s, longer than timeout of " + timeout + "s", instance, before);
        } else {
            _done(true, result, instance, before);
        }
    }

    function _done(success, value, instance, assertionsBefore) {
        if (_over) return;
        assertions += instance.assertions - assertionsBefore;
        if (success) {
            _log("TEST_OK", value);
        } else {
            failures++;
            _log("TEST_FAIL", value);
            if (stopOnFailure) return _finish();
        }
        // The next step runs at once, nested in this call. impsim decision: after 10 nested
        // steps the chain continues from an imp.wakeup(0, ...) instead, so long runs of sync tests
        // do not grow the VM stack (and its memory) without bound.
        if (_depth >= 10) {
            local runner = this;
            if (imp.wakeup(0, function() { runner._run(); }) != null) return; // unwinds _depth to 0
        }
        _depth++;
        _run();
        _depth--;
    }

    function _finish() {
        if (_over) return;
        _over = true;
        _log("SESSION_RESULT", { tests = tests, assertions = assertions, failures = failures });
    }
}
