// Nested loops with integer and float arithmetic, local variables and array indexing.
local n = vargv.len() ? vargv[0].tointeger() : 1000;
local a = array(64, 0);
local s = 0, f = 0.0;
for (local i = 0; i < n; i++) {
    for (local j = 0; j < 1000; j++) {
        s += (i ^ j) & 0xFF;
        a[j & 63] += j;
        f += j * 0.5;
    }
}
return s + a[7] + f.tointeger();
