/* Loading compiled code from memory (sqpy_code.cpp), for sqpy.cpp. Not part of the cdef. */
#ifndef SQPY_CODE_H
#define SQPY_CODE_H

#include <squirrel.h>

#include <utility>
#include <vector>

/* What a load notes about the code it made, so that the code can be kept from one script to
 * the next (sqpy.cpp: sqpy_load, sqpy_restore): */
struct sqpy_code_note {
    /* every prototype and string the code refers to, once each, with its reference count right
     * after the load (a count still the same later: nothing but the code refers to it, or the
     * same others as then) */
    std::vector<std::pair<void *, SQUnsignedInteger> > refs;
    /* the memory (accounting units) of what only the code holds: its prototypes and the
     * strings the load made; the scratch pad, the string table's slots and the closure are not in it */
    long long held;
    HSQOBJECT proto;  /* the outermost prototype (not held by the note) */
};

/* Pushes the closure that `len` bytes written by sq_writeclosure describe, built as
 * sq_readclosure builds it (the same allocations in the same order). False, with nothing
 * pushed and nothing kept, when the bytes are not such a stream. With `note`, notes what
 * it made (then sqpy_code_note_refs once the closure is pushed). */
bool sqpy_code_push_closure(HSQUIRRELVM v, const char *data, long long len, sqpy_code_note *note);
void sqpy_code_note_refs(sqpy_code_note *note);
/* True when every object of the note has the reference count noted. */
bool sqpy_code_same_refs(const sqpy_code_note *note);
/* Pushes a new closure of the noted prototype over the root table, as the load made it. */
void sqpy_code_push_closure_of(HSQUIRRELVM v, const sqpy_code_note *note);
/* Lets go of what the VM's temporary register refers to (the function last called). */
void sqpy_code_drop_temp(HSQUIRRELVM v);
/* The scratch pad at `scratch` bytes and the string table at no fewer than `strings` slots. */
void sqpy_code_workspace(HSQUIRRELVM v, SQInteger scratch, SQInteger strings);

/* From sqpy.cpp's accounting: what the VM running now has counted (units), and what `bytes`
 * of object overhead count. */
long long sqpy_counted(void);
long long sqpy_overhead_units(long long bytes);

#endif
