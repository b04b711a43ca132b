// Dense matrix multiplication with arrays of arrays of floats.
local n = vargv.len() ? vargv[0].tointeger() : 100;
function make(n, seed) {
    local m = array(n);
    for (local i = 0; i < n; i++) {
        local row = array(n);
        for (local j = 0; j < n; j++) row[j] = ((i * n + j + seed) % 17) * 0.25;
        m[i] = row;
    }
    return m;
}
function mul(a, b, n) {
    local c = array(n);
    for (local i = 0; i < n; i++) {
        local ai = a[i], row = array(n, 0.0);
        for (local k = 0; k < n; k++) {
            local aik = ai[k], bk = b[k];
            for (local j = 0; j < n; j++) row[j] += aik * bk[j];
        }
        c[i] = row;
    }
    return c;
}
local c = mul(make(n, 1), make(n, 2), n);
return c[n / 2][n / 3];
