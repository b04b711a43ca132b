// Recursive Fibonacci: calls, returns, integer arithmetic.
local n = vargv.len() ? vargv[0].tointeger() : 27;
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
return fib(n);
