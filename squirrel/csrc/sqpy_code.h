/* Loading compiled code from memory (sqpy_code.cpp), for sqpy.cpp. Not part of the cdef. */
#ifndef SQPY_CODE_H
#define SQPY_CODE_H

#include <squirrel.h>

/* Pushes the closure that `len` bytes written by sq_writeclosure describe, built as
 * sq_readclosure builds it (the same allocations in the same order). False, with nothing
 * pushed and nothing kept, when the bytes are not such a stream. */
bool sqpy_code_push_closure(HSQUIRRELVM v, const char *data, long long len);

#endif
