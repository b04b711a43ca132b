"""The Squirrel half of :mod:`impapi.language`.

:data:`DEVICE` (or :data:`AGENT`, which extends it) is compiled into every VM and run once with
``this`` = the root table. Through ``vargv`` it receives the one Python native ``py(op, ...)`` that
:func:`impapi.language.install_language` made for this VM, and the flags it chose; what it defines
closes over its locals, so the root table gains only the imp's own names. Op numbers are the
positions in :data:`impapi.language.OPS` (keep the two in step).

Compiling costs about 150 ns per token and runs on every boot, so the preludes are terse and
what apps rarely touch is in :data:`LAZY`: the prelude defines each such global as a small
forwarding stub (one template closure); its first call in a run compiles the real function,
which replaces the stub in the root table (a stub captured earlier keeps forwarding to it: the
host keeps each run's compiled functions, and the stubs, so that a run in a restored VM, whose
pristine root still holds the stubs, holds what a run in a new VM holds)."""

# vargv: py, agent (bool), imp32 (bool: format masks negatives to 32 bits), extras (bool)
DEVICE = r"""
local py = vargv[0], root = getroottable(), _split = split, _blob = blob;
foreach (k in _split("setroottable getconsttable setconsttable compilestring newthread suspend setdebughook seterrorhandler getstackinfos enabledebuginfo collectgarbage resurrectunreachable stream file dofile loadfile writeclosuretofile getenv system remove rename rand srand swap2 swap4 castf2i" + (vargv[3] ? "" : " startswith endswith escape"), " "))
    if (k in root) delete root[k];
local m = { function rand() { return py(0) }, function srand(seed) {} };
foreach (k in _split("abs fabs acos asin atan atan2 ceil floor cos sin tan exp log log10 pow sqrt", " ")) {
    m[k] <- root[k];
    delete root[k];
}
root.math <- m;
root.RAND_MAX <- 2147483647;
local stubs = {};
foreach (k in _split("date swap2 swap4 castf2i", " "))
    root[k] <- stubs[k] <- (@(k) function(...) {
        local f = py(19, k, py, stubs);
        if (typeof f == "class") return f(vargv[0]);
        vargv.insert(0, this);
        return f.acall(vargv);
    })(k);

function time() { return py(1) }
function clock() { return py(2) }
local nonempty = @(i, v) v.len() > 0;
function split(s, seps) { return _split(s, seps).filter(nonempty) }
if (vargv[2]) root._intsize_ = 4;
if (vargv[2] && format("%x", -1) != "ffffffff") {  // unless the C format already knows 32 bits
    local _format = format;
    function format(fmt, ...) {
        foreach (a in vargv) { local t = typeof a; if ((t == "integer" || t == "float") && a < 0) return py(5, fmt, vargv) }
        vargv.insert(0, fmt);
        vargv.insert(0, this);
        return _format.acall(vargv);
    }
}

local _readblob = blob.readblob, _readn = blob.readn, _writen = blob.writen, _writeblob = blob.writeblob, _resize = blob.resize;
function blob::readblob(n) { return n <= 0 || eos() ? _blob(0) : _readblob.call(this, n) }
function blob::readstring(n) {
    local m = len() - tell();
    if (n < m) m = n;
    if (m > 16) return py(3, _readblob.call(this, m));
    local s = "";
    while (m-- > 0) s += _readn.call(this, 'b').tochar();
    return s;
}
function blob::tostring() { return py(3, this) }
// Squirrel turns a blob in a string concatenation into text through _tostring: the bytes, as tostring() gives them.
function blob::_tostring() { return py(3, this) }
function blob::writestring(s) {
    if (typeof s != "string" || s.len() > 16) _writeblob.call(this, py(4, s));
    else foreach (c in s) _writen.call(this, c, 'b');
}
function blob::writen(v, t) { local y = typeof v; _writen.call(this, y == "integer" || y == "float" ? v : 0, t) }
function blob::resize(n) {
    local l = len();
    if (n < 0) throw "blob size must not be negative";
    if (n <= l) return _resize.call(this, n);
    local p = tell();
    seek(0, 'e');
    _writeblob.call(this, _blob(n - l));
    seek(p);
}
if (!("crypto" in root)) root.crypto <- {};
root.crypto.equals <- function(a, b) { return py(6, a, b) };
"""

AGENT = DEVICE + r"""
if (!("http" in root)) root.http <- {};
foreach (i, k in _split("jsonencode jsondecode urlencode urldecode base64encode base64decode", " "))
    root.http[k] <- (@(op) function(...) { vargv.insert(0, op); vargv.insert(0, this); return py.acall(vargv) })(i + 8);
// A class from the start, as on the imp: an app may extend it or ask its type before first use.
root.regexp2 <- class {
    _re = null;
    constructor(pattern) { _re = py(14, pattern) }
    function match(s) { return py(15, _re, s) }
    function search(s, start = 0) { return py(16, _re, s, start) }
    function capture(s, start = 0) { return py(17, _re, s, start) }
    function subexpcount() { return py(18, _re) }
    function _typeof() { return "regexp2" }
};
"""

# Compiled on first call (vargv: py, agent); each defines its global (replacing the stub) and returns it.
LAZY = {
    "date": r"""
local py = vargv[0], agent = vargv[1], mdays = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
function date(t = null, format = 'u') {
    local usec = 0;
    if (t == null) { t = py(1); if (agent) usec = py(7); } else t = t.tointeger();
    local days = t / 86400, s = t % 86400;
    if (s < 0) { s += 86400; days--; }
    local z = days + 719468;
    local era = (z >= 0 ? z : z - 146096) / 146097;
    local doe = z - era * 146097;
    local yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    local doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    local mp = (5 * doy + 2) / 153;
    local mon = mp < 10 ? mp + 2 : mp - 10, y = yoe + era * 400 + (mon < 2 ? 1 : 0);
    local day = doy - (153 * mp + 2) / 5 + 1;
    local leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return { sec = s % 60, min = s / 60 % 60, hour = s / 3600, day = day, month = mon, year = y,
             wday = ((days % 7) + 11) % 7, yday = mdays[mon] + day - 1 + (leap && mon > 1 ? 1 : 0),
             time = t, usec = usec };
}
return date;
""",
    "swap2": r"""
function swap2(i) { i = i.tointeger(); return ((i & 0xFF) << 8) | ((i >> 8) & 0xFF) }
return swap2;
""",
    "swap4": r"""
function swap4(i) {
    i = i.tointeger();
    local r = ((i & 0xFF) << 24) | ((i & 0xFF00) << 8) | ((i >> 8) & 0xFF00) | ((i >> 24) & 0xFF);
    return (r & 0x80000000) ? r | ~0xFFFFFFFF : r;
}
return swap4;
""",
    "castf2i": r"""
local sb = blob(4);
function castf2i(f) { sb.seek(0); sb.writen(f, 'f'); sb.seek(0); return sb.readn('i') }
return castf2i;
""",
}
