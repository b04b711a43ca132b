// Method calls on class instances: member reads and writes, virtual dispatch through a base.
local n = vargv.len() ? vargv[0].tointeger() : 1000000;
class Toggle {
    state = false;
    constructor(s) { state = s; }
    function value() { return state; }
    function activate() { state = !state; return this; }
}
class NthToggle extends Toggle {
    count = 0; max = 0;
    constructor(s, m) { base.constructor(s); max = m; }
    function activate() {
        if (++count >= max) { state = !state; count = 0; }
        return this;
    }
}
local t = Toggle(true), u = NthToggle(true, 3), on = 0;
for (local i = 0; i < n; i++) {
    if (t.activate().value()) on++;
    if (u.activate().value()) on++;
}
return on;
