/* Python callbacks the C side calls (cffi "extern Python+C": defined by the generated module,
 * callable from sqpy.cpp). `owner` is the cffi handle of the Python VM object. They follow
 * pygit2's error contract: a Python exception is stored on the owner, never let through C. */
extern "Python+C" int sqpy_dispatch(void *owner, HSQUIRRELVM v, long long fid, int nargs, sqpy_value *args, sqpy_value *ret);
extern "Python+C" void sqpy_print(void *owner, int is_error, const char *s, long long len);
extern "Python+C" void sqpy_forget(void *owner, long long fid);
/* The fast dispatch: arguments (without `this`) in the slots of the VM's buffer, the result or
 * the error message in slot 0. shape = nargs | (type of the first argument << 8), so Python
 * recognises the common cases with one comparison; i0 repeats slot 0's i (the value of an
 * integer first argument, saving Python a read). */
extern "Python+C" int sqpy_fdispatch(int vmid, long long fid, long long shape, long long i0);
/* A native returned an integer the imp dialect cannot hold: Python makes it an OverflowError
 * (stored like any native's exception, its message in slot 0) and returns SQPY_CB_RAISE. */
extern "Python+C" int sqpy_overflow(int vmid, long long value);
