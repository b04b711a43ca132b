// impsim's own Promise for Squirrel, API-compatible with the electricimp Promise library 4.x:
//   Promise(action)                  action(resolve, reject) runs at once
//   p.then([onFulfilled[, onRejected]]), p.fail(onRejected), p.finally(onSettled)
//   Promise.resolve(value), Promise.reject(reason), Promise.all(series), Promise.race(series),
//   Promise.loop(continueFunction, nextFunction), Promise.serial(series)
// A series holds promises and/or functions returning promises (or plain values).
//
// Callbacks never run synchronously: a settled promise hands its value to the callbacks in a
// later event, through imp.wakeup(0, ...). One wakeup serves every callback that became due in
// the same event (so a burst of promises does not exhaust the device's timers); callbacks that
// become due while those run wait for the next wakeup. A rejection that no callback handles by
// then is reported with server.error("Unhandled promise rejection: <reason>").
// Resolving with a promise (any instance with a then method) adopts its outcome.
//
// Written for impsim (MIT licence, like the rest of the project); not derived from the library's
// source. Kept compact: every function and local costs device memory.

class Promise {
    static VERSION = "4.0.0";

    // Shared scheduler: the jobs waiting for the next imp.wakeup(0) and whether it is armed.
    static _queue = { jobs = [], armed = false };

    _state = 0;        // 0 pending, 1 fulfilled, 2 rejected
    _locked = false;   // resolved with a thenable: follows it, ignores resolve/reject
    _value = null;
    _handlers = null;  // [onFulfilled, onRejected, the promise then() returned], made on demand
    _handled = false;

    constructor(action) {
        if (action == null) return; // internal: settled through _resolve/_settle
        try {
            action(_resolve.bindenv(this), _reject.bindenv(this));
        } catch (e) {
            _settle(Promise._raised(e), 2);
        }
    }

    function then(onFulfilled = null, onRejected = null) {
        _handled = true;
        local f = typeof onFulfilled, r = typeof onRejected, next = Promise(null);
        if (_handlers == null) _handlers = [];
        _handlers.push([f == "function" || f == "native function" ? onFulfilled : null,
                        r == "function" || r == "native function" ? onRejected : null, next]);
        if (_state) Promise._defer(this);
        return next;
    }

    function fail(onRejected) {
        return then(null, onRejected);
    }

    function finally(onSettled) {
        return then(onSettled, onSettled);
    }

    function resolve(value = null) {
        local p = Promise(null);
        p._resolve(value);
        return p;
    }

    function reject(reason = null) {
        local p = Promise(null);
        p._settle(reason, 2);
        return p;
    }

    // mode 0: all (values in order; first rejection); 1: race (first to settle);
    // 2: serial (one after the other; the last value; first rejection).
    function _series(series, mode) {
        return Promise(function(resolve, reject) {
            local n = series.len(), values = array(n), left = n, i = 0, next = null;
            if (mode == 2) {
                next = function(v = null) {
                    if (i >= n) return resolve(v);
                    Promise._start(series[i++]).then(next, reject);
                };
                return next();
            }
            if (!n && !mode) return resolve(values);
            foreach (j, item in series) {
                Promise._start(item).then(mode ? resolve : (@(j) function(v = null) {
                    values[j] = v;
                    if (--left == 0) resolve(values);
                })(j), reject);
            }
        });
    }

    function all(series) {
        return Promise._series(series, 0);
    }

    function race(series) {
        return Promise._series(series, 1);
    }

    function serial(series) {
        return Promise._series(series, 2);
    }

    function loop(continueFunction, nextFunction) {
        return Promise(function(resolve, reject) {
            local next = null;
            next = function(v = null) {
                try {
                    if (!continueFunction()) return resolve(v);
                } catch (e) {
                    return reject(Promise._raised(e));
                }
                Promise._start(nextFunction).then(next, reject);
            };
            next();
        });
    }

    // A series item as a promise: a function is called (a throw rejects); a thenable is used as
    // it is; any other value is a resolved promise.
    function _start(item) {
        local t = typeof item;
        if (t == "function" || t == "native function") {
            try {
                item = item();
            } catch (e) {
                return Promise.reject(Promise._raised(e));
            }
        }
        return Promise._isThenable(item) ? item : Promise.resolve(item);
    }

    function _isThenable(value) {
        return value instanceof Promise
            || (typeof value == "instance" && "then" in value && typeof value.then == "function");
    }

    function _resolve(value = null) {
        if (_state || _locked) return;
        if (value == this) return _settle("a promise cannot be resolved with itself", 2);
        if (!Promise._isThenable(value)) return _settle(value, 1);
        // Adopt the outcome of the other promise; meanwhile resolve/reject calls are ignored.
        _locked = true;
        local self = this, done = false;
        local adopt = function(v, state) {
            if (done) return;
            done = true;
            self._locked = false;
            if (state == 1) self._resolve(v);
            else self._settle(v, 2);
        };
        try {
            value.then(@(v = null) adopt(v, 1), @(r = null) adopt(r, 2));
        } catch (e) {
            adopt(e, 2);
        }
    }

    function _reject(reason = null) {
        _settle(reason, 2);
    }

    function _settle(value, state) {
        if (_state || _locked) return;
        _state = state;
        _value = value;
        if (_handlers) Promise._defer(this);
        if (state == 2 && !_handled) {
            local self = this;
            Promise._defer(function() {
                if (!self._handled) server.error("Unhandled promise rejection: " + self._value);
            });
        }
    }

    // Hands the settled value to the callbacks registered so far; each callback's result (or
    // throw) settles the promise its then() returned.
    function _runHandlers() {
        local handlers = _handlers, ok = _state == 1;
        _handlers = null;
        if (handlers) foreach (h in handlers) {
            local cb = ok ? h[0] : h[1], value = _value;
            if (cb != null) {
                try {
                    value = cb(value);
                } catch (e) {
                    h[2]._settle(Promise._raised(e), 2);
                    continue;
                }
                h[2]._resolve(value);
            } else if (ok) {
                h[2]._resolve(value);
            } else {
                h[2]._settle(value, 2);
            }
        }
    }

    // An error a callback threw, which now rejects a promise. Under impsim's test session,
    // imp.__impsim_raised records where it was raised, so a test failing with this rejection
    // can say which line threw; elsewhere nothing happens.
    function _raised(e) {
        local root = getroottable();
        if ("imp" in root && "__impsim_raised" in root.imp) root.imp.__impsim_raised(e);
        return e;
    }

    // Jobs (functions, or promises whose callbacks are due) run at the next imp.wakeup(0).
    function _defer(job) {
        local q = Promise._queue;
        q.jobs.push(job);
        if (q.armed) return;
        q.armed = true;
        imp.wakeup(0, function() {
            local jobs = q.jobs, failure = null;
            q.jobs = [];
            q.armed = false;
            foreach (job in jobs) {
                // A job that throws must not cost the others their turn.
                try {
                    if (typeof job == "instance") job._runHandlers();
                    else job();
                } catch (e) {
                    if (failure == null) failure = [e];
                }
            }
            if (failure != null) throw failure[0];
        });
    }
}
