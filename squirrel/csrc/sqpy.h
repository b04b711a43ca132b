/* The C side of the binding: one call per Python->Squirrel operation and one callback per
 * Squirrel->Python dispatch. build.py feeds this file to cffi's cdef, so it
 * holds plain C declarations between its cdef markers. */
#ifndef SQPY_H
#define SQPY_H
#ifdef __cplusplus
#include <squirrel.h>
extern "C" {
#endif

/* cdef-begin: build.py hands cffi the declarations between the markers. */

typedef struct SQVM *HSQUIRRELVM;  /* repeats squirrel.h's typedef for the cdef */

/* Value kinds crossing the boundary. The object kinds are Squirrel's raw type bits; SQPY_BLOB
 * marks an instance of the blob class. */
enum {
    SQPY_NULL = 0x1, SQPY_INTEGER = 0x2, SQPY_FLOAT = 0x4, SQPY_BOOL = 0x8, SQPY_STRING = 0x10,
    SQPY_TABLE = 0x20, SQPY_ARRAY = 0x40, SQPY_USERDATA = 0x80, SQPY_CLOSURE = 0x100,
    SQPY_NATIVECLOSURE = 0x200, SQPY_GENERATOR = 0x400, SQPY_USERPOINTER = 0x800,
    SQPY_THREAD = 0x1000, SQPY_FUNCPROTO = 0x2000, SQPY_CLASS = 0x4000, SQPY_INSTANCE = 0x8000,
    SQPY_WEAKREF = 0x10000, SQPY_OUTER = 0x20000, SQPY_BLOB = 0x1000000
};

/* A value in transit. Scalars travel by value; strings point into a Squirrel string kept alive
 * until the next call into the VM; everything else is a handle (`ref`) into the VM's table of
 * strong references, released with sqpy_release. */
typedef struct {
    int type;
    long long i;      /* integer, bool, or handle */
    double f;
    const char *s;
    long long len;
} sqpy_value;

/* Results of calls into the VM. */
enum {
    SQPY_OK = 0,
    SQPY_ERROR = 1,        /* a Squirrel runtime error: sqpy_error_* describe it */
    SQPY_COMPILE_ERROR = 2,
    SQPY_PYERROR = 3,      /* a Python exception from a native reached the host */
    SQPY_TIME_LIMIT = 4,   /* instruction budget or deadline ran out */
    SQPY_MEMORY_LIMIT = 5,
    SQPY_STOPPED = 6,      /* a native stopped the script (uncatchable) */
    SQPY_BADREF = 7,
    SQPY_BADARG = 8,
    SQPY_STACK_OVERFLOW = 9, /* runaway recursion: the script was stopped (uncatchable) */
    SQPY_OVERFLOW = 10,      /* an integer argument does not fit the dialect's integers */
    SQPY_WRONG_THREAD = 11,       /* called from a thread other than the VM's (the one that made it) */
    SQPY_NOT_A_TABLE = 12         /* sqpy_pack_slot: the slot holds something else */
};

/* What a Python native returns to the trampoline. RETURN_TEMP: the returned handle was made for
 * the return and is released once the value is pushed. */
enum { SQPY_CB_RETURN = 0, SQPY_CB_NORETURN = 1, SQPY_CB_RAISE = 2, SQPY_CB_STOP = 3,
       SQPY_CB_RETURN_TEMP = 4, SQPY_CB_RETURN_INT = 5 /* an integer in slot 0's i */,
       SQPY_CB_RETURN_TEXT = 6 /* a string of slot 0's i bytes in the buffer's text */,
       /* RAISE and STOP with the message in the buffer's text (slot 0's i bytes) */
       SQPY_CB_RAISE_TEXT = 7, SQPY_CB_STOP_TEXT = 8,
       /* An exception escaped the Python callback itself (cffi's error return): nothing in the
        * slots is valid; the script stops (uncatchable) and the exception, when Python could
        * keep it, reaches the caller of the script. */
       SQPY_CB_ESCAPED = 9 };

/* The fast call path: values cross in slots of one buffer per VM (column arrays, so Python
 * reads and writes plain numbers without making a cdata per value). A slot holds a type and:
 * an integer/bool/handle (i), a float (f), or a string (s, with its length in i). A string in
 * slot 0 that fits is also copied into `text` (Python slices it out without a pointer). */
enum { SQPY_NBUF = 64, SQPY_HAS_THIS = 0x10000, SQPY_TEXT = 1024 };
typedef struct {
    int type[64];
    long long i[64];
    double f[64];
    const char *s[64];
    char text[1024];
} sqpy_buf;

typedef struct sqpy_vm sqpy_vm;

/* overhead_scale: memory other than contents (string characters, blob bytes) counts this many
 * times its size (a host modelling a 32-bit target with this 64-bit build sets about 0.5). */
sqpy_vm *sqpy_open(void *owner, int intwidth, long long stacksize, double overhead_scale);
/* SQPY_THREAD (nothing done) from another thread than the VM's, unless any_thread (a host
 * finalizer, when nothing else can refer to the VM). The VM must not be running. */
int sqpy_close(sqpy_vm *vm, int any_thread);
HSQUIRRELVM sqpy_handle(sqpy_vm *vm);
int sqpy_depth(sqpy_vm *vm);

/* Limits. memory_limit 0, budget 0 and seconds 0 mean none. Budget and deadline restart at each
 * entry from the host (not for re-entrant calls made from natives). */
int sqpy_set_limits(sqpy_vm *vm, long long memory_limit, long long instruction_budget, double seconds);
/* Instructions each call of a Python function counts toward the instruction budget (0: none). */
int sqpy_set_call_cost(sqpy_vm *vm, long long instructions);
/* Bytes in use: contents (string characters, blob bytes) in full, the rest times the overhead
 * scale, which is also what memory_limit compares against. */
/* memory_limit := memory_used + headroom (> 0) in one call; returns the new limit (-1: another
 * thread's VM). */
long long sqpy_set_memory_headroom(sqpy_vm *vm, long long headroom);
long long sqpy_memory_used(sqpy_vm *vm);
long long sqpy_memory_peak(sqpy_vm *vm);
long long sqpy_instructions(sqpy_vm *vm);
/* The work (instructions, and what natives charged) the VM has done since it was made, exact at
 * any moment: inside a call, from a native, or between calls. Never reset, so a host takes
 * differences. */
long long sqpy_work(sqpy_vm *vm);

/* Handles. */
long long sqpy_ref_root(sqpy_vm *vm);
/* From any thread: from one other than the VM's, the handle is released later, by the VM's own
 * thread when it next leaves the VM. */
void sqpy_release(sqpy_vm *vm, long long ref);
/* 1 when called from a thread other than the VM's (what a -2 / -1 result of the functions that
 * return counts means then). A VM is used by the thread that made it; every call from another
 * thread is refused with SQPY_THREAD. */
int sqpy_foreign(sqpy_vm *vm);
long long sqpy_live_refs(sqpy_vm *vm);
int sqpy_ref_type(sqpy_vm *vm, long long ref);

/* The fast path. sqpy_fast_init: the VM's slot buffer; `vmid` is what the trampoline passes to
 * sqpy_fdispatch. sqpy_fcall calls fn with the n values in slots 0..n-1 (slot 0 is `this`
 * when n has the SQPY_HAS_THIS bit, else this is the root table); the bytes of string slots
 * follow one another in `strs`. It returns the result's type (> 0) with the value in slot 0,
 * or -(error code).
 * Inside a dispatch, sqpy_cbthis gives `this` and sqpy_cbthread the calling thread. */
sqpy_buf *sqpy_fast_init(sqpy_vm *vm, int vmid);
/* The fast dispatch's Python function and its onerror handler (as PyObject addresses: cffi
 * declares no Python objects), for the trampoline to call through the C API rather than
 * through cffi's callback (see fdispatch in sqpy.cpp). Called once, by squirrel.vm. */
void sqpy_direct_dispatch(void *fdispatch, void *onerror);
int sqpy_fcall(sqpy_vm *vm, long long fn, int n, const char *strs, long long nstrs);
/* sqpy_fcall with one integer argument, passed by value (the commonest call costs less). */
int sqpy_fcall1i(sqpy_vm *vm, long long fn, long long a0);
/* ... and with one string argument. */
int sqpy_fcall1s(sqpy_vm *vm, long long fn, const char *s, long long len);
int sqpy_cbthis(sqpy_vm *vm, sqpy_value *out);
/* The string result of the last fast call when it did not fit the buffer's text (its bytes and
 * length, kept alive until the next call). */
int sqpy_kept_string(sqpy_vm *vm, const char **s, long long *len);
HSQUIRRELVM sqpy_cbthread(sqpy_vm *vm);

/* Operations. `out` receives a result; strings in it stay valid until the next operation. */
int sqpy_compile(sqpy_vm *vm, const char *src, long long len, const char *name, sqpy_value *out);
/* Bytecode of a compiled closure: returns its size (copied into out when it fits in cap). */
long long sqpy_dump(sqpy_vm *vm, long long fn, char *out, long long cap);
int sqpy_load(sqpy_vm *vm, const char *data, long long len, sqpy_value *out);
int sqpy_call(sqpy_vm *vm, long long fn, const sqpy_value *self, int nargs, const sqpy_value *args, sqpy_value *out);
int sqpy_get(sqpy_vm *vm, long long obj, const sqpy_value *key, int raw, sqpy_value *out);
int sqpy_set(sqpy_vm *vm, long long obj, const sqpy_value *key, const sqpy_value *val, int newslot);
int sqpy_delete(sqpy_vm *vm, long long obj, const sqpy_value *key);
int sqpy_next(sqpy_vm *vm, long long obj, sqpy_value *iter, sqpy_value *key, sqpy_value *val);
/* Up to cap items of a table or array in iteration order, in one call; returns how many. */
int sqpy_items(sqpy_vm *vm, long long obj, int cap, sqpy_value *keys, sqpy_value *vals);
/* Add n items to a table (new slots) or append n values to an array (keys ignored). */
int sqpy_fill(sqpy_vm *vm, long long obj, int n, const sqpy_value *keys, const sqpy_value *vals);
long long sqpy_len(sqpy_vm *vm, long long obj);
int sqpy_append(sqpy_vm *vm, long long arr, const sqpy_value *val);
int sqpy_new(sqpy_vm *vm, int type, long long size, sqpy_value *out);
int sqpy_new_blob(sqpy_vm *vm, const char *data, long long len, sqpy_value *out);
int sqpy_blob_data(sqpy_vm *vm, long long ref, const char **data, long long *len);
/* typemask: Squirrel's (sq_setparamscheck), or NULL for none. */
int sqpy_new_function(sqpy_vm *vm, long long fid, long long nparams, const char *typemask, const char *name,
                      sqpy_value *out);
/* A batch of natives and integer constants for many VMs (squirrel.NativeSet), in groups: group 0
 * is the target table, group g > 0 the table `group_names[g]` inside group `parent[g]` (made if
 * missing). Native i, with id fid_base + i, goes into group `group[i]`; integer j into
 * `int_group[j]`. */
typedef struct {
    int ngroups;
    const int *parent;
    const char *const *group_names;
    int n;
    const char *const *names;
    const long long *nparams;
    const int *group;
    int nints;
    const char *const *int_names;
    const long long *ints;
    const int *int_group;
    const char *const *typemasks;  /* per native: Squirrel's typemask, or NULL for none */
} sqpy_natives;

/* Native `index` of a batch as a buffer reader: read(offset, length) -> a new blob of
 * data[offset:offset+length], done in C while *gate (when not NULL) is nonzero and both
 * arguments are integers naming a non-empty range inside the data; every other call goes to
 * the native itself. The data and gate must outlive the VM. */
typedef struct {
    int index;
    const unsigned char *data;
    long long size;
    const unsigned char *gate;
} sqpy_reader;

/* Install a batch into `table` (or into its slot `subtable`, made if missing), one C call. */
int sqpy_install(sqpy_vm *vm, long long table, const char *subtable, const sqpy_natives *set, long long fid_base,
                 int nreaders, const sqpy_reader *readers);
/* The `n`th reader installed in this VM (in install order, over all batches) serves `data`
 * (`size` bytes) with `gate` from now on; the same contract as sqpy_reader. */
int sqpy_retarget_reader(sqpy_vm *vm, int n, const unsigned char *data, long long size, const unsigned char *gate);
int sqpy_tostring(sqpy_vm *vm, const sqpy_value *val, sqpy_value *out);
int sqpy_typeof(sqpy_vm *vm, const sqpy_value *val, sqpy_value *out);
int sqpy_weakref_value(sqpy_vm *vm, long long ref, sqpy_value *out);
int sqpy_getbase(sqpy_vm *vm, long long ref, sqpy_value *out);
int sqpy_getclass(sqpy_vm *vm, long long ref, sqpy_value *out);
int sqpy_instanceof(sqpy_vm *vm, long long inst, long long cls);
int sqpy_generator_dead(sqpy_vm *vm, long long ref);
long long sqpy_collectgarbage(sqpy_vm *vm);
int sqpy_same(sqpy_vm *vm, long long a, long long b);
long long sqpy_hash(sqpy_vm *vm, long long ref);
int sqpy_closure_info(sqpy_vm *vm, long long ref, long long *nparams, sqpy_value *name, sqpy_value *source, long long *line);

/* The const table: a handle to it, and a digest of its contents (names and values, enums
 * included, in any order). Compiled code depends on the constants it saw, so a host that
 * reuses bytecode keys it on the digest and replays the constants the source defined. */
long long sqpy_ref_consts(sqpy_vm *vm);
unsigned long long sqpy_consts_digest(sqpy_vm *vm);

/* Reuse of a VM for a new script (see sqpy.cpp, "snapshot and restore"). sqpy_snapshot keeps
 * the root and const tables as pristine and hands the script deep copies; sqpy_restore hands it
 * new copies (SQPY_OK, with a handle of the new root table in *root: handles of the new
 * generation), or returns SQPY_ERROR when something shared with the pristine state was
 * changed (the VM must then be replaced) and SQPY_BADARG without a snapshot or while running.
 * sqpy_restore sets the memory limit to memory_limit (0: none) before anything else, as
 * sqpy_set_limits would (one call less for a host that lifts or moves it for each script). */
int sqpy_snapshot(sqpy_vm *vm);
int sqpy_restore(sqpy_vm *vm, long long *root, long long memory_limit);
/* Whether restores may keep the nested copies a script left as they were made (on by default;
 * off, every restore makes all copies afresh: for a test that compares the two). */
void sqpy_keep_copies(sqpy_vm *vm, int on);
/* Whether restores may keep the code the last script loaded, for a load of the same bytes right
 * after (on by default; off, every load reads the bytes: for a test that compares the two). */
void sqpy_keep_code(sqpy_vm *vm, int on);
/* 1 while the VM keeps the last script's code for the next load (from a restore to that load). */
int sqpy_code_kept(sqpy_vm *vm);

/* The last error. */
int sqpy_error_value(sqpy_vm *vm, sqpy_value *out);
const char *sqpy_error_message(sqpy_vm *vm);
int sqpy_error_frames(sqpy_vm *vm);
int sqpy_error_frame(sqpy_vm *vm, int i, const char **func, const char **source, long long *line, int *nlocals);
int sqpy_error_local(sqpy_vm *vm, int frame, int i, const char **name, const char **repr);
long long sqpy_error_line(sqpy_vm *vm);
long long sqpy_error_column(sqpy_vm *vm);
const char *sqpy_error_source(sqpy_vm *vm);
void sqpy_capture_locals(sqpy_vm *vm, int on);
/* Record errors a try/catch takes as well (the error handler runs at every raise), so the last
 * error describes a caught one while its catch block runs. */
int sqpy_record_caught_errors(sqpy_vm *vm, int on);

/* Line coverage: counts the instructions run while on, by prototype, outside the script's memory;
 * read by line (sqpy_cov.cpp). The code is compiled and runs as with coverage off. */
int sqpy_set_coverage(sqpy_vm *vm, int on);
int sqpy_coverage_count(sqpy_vm *vm);
int sqpy_coverage_items(sqpy_vm *vm, int n, long long *lines, long long *hits, const char **names,
                        int *first);
void sqpy_coverage_clear(sqpy_vm *vm);

/* A live frame of a running thread (level 0: the running native), for natives that report
 * where the script is. Returns 0 past the outermost frame. */
int sqpy_stack_frame(HSQUIRRELVM v, int level, const char **func, const char **src, long long *line);

/* Inside a native: the line of the innermost script frame that called it, with *src the index of
 * its source name (sqpy_source_name); -1 when there is none (outside a native, or vm NULL). An
 * index names the same source for the VM's life. */
long long sqpy_caller(sqpy_vm *vm, int *src);
const char *sqpy_source_name(sqpy_vm *vm, int i);

/* Plain data out of one VM and into another (or the same one, later), in one call each way.
 * sqpy_pack copies the value `obj` (a table or array) into a private byte form: null, bool,
 * integer, float, strings (valid UTF-8 without NUL; any other string packs as a blob), blobs,
 * arrays and tables. Anything else inside -- functions, classes, other instances, threads,
 * generators, weak references, and table keys that are not such strings -- is left out.
 * Returns the packed length (the bytes stay valid until the next pack on this thread), with
 * *size the value's size in a serialised form (1 byte per null or bool, 5 per number, 3 plus
 * the bytes per string, 5 plus the bytes per blob, 5 per array or table) and *left_out the
 * number of elements and table slots left out; a negative result is -SQPY_BADARG when values
 * nest deeper than maxdepth or the size passes 1 MiB, another -SQPY_* otherwise. Handles on the
 * parts are taken as a walk over proxies from Python takes them (a script's memory figure
 * follows them): every object among a container's keys and values at once, and none for a
 * container met again after it was packed whole (such a walk reuses its copy; its bytes are
 * copied here).
 * sqpy_unpack makes the value again in `vm`, building each table and array as a conversion
 * from Python would (same sizes, same insertion order). */
long long sqpy_pack(sqpy_vm *vm, long long obj, int maxdepth, const char **data, long long *size,
                    long long *left_out);
int sqpy_unpack(sqpy_vm *vm, const char *data, long long len, sqpy_value *out);
/* The same two crossings, each in one call, for a slot of table `obj` (a host keeping a global
 * across runs) named by the string `key` (keylen bytes of UTF-8). sqpy_pack_slot gets obj[key]
 * as sqpy_get does (a handle when it is an object), packs it when it is a table (result as
 * sqpy_pack) and releases the handle; it returns -SQPY_ERROR when the slot is missing and
 * -SQPY_NOT_A_TABLE when it holds no table. sqpy_unpack_slot unpacks into a new table or array,
 * sets obj[key] to it as sqpy_set (newslot) does, then releases the handle: the same calls, in
 * the same order, as the two steps from Python. */
long long sqpy_pack_slot(sqpy_vm *vm, long long obj, const char *key, long long keylen, int maxdepth,
                         const char **data, long long *size, long long *left_out);
int sqpy_unpack_slot(sqpy_vm *vm, long long obj, const char *key, long long keylen, const char *data,
                     long long len);

/* cdef-end */

#ifdef __cplusplus
}
#endif
#endif
