/* C helpers for the hot paths of the binding (see sqpy.h).
 *
 * Every entry point from Python goes through an Entry guard: it makes this VM the target of
 * memory accounting (the allocator has no VM argument), and when it is the outermost entry it
 * starts the instruction budget and the deadline, and afterwards turns a stop requested by the
 * interrupt hook or by a native into a result code. */
#include <Python.h>  /* first, as Python asks: only for PyGILState_* (see Entry) */
#include <squirrel.h>
#include <sqstdaux.h>
#include <sqstdblob.h>
#include <sqstdmath.h>
#include <sqstdstring.h>

#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unistd.h>
#include <map>
#include <mutex>
#include <pthread.h>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sqpy.h"
#include "sqpy_code.h"
#include "sqpy_cov.h"
#include "sqpy_snap.h"

/* Defined by the cffi-generated module (callbacks.h); cffi gives them C++ linkage when it
 * compiles the module as C++, so they are declared here without extern "C". */
int sqpy_dispatch(void *owner, HSQUIRRELVM v, long long fid, int nargs, sqpy_value *args, sqpy_value *ret);
int sqpy_fdispatch(int vmid, long long fid, long long shape, long long i0);
int sqpy_overflow(int vmid, long long value);
void sqpy_print(void *owner, int is_error, const char *s, long long len);
void sqpy_forget(void *owner, long long fid);

/* The VM's coverage hooks (squtils.h, patch 19-coverage-from-ip), defined below. */
struct SQFunctionProto;
void *sq_vm_coverage(SQVM *v);
void sq_vm_proto_released(SQFunctionProto *f);

struct Frame {
    std::string func, source;
    long long line;
    std::vector<std::pair<std::string, std::string> > locals;
};

struct sqpy_vm {
    HSQUIRRELVM v;
    void *owner;
    int depth;
    uintptr_t home;  /* the thread that made the VM: the only one that may use it (see Claim) */
    /* Handles released by other threads (proxies freed by Python's collector there): the home
     * thread releases them when it next leaves the VM. */
    std::mutex foreign_mutex;
    std::vector<long long> foreign;
    std::atomic<bool> has_foreign;
    int intwidth;

    sqpy_buf buf;     /* the fast path's slots */
    bool fast;        /* Python set up the fast path (sqpy_fast_init) */
    int vmid;
    HSQUIRRELVM cbv;  /* the thread of the dispatch in progress */
    struct GilSlot *gil;  /* the innermost entry's GIL state (see Entry) */

    std::vector<HSQOBJECT> refs;
    std::vector<long long> freelist;  /* free indices into refs */
    long long gen;  /* a handle is index | gen << 32; sqpy_restore starts a new generation */
    long long live;
    HSQOBJECT keep;  /* keeps the last result (and its string) alive */

    /* Memory, in units of 1/MEM_ONE byte: contents (payload: string characters, blob bytes) at
     * full size, everything else (object overhead) times overhead_fx / MEM_ONE. A host that
     * models a 32-bit target with this 64-bit build scales the overhead, not the contents. */
    long long mem_used, mem_peak, mem_limit;
    long long overhead_fx;

    long long budget, executed, interval;
    long long work;  /* everything the hook counted since the VM was made (never reset) */
    /* Counted toward the budget (not toward the work natives charge) for each call of a Python
     * function: a host's function costs far more than an instruction. */
    long long call_cost;
    double seconds;
    struct timespec deadline;
    int stop;

    HSQOBJECT err;
    bool handled;  /* the error handler (or record_unhandled) recorded the error of this call */
    std::string errmsg;
    std::vector<Frame> frames;
    bool capture_locals;
    bool caught_errors;  /* the error handler runs for caught errors too */
    std::string csource;
    long long cline, ccol;

    HSQOBJECT snap_root, snap_consts;  /* pristine state for sqpy_restore (OT_NULL: none) */
    HSQOBJECT root_weak;  /* the weak reference to the root's copy (set_copies says why) */
    unsigned long long snap_digest;
    struct sqpy_snap_state *snap;  /* what the walks keep between restores (sqpy_snap.cpp) */
    bool fresh_copies;             /* sqpy_keep_copies(vm, 0) */
    std::vector<HSQOBJECT> held;   /* scratch: the handles a restore releases */
    SQInteger snap_scratch, snap_strings;  /* working space at the snapshot (sq_getworkspace) */
    SQUnsignedInteger snap_keyids;  /* objects numbered as table keys at the snapshot */
    SQUnsignedInteger snap_shown;   /* objects tostring() had numbered at the snapshot */
    long long snap_stacks[SQPY_STACK_SIZES];  /* the VM's stacks at the snapshot (sqpy_snap_stacks) */
    long long snap_mem;  /* mem_used at the snapshot */
    bool fresh;  /* restored, and nothing that could change what a load makes has happened since */

    /* The app's code kept from one script to the next (see "keeping the loaded code"). */
    sqpy_code_note code;      /* what the last noted load made */
    std::string code_bytes;   /* the bytes it read */
    bool code_noted;          /* `code` describes a load made right after a restore, as it was made */
    long long code_ref;       /* the handle of its closure while the script runs (-1: none) */
    long long code_m0, code_dpeak;  /* mem_used before that load, and how far above it the load went */
    SQInteger code_scratch, code_strings;  /* the working space the load left (sq_getworkspace) */
    bool code_kept;           /* between scripts: the code's prototypes held, their memory not counted */
    bool fresh_code;          /* sqpy_keep_code(vm, 0) */

    /* Line coverage (sqpy_cov.cpp): the record, made when coverage is first switched on and
     * kept to the end (a prototype freed later still reports to it), and whether it counts. */
    bool coverage;
    sqpy_cov *cov;
    std::vector<std::pair<std::pair<std::string, long long>, long long> > covflat;

    /* The source names sqpy_caller has reported, each once, in the order first seen: Python
     * keeps their decoded names by index (a crossing and a decode less per call). The C++ heap
     * holds them, not Squirrel's: the script's memory figures do not see them. */
    std::vector<std::string> srcnames;
    std::unordered_map<std::string, int> srcindex;
    int srclast;  /* the index found last: a caller is usually where the last one was */

    /* The BufferReader of every reader installed, in install order (sqpy_retarget_reader);
     * NULL once Squirrel freed it (reader_released). Not held: holding it would keep memory
     * the script sees in use after the script let the reader go. */
    std::vector<struct BufferReader *> readers;
};

static thread_local sqpy_vm *g_current = NULL;

/* ---- memory accounting: Squirrel's allocator hooks (sqmem.cpp is not compiled) ---- */

static const long long MEM_ONE = 1 << 16;

static inline void account_weighted(sqpy_vm *vm, long long delta) {
    vm->mem_used += delta;
    if (vm->mem_used > vm->mem_peak) vm->mem_peak = vm->mem_used;
    if (delta > 0 && vm->mem_limit && vm->mem_used > vm->mem_limit && vm->v)
        sq_requestinterrupt(vm->v);
}

static inline void account(long long delta) {
    sqpy_vm *vm = g_current;
    if (!vm) return;
    account_weighted(vm, delta * vm->overhead_fx);
}

void sqpy_count_memory(long long bytes) { account(bytes); }
long long sqpy_counted(void) { return g_current ? g_current->mem_used : 0; }
long long sqpy_overhead_units(long long bytes) { return g_current ? bytes * g_current->overhead_fx : 0; }

/* Of what was just allocated (or is about to be freed), `delta` bytes are contents: they count
 * in full, so they get the part of MEM_ONE that account() left out. */
void sq_vm_payload(SQInteger delta) {
    sqpy_vm *vm = g_current;
    if (!vm || vm->overhead_fx == MEM_ONE) return;
    account_weighted(vm, (long long)delta * (MEM_ONE - vm->overhead_fx));
}

void *sq_vm_malloc(SQUnsignedInteger size) {
    account((long long)size);
    return malloc(size);
}

void *sq_vm_realloc(void *p, SQUnsignedInteger oldsize, SQUnsignedInteger size) {
    account((long long)size - (long long)oldsize);
    return realloc(p, size);
}

void sq_vm_free(void *p, SQUnsignedInteger size) {
    account(-(long long)size);
    free(p);
}

/* The GIL. The entry points keep it (cffi's wrappers do not release it: sqpy_cffi.h): most
 * calls are short, and a release and retake costs more than many of them. Squirrel code that
 * runs a while lets it go at the VM's periodic check (interrupt_hook, every CHECK_INTERVAL
 * instructions at most), and a compile lets it go at once, so VMs in different threads run in
 * parallel. A callback after that takes it back (PyGILState_Ensure), which costs a lock handoff
 * per callback. So the first callback under an entry that let it go keeps it (take_gil below)
 * until the entry returns: later callbacks find it held, which is cheap. Each entry has its own
 * slot, because a callback that calls back in starts a new entry, which may let it go again for
 * its own run and takes it back as it returns. (Measured with callgrind on a reused VM booting
 * a sleepy app, 3 short calls of Squirrel a boot: ~2,600 instructions a boot less than letting
 * it go at every call.) */
enum { GIL_FREE = -1, GIL_HELD = -2 };  /* else: the PyGILState_STATE of the callback that took it */
struct GilSlot {
    int state;
    PyThreadState *unlocked;  /* the thread state of the entry that let it go */
};

static inline void take_gil(sqpy_vm *vm) {
    if (vm->gil && vm->gil->state == GIL_FREE) vm->gil->state = (int)PyGILState_Ensure();
}

static inline void let_go_gil(sqpy_vm *vm) {
    if (vm->gil && vm->gil->state == GIL_HELD) {
        vm->gil->unlocked = PyEval_SaveThread();
        vm->gil->state = GIL_FREE;
    }
}

/* ---- limits ---- */

/* With no limit set the hook still runs now and then, to stop runaway recursion: stock
 * Squirrel grows its stacks until malloc fails and then crashes. */
static const long long CHECK_INTERVAL = 1LL << 16;
static const long long DEADLINE_INTERVAL = 10000;
static const SQInteger MAX_CALL_DEPTH = 100000;  /* frames per thread; ~15 MB of stack */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static SQRESULT interrupt_hook(HSQUIRRELVM v);
static long long physical_memory(void);

static void arm(sqpy_vm *vm) {
    long long n = CHECK_INTERVAL;
    if (vm->stop) n = 1;
    else {
        if (vm->budget && vm->budget - vm->executed < n) n = vm->budget - vm->executed;
        if (vm->seconds > 0 && n > DEADLINE_INTERVAL) n = DEADLINE_INTERVAL;
        if (n < 1) n = 1;
    }
    vm->interval = n;
    sq_setinterrupthook(vm->v, interrupt_hook, n);
}

static double deadline_of(sqpy_vm *vm) {
    return (double)vm->deadline.tv_sec + vm->deadline.tv_nsec * 1e-9;
}

static SQRESULT interrupt_hook(HSQUIRRELVM v) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    long long elapsed = sq_interruptelapsed(v);  /* instructions, and what natives charged */
    vm->executed += elapsed;
    vm->work += elapsed;
    let_go_gil(vm);  /* the code has run a while: other threads may run meanwhile */
    long long pending = (long long)sq_pendingalloc(v);  /* a native about to allocate this much */
    if (!vm->stop) {
        if (vm->mem_limit && vm->mem_used + pending * MEM_ONE > vm->mem_limit) vm->stop = SQPY_MEMORY_LIMIT;
        else if (pending > physical_memory()) vm->stop = SQPY_MEMORY_LIMIT;
        else if (vm->budget && vm->executed >= vm->budget) vm->stop = SQPY_TIME_LIMIT;
        else if (vm->seconds > 0 && now_seconds() >= deadline_of(vm)) vm->stop = SQPY_TIME_LIMIT;
        else {
            SQStackInfos si;
            if (SQ_SUCCEEDED(sq_stackinfos(v, MAX_CALL_DEPTH, &si))) vm->stop = SQPY_STACK_OVERFLOW;
        }
    }
    arm(vm);
    if (!vm->stop) return SQ_OK;
    /* Stays stopped until the host call returns: the VM refuses every further instruction,
     * so nothing the script does after a swallowed error can run on. */
    return sq_throwerror(v, vm->stop == SQPY_MEMORY_LIMIT ? "not enough memory" :
                            vm->stop == SQPY_STACK_OVERFLOW ? "stack overflow" : "time limit exceeded");
}

/* Thread affinity. Squirrel code lets the GIL go, so two Python threads could be in
 * one VM at once, which nothing in Squirrel (or the slot buffer shared with Python) survives.
 * A VM belongs to the thread that made it: a call from another thread is refused
 * (SQPY_WRONG_THREAD: the host raises a clear error) before it touches anything. The host does the
 * same check in Python where Python itself writes the shared slots. */
static inline uintptr_t thread_id(void) { return (uintptr_t)pthread_self(); }

struct Claim {
    bool refused;
    Claim(sqpy_vm *vm) : refused(vm->home != thread_id()) {}
};

#define CLAIM(vm, refusal) Claim claim_(vm); if (claim_.refused) return refusal

static void release_foreign(sqpy_vm *vm);
#define ENTER(vm, refusal) Entry e(vm); if (e.claim.refused) return refusal
/* For the calls that leave a VM's kept code kept (sqpy_load decides for itself, the others
 * change nothing a load depends on): see "keeping the loaded code". */
#define ENTER_KEEPING_CODE(vm, refusal) Entry e(vm, true); if (e.claim.refused) return refusal
/* For a compile, which lets the GIL go at once (it runs no instructions: no periodic check). */
#define ENTER_LETTING_GIL_GO(vm, refusal) Entry e(vm, false, true); if (e.claim.refused) return refusal

static void drop_kept_code(sqpy_vm *vm);

struct Entry {
    Claim claim;  /* first: nothing below runs for a refused entry */
    sqpy_vm *vm;
    sqpy_vm *saved;
    bool outer;
    GilSlot gil;
    GilSlot *saved_gil;
    Entry(sqpy_vm *vm_, bool keeping_code = false, bool gil_go = false)
        : claim(vm_), vm(vm_), saved(g_current), outer(false), gil{GIL_HELD, NULL}, saved_gil(NULL) {
        if (claim.refused) return;
        outer = vm->depth == 0;
        saved_gil = vm->gil;
        vm->gil = &gil;
        g_current = vm;
        if (outer) {
            if (!keeping_code) vm->fresh = false;
            if (vm->code_kept && (!keeping_code || (vm->mem_limit && vm->mem_used > vm->mem_limit)))
                drop_kept_code(vm);
            vm->executed = 0;
            vm->stop = 0;
            sq_setuncatchable(vm->v, SQFalse);
            if (vm->seconds > 0) {
                double d = now_seconds() + vm->seconds;
                vm->deadline.tv_sec = (time_t)d;
                vm->deadline.tv_nsec = (long)((d - (double)(time_t)d) * 1e9);
            }
            arm(vm);
            /* Over the limit before anything ran: what a stopped script left in reference
             * cycles may be all of it; only what survives a collection counts against the call. */
            if (vm->mem_limit && vm->mem_used > vm->mem_limit) {
                sq_collectgarbage(vm->v);
                if (vm->mem_used > vm->mem_limit) sq_requestinterrupt(vm->v);
            }
        }
        vm->depth++;
        if (gil_go) let_go_gil(vm);
    }
    /* Map a failed sq_* result to the code the host sees. */
    int fail() {
        if (vm->stop) return vm->stop;
        return SQPY_ERROR;
    }
    ~Entry() {
        if (claim.refused) return;
        vm->depth--;
        if (outer && vm->has_foreign.load(std::memory_order_relaxed)) release_foreign(vm);
        if (outer) {
            vm->work += sq_interruptwork(vm->v);  /* before re-arming forgets it */
            sq_setuncatchable(vm->v, SQFalse);
            /* A script stopped for memory often holds it in cycles, which reference counting
             * never frees: collect now, so the VM is usable for the next call. */
            if (vm->stop == SQPY_MEMORY_LIMIT) sq_collectgarbage(vm->v);
            vm->stop = 0;
            arm(vm);
        }
        g_current = saved;
        vm->gil = saved_gil;
        if (gil.state >= 0) PyGILState_Release((PyGILState_STATE)gil.state);  /* before taking it back */
        if (gil.unlocked) PyEval_RestoreThread(gil.unlocked);
    }
};

/* ---- handles ---- */

static long long ref_new(sqpy_vm *vm, HSQUIRRELVM v, SQInteger idx) {
    HSQOBJECT o;
    sq_getstackobj(v, idx, &o);
    sq_addref(vm->v, &o);
    long long r;
    if (!vm->freelist.empty()) {
        r = vm->freelist.back();
        vm->freelist.pop_back();
        vm->refs[(size_t)r] = o;
    } else {
        r = (long long)vm->refs.size();
        vm->refs.push_back(o);
    }
    vm->live++;
    return r | vm->gen << 32;
}

#define REF(vm, r) ((vm)->refs[(size_t)((r) & 0xFFFFFFFFLL)])

static bool ref_ok(sqpy_vm *vm, long long r) {
    long long i = r & 0xFFFFFFFFLL;
    return r >= 0 && (r >> 32) == vm->gen && i < (long long)vm->refs.size() && vm->refs[(size_t)i]._type != OT_NULL;
}

/* Reads the value at idx into out; objects become new handles. */
static void read_value(sqpy_vm *vm, HSQUIRRELVM v, SQInteger idx, sqpy_value *out) {
    SQObjectType t = sq_gettype(v, idx);
    out->type = _RAW_TYPE(t);
    switch (t) {
    case OT_NULL: break;
    case OT_INTEGER: { SQInteger i; sq_getinteger(v, idx, &i); out->i = i; break; }
    case OT_FLOAT: { SQFloat f; sq_getfloat(v, idx, &f); out->f = f; break; }
    case OT_BOOL: { SQBool b; sq_getbool(v, idx, &b); out->i = b ? 1 : 0; break; }
    case OT_STRING: {
        const SQChar *s;
        sq_getstring(v, idx, &s);
        out->s = s;
        out->len = sq_getsize(v, idx);
        break;
    }
    case OT_INSTANCE: {
        SQUserPointer p;
        if (SQ_SUCCEEDED(sqstd_getblob(v, idx, &p))) out->type = SQPY_BLOB;
        out->i = ref_new(vm, v, idx);
        break;
    }
    default:
        out->i = ref_new(vm, v, idx);
        break;
    }
}

static bool push_value(sqpy_vm *vm, HSQUIRRELVM v, const sqpy_value *val) {
    switch (val->type) {
    case SQPY_NULL: sq_pushnull(v); return true;
    case SQPY_INTEGER: sq_pushinteger(v, (SQInteger)val->i); return true;
    case SQPY_FLOAT: sq_pushfloat(v, (SQFloat)val->f); return true;
    case SQPY_BOOL: sq_pushbool(v, val->i ? SQTrue : SQFalse); return true;
    case SQPY_STRING: sq_pushstring(v, val->s, (SQInteger)val->len); return true;
    default:
        if (!ref_ok(vm, val->i)) return false;
        sq_pushobject(v, REF(vm, val->i));
        return true;
    }
}

/* Sets out from the value on top of v's stack and keeps that value alive for string access. */
static void take_result(sqpy_vm *vm, HSQUIRRELVM v, sqpy_value *out) {
    if (!out) return;
    sq_release(vm->v, &vm->keep);
    sq_getstackobj(v, -1, &vm->keep);
    sq_addref(vm->v, &vm->keep);
    read_value(vm, v, -1, out);
}

/* Sets out from the function on top of the stack (a compile's or a load's). The last call's
 * kept result goes: the function is held by its handle alone, and a VM holds the same after a
 * compile as after a load of the same code (the host compiles in another VM and loads). */
static void function_result(sqpy_vm *vm, sqpy_value *out) {
    sq_release(vm->v, &vm->keep);
    sq_resetobject(&vm->keep);
    read_value(vm, vm->v, -1, out);
}

/* ---- the fast path's slots ---- */

/* Slot i from the value at idx of v's stack; objects become new handles. Strings point into
 * the Squirrel string, which the stack keeps alive while the slot is read. */
static int write_slot(sqpy_vm *vm, HSQUIRRELVM v, SQInteger idx, int i) {
    sqpy_buf *b = &vm->buf;
    SQObjectType t = sq_gettype(v, idx);
    int type = (int)_RAW_TYPE(t);
    switch (t) {
    case OT_NULL: break;
    case OT_INTEGER: { SQInteger x; sq_getinteger(v, idx, &x); b->i[i] = x; break; }
    case OT_FLOAT: { SQFloat f; sq_getfloat(v, idx, &f); b->f[i] = f; break; }
    case OT_BOOL: { SQBool x; sq_getbool(v, idx, &x); b->i[i] = x ? 1 : 0; break; }
    case OT_STRING: {
        const SQChar *str;
        sq_getstring(v, idx, &str);
        SQInteger n = sq_getsize(v, idx);
        if (i == 0 && n <= SQPY_TEXT) {
            memcpy(b->text, str, (size_t)n);
            str = b->text;
        }
        b->s[i] = str;
        b->i[i] = n;
        break;
    }
    case OT_INSTANCE: {
        SQUserPointer p;
        if (SQ_SUCCEEDED(sqstd_getblob(v, idx, &p))) type = SQPY_BLOB;
        b->i[i] = ref_new(vm, v, idx);
        break;
    }
    default:
        b->i[i] = ref_new(vm, v, idx);
        break;
    }
    b->type[i] = type;
    return type;
}

/* Pushes slot i; a string slot's bytes are at *strs, which moves past them (*left: how many
 * bytes remain there). */
static bool push_slot(sqpy_vm *vm, HSQUIRRELVM v, int i, const char **strs, long long *left) {
    sqpy_buf *b = &vm->buf;
    switch (b->type[i]) {
    case SQPY_NULL: sq_pushnull(v); return true;
    case SQPY_INTEGER:
        if (vm->intwidth == 32 && (b->i[i] < -2147483648LL || b->i[i] > 2147483647LL)) return false;
        sq_pushinteger(v, (SQInteger)b->i[i]);
        return true;
    case SQPY_FLOAT: sq_pushfloat(v, (SQFloat)b->f[i]); return true;
    case SQPY_BOOL: sq_pushbool(v, b->i[i] ? SQTrue : SQFalse); return true;
    case SQPY_STRING:
        if (strs) {
            if (b->i[i] < 0 || b->i[i] > *left) return false;  /* not what the caller wrote */
            sq_pushstring(v, *strs, (SQInteger)b->i[i]);
            *strs += b->i[i];
            *left -= b->i[i];
        }
        else sq_pushstring(v, b->s[i], (SQInteger)b->i[i]);
        return true;
    default:
        if (!ref_ok(vm, b->i[i])) return false;
        sq_pushobject(v, REF(vm, b->i[i]));
        return true;
    }
}

/* ---- errors ---- */

static void clear_error(sqpy_vm *vm) {
    sq_release(vm->v, &vm->err);
    sq_resetobject(&vm->err);
    vm->errmsg.clear();
    vm->frames.clear();
    vm->csource.clear();
    vm->cline = vm->ccol = 0;
    vm->handled = false;
}

static std::string short_repr(HSQUIRRELVM v, SQInteger idx) {
    char buf[64];
    switch (sq_gettype(v, idx)) {
    case OT_NULL: return "null";
    case OT_INTEGER: { SQInteger i; sq_getinteger(v, idx, &i); snprintf(buf, sizeof buf, "%lld", (long long)i); return buf; }
    case OT_FLOAT: { SQFloat f; sq_getfloat(v, idx, &f); snprintf(buf, sizeof buf, "%.14g", (double)f); return buf; }
    case OT_BOOL: { SQBool b; sq_getbool(v, idx, &b); return b ? "true" : "false"; }
    case OT_STRING: {
        const SQChar *s;
        sq_getstring(v, idx, &s);
        std::string r(s, (size_t)sq_getsize(v, idx));
        if (r.size() > 60) r = r.substr(0, 57) + "...";
        return "\"" + r + "\"";
    }
    default: {
        static const char *names[] = {"table", "array", "userdata", "function", "native function",
                                      "generator", "userpointer", "thread", "funcproto", "class",
                                      "instance", "weakref", "outer"};
        unsigned t = _RAW_TYPE(sq_gettype(v, idx));
        int bit = 0;
        while (t > 0x20 && bit < 12) { t >>= 1; bit++; }
        return std::string("(") + names[bit] + ")";
    }
    }
}

/* Records `err` as the last error, with the Squirrel call stack from `level` outwards. */
static void record_error(sqpy_vm *vm, HSQUIRRELVM v, const HSQOBJECT &err, SQInteger level) {
    sq_release(vm->v, &vm->err);
    vm->err = err;
    sq_addref(vm->v, &vm->err);
    vm->errmsg.clear();
    vm->frames.clear();
    vm->handled = true;
    if (sq_type(err) == OT_STRING) {
        sq_pushobject(v, err);
        const SQChar *s;
        sq_getstring(v, -1, &s);
        vm->errmsg.assign(s, (size_t)sq_getsize(v, -1));
        sq_pop(v, 1);
    }
    SQStackInfos si;
    for (int n = 0; SQ_SUCCEEDED(sq_stackinfos(v, level, &si)) && n < 200; level++, n++) {
        Frame f;
        f.func = si.funcname ? si.funcname : "unknown";
        f.source = si.source ? si.source : "NATIVE";
        f.line = si.line;
        if (vm->capture_locals) {
            const SQChar *name;
            for (SQUnsignedInteger i = 0; (name = sq_getlocal(v, (SQUnsignedInteger)level, i)) != NULL; i++) {
                f.locals.push_back(std::make_pair(std::string(name), short_repr(v, -1)));
                sq_pop(v, 1);
            }
        }
        vm->frames.push_back(f);
    }
}

/* Runs at the raise point of an error no try/catch takes, with the stack intact. */
static SQInteger error_handler(HSQUIRRELVM v) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    HSQOBJECT err;
    sq_resetobject(&err);
    if (sq_gettop(v) >= 2) sq_getstackobj(v, 2, &err);
    record_error(vm, v, err, 1);
    return 0;
}

/* After a failed sq_call: errors raised before the VM ran any code (a native called straight
 * from the host, paramscheck, "Native stack overflow") never reach the error handler, so take
 * them from the last error, with the stack of whatever is still running. With caught errors
 * recorded too (sqpy_record_caught_errors), the handler's record may be an error a script
 * caught earlier in this call: it stands only when it is the error the call failed with. */
static void record_unhandled(sqpy_vm *vm, HSQUIRRELVM v) {
    sq_getlasterror(v);
    if (vm->handled && vm->caught_errors) {
        HSQOBJECT last;
        sq_getstackobj(v, -1, &last);
        bool same = sq_type(last) == sq_type(vm->err) && last._unVal.raw == vm->err._unVal.raw;
        if (same || sq_type(last) == OT_NULL) { sq_pop(v, 1); return; }
    } else if (vm->handled) {
        sq_pop(v, 1);
        return;
    }
    if (sq_gettype(v, -1) == OT_NULL) {  /* sq_call of a value it cannot call sets no error */
        sq_pop(v, 1);
        sq_pushstring(v, "call failed: the value is not callable", -1);
    }
    HSQOBJECT err;
    sq_getstackobj(v, -1, &err);
    sq_addref(vm->v, &err);  /* survives the pop below */
    sq_pop(v, 1);
    record_error(vm, v, err, 0);
    sq_release(vm->v, &err);
}

static void compiler_error(HSQUIRRELVM v, const SQChar *desc, const SQChar *source, SQInteger line, SQInteger column) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    vm->errmsg = desc ? desc : "";
    vm->csource = source ? source : "";
    vm->cline = line;
    vm->ccol = column;
}

/* ---- print ---- */

static void vprint(HSQUIRRELVM v, int is_error, const SQChar *fmt, va_list ap) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) { va_end(ap2); return; }
    if ((size_t)n < sizeof small) {
        sqpy_print(vm->owner, is_error, small, n);
    } else {
        std::vector<char> big((size_t)n + 1);
        vsnprintf(&big[0], big.size(), fmt, ap2);
        sqpy_print(vm->owner, is_error, &big[0], n);
    }
    va_end(ap2);
}

static void print_out(HSQUIRRELVM v, const SQChar *fmt, ...) {
    va_list ap; va_start(ap, fmt); vprint(v, 0, fmt, ap); va_end(ap);
}

static void print_err(HSQUIRRELVM v, const SQChar *fmt, ...) {
    va_list ap; va_start(ap, fmt); vprint(v, 1, fmt, ap); va_end(ap);
}

/* print(x) and error(x): stock formats the text with "%s" for the print function, which stops
 * at the first NUL byte; these hand the host the whole string, by length. */
static SQInteger print_native(HSQUIRRELVM v, int is_error) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    if (SQ_FAILED(sq_tostring(v, 2))) return SQ_ERROR;
    const SQChar *s;
    sq_getstring(v, -1, &s);
    take_gil(vm);
    sqpy_print(vm->owner, is_error, s, (long long)sq_getsize(v, -1));
    return 0;
}

static SQInteger print_stdout(HSQUIRRELVM v) { return print_native(v, 0); }
static SQInteger print_stderr(HSQUIRRELVM v) { return print_native(v, 1); }

/* ---- Python natives ---- */

struct FunctionTag {
    sqpy_vm *vm;
    long long fid;
};

static SQInteger forget_function(SQUserPointer p, SQInteger) {
    FunctionTag *tag = (FunctionTag *)p;
    if (tag->vm && tag->vm->owner) sqpy_forget(tag->vm->owner, tag->fid);
    return 1;
}

/* The thread of the dispatch in progress (sqpy_cbthis, sqpy_cbthread, sqpy_caller), for the
 * length of one dispatch: an outer dispatch gets its own back when an inner one returns. */
struct CallerThread {
    sqpy_vm *vm;
    HSQUIRRELVM saved;
    CallerThread(sqpy_vm *vm_, HSQUIRRELVM v) : vm(vm_), saved(vm_->cbv) { vm->cbv = v; }
    ~CallerThread() { vm->cbv = saved; }
};

/* A Python native raised (SQPY_CB_RAISE) or stopped the script (SQPY_CB_STOP, uncatchable):
 * throw its message (msg may be NULL). */
static SQInteger throw_native_error(sqpy_vm *vm, HSQUIRRELVM v, int rc, const char *msg, SQInteger len) {
    if (rc == SQPY_CB_STOP) {
        if (!vm->stop) vm->stop = SQPY_STOPPED;
        sq_setuncatchable(v, SQTrue);
    }
    if (msg) sq_pushstring(v, msg, len);
    else sq_pushstring(v, "error in a Python function", -1);
    return sq_throwobject(v);
}

/* The callback failed before it could say what it did (SQPY_CB_ESCAPED): fail closed, never
 * hand the script what happens to be in the slots. */
static SQInteger throw_escaped(sqpy_vm *vm, HSQUIRRELVM v) {
    return throw_native_error(vm, v, SQPY_CB_STOP, "a Python function failed inside the binding", -1);
}

/* The fast dispatch called through Python's C API rather than through cffi's callback, when
 * Python has handed over the function (sqpy_direct_dispatch): cffi converts each argument by
 * its declared type, builds a tuple, takes the GIL and saves errno, ~1,700 machine
 * instructions a call before the function runs; here four integers go to a vectorcall, ~300
 * (callgrind: ~7,500 instructions a boot of a sleepy app, which calls five natives). The
 * contract stays cffi's (@ffi.def_extern(error=SQPY_CB_ESCAPED, onerror=escaped)): what the
 * function raises, or a result that is not an int, goes to the onerror handler (whose own
 * failure is printed as unraisable) and the result is SQPY_CB_ESCAPED. */
static PyObject *g_fdispatch, *g_fdispatch_onerror;

void sqpy_direct_dispatch(void *fdispatch, void *onerror) {
    Py_XINCREF((PyObject *)fdispatch);  /* kept for the process's life: module-level functions */
    Py_XINCREF((PyObject *)onerror);
    g_fdispatch_onerror = (PyObject *)onerror;
    g_fdispatch = (PyObject *)fdispatch;
}

static int fdispatch(sqpy_vm *vm, long long fid, long long shape, long long i0) {
    if (!g_fdispatch || !vm->gil) return sqpy_fdispatch(vm->vmid, fid, shape, i0);
    /* Under an entry, take_gil has made sure this thread holds the GIL. */
    PyObject *args[4] = {PyLong_FromLong(vm->vmid), PyLong_FromLongLong(fid), PyLong_FromLongLong(shape),
                         PyLong_FromLongLong(i0)};
    PyObject *res = NULL;
    if (args[0] && args[1] && args[2] && args[3])
        res = PyObject_Vectorcall(g_fdispatch, args, 4, NULL);
    for (int i = 0; i < 4; i++) Py_XDECREF(args[i]);
    int rc = SQPY_CB_ESCAPED;
    if (res) {
        long r = PyLong_Check(res) ? PyLong_AsLong(res) : -1;
        if (PyLong_Check(res) && !(r == -1 && PyErr_Occurred()) && r >= INT_MIN && r <= INT_MAX) rc = (int)r;
        else if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "the dispatch returned no int");
        Py_DECREF(res);
        if (!PyErr_Occurred()) return rc;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *handled = PyObject_CallFunctionObjArgs(g_fdispatch_onerror, type ? type : Py_None,
                                                     value ? value : Py_None, tb ? tb : Py_None, NULL);
    if (handled) Py_DECREF(handled);
    else PyErr_WriteUnraisable(g_fdispatch_onerror);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return SQPY_CB_ESCAPED;
}

static SQInteger trampoline(HSQUIRRELVM v) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    if (vm->call_cost && vm->budget) {
        vm->executed += vm->call_cost;
        if (vm->executed >= vm->budget && !vm->stop) {
            vm->stop = SQPY_TIME_LIMIT;  /* as the hook stops a script that used its budget */
            arm(vm);  /* and refuses every instruction after, should anything catch this */
            sq_setuncatchable(v, SQTrue);
            return sq_throwerror(v, "time limit exceeded");
        }
    }
    SQInteger top = sq_gettop(v);
    long long fid;
    if (sq_gettype(v, top) == OT_INTEGER) {  /* a native installed in a batch */
        SQInteger i;
        sq_getinteger(v, top, &i);
        fid = i;
    } else {
        SQUserPointer up = NULL;
        sq_getuserdata(v, top, &up, NULL);
        fid = ((FunctionTag *)up)->fid;
    }
    CallerThread caller(vm, v);
    if (vm->fast && top - 2 <= SQPY_NBUF) {
        /* Arguments without `this` (Python asks for it when it wants it) and without the
         * free variable on top. */
        int n = (int)(top - 2);
        /* The GIL first: Python code of another thread must not write the slots between these
         * writes and the callback's reads (it could, were it using this VM from there). */
        take_gil(vm);
        for (int i = 0; i < n; i++) write_slot(vm, v, i + 2, i);
        int rc = fdispatch(vm, fid, n | (n ? (long long)vm->buf.type[0] << 8 : 0), n ? vm->buf.i[0] : 0);
        sqpy_buf *b = &vm->buf;
        if (rc == SQPY_CB_RETURN_TEXT && b->i[0] >= 0 && b->i[0] <= SQPY_TEXT) {
            sq_pushstring(v, b->text, (SQInteger)b->i[0]);
            return 1;
        }
        if (rc == SQPY_CB_RETURN_INT) {
            if (vm->intwidth != 32 || (b->i[0] >= -2147483648LL && b->i[0] <= 2147483647LL)) {
                sq_pushinteger(v, (SQInteger)b->i[0]);
                return 1;
            }
            rc = sqpy_overflow(vm->vmid, b->i[0]);
        }
        switch (rc) {
        case SQPY_CB_RETURN:
        case SQPY_CB_RETURN_TEMP: {
            bool ok = push_slot(vm, v, 0, NULL, NULL);
            if (rc == SQPY_CB_RETURN_TEMP) sqpy_release(vm, b->i[0]);
            if (!ok) return sq_throwerror(v, "invalid value returned by a Python function");
            return 1;
        }
        case SQPY_CB_NORETURN: return 0;
        case SQPY_CB_ESCAPED: return throw_escaped(vm, v);
        case SQPY_CB_RAISE_TEXT:
        case SQPY_CB_STOP_TEXT:
            if (b->i[0] >= 0 && b->i[0] <= SQPY_TEXT)
                return throw_native_error(vm, v, rc == SQPY_CB_STOP_TEXT ? SQPY_CB_STOP : SQPY_CB_RAISE,
                                          b->text, (SQInteger)b->i[0]);
            return throw_native_error(vm, v, rc == SQPY_CB_STOP_TEXT ? SQPY_CB_STOP : SQPY_CB_RAISE, NULL, 0);
        default:
            return b->type[0] == SQPY_STRING ? throw_native_error(vm, v, rc, b->s[0], (SQInteger)b->i[0])
                                             : throw_native_error(vm, v, rc, NULL, 0);
        }
    }
    int nargs = (int)(top - 1);
    sqpy_value small[8];
    std::vector<sqpy_value> big;
    sqpy_value *args = small;
    if (nargs > 8) { big.resize((size_t)nargs); args = &big[0]; }
    for (int i = 0; i < nargs; i++) read_value(vm, v, i + 1, &args[i]);
    sqpy_value ret;
    memset(&ret, 0, sizeof ret);
    ret.type = SQPY_NULL;
    int rc = sqpy_dispatch(vm->owner, v, fid, nargs, args, &ret);
    switch (rc) {
    case SQPY_CB_RETURN: {
        bool ok = push_value(vm, v, &ret);
        if (ret.type > SQPY_STRING && ret.len) sqpy_release(vm, ret.i);  /* a temporary made for us */
        if (!ok) return sq_throwerror(v, "invalid value returned by a Python function");
        return 1;
    }
    case SQPY_CB_NORETURN: return 0;
    case SQPY_CB_ESCAPED: return throw_escaped(vm, v);
    default:
        return throw_native_error(vm, v, rc, ret.s, (SQInteger)ret.len);
    }
}

/* ---- allocation guards ----
 * Squirrel never checks malloc's result, and a few natives allocate (and fill) as much as the
 * script asks for at once: array(n), array.resize(n), blob(n), blob.resize(n). A huge n would
 * crash the host before any memory limit could stop the script, so these natives are wrapped:
 * a request beyond the VM's memory limit stops the script like the limit does (uncatchable),
 * and without a limit a request beyond the machine's physical memory is a plain error. */

static long long physical_memory(void) {
    static long long mem = 0;
    if (!mem) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        mem = pages > 0 && size > 0 ? (long long)pages * size : (1LL << 40);
    }
    return mem;
}

/* Outer values, as they sit on the stack after the arguments: the wrapped native, the index of
 * its size argument, the bytes per unit (guard_native pushes them in reverse: sq_newclosure
 * takes the top of the stack as the first). */
static SQInteger guarded_alloc(HSQUIRRELVM v) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    SQInteger top = sq_gettop(v), nargs = top - 3;
    SQInteger argidx = 0, unit = 1;
    sq_getinteger(v, top - 1, &argidx);
    sq_getinteger(v, top, &unit);
    SQObjectType t = argidx <= nargs ? sq_gettype(v, argidx) : OT_NULL;
    if (t == OT_INTEGER || t == OT_FLOAT) {
        double n;
        if (t == OT_INTEGER) { SQInteger i; sq_getinteger(v, argidx, &i); n = (double)i; }
        else { SQFloat f; sq_getfloat(v, argidx, &f); n = (double)f; }
        /* Stock array(-1), [].resize(-1) and blob.resize(-1) crash. */
        if (!(n >= 0)) return sq_throwerror(v, "size must not be negative");
        if (n > 0) {
            double bytes = n * (double)unit;
            /* a unit of 1 is a byte of a blob's contents (full weight); an array's is a slot */
            double weight = unit == 1 ? (double)MEM_ONE : (double)vm->overhead_fx;
            if (vm->mem_limit && bytes * weight + (double)vm->mem_used > (double)vm->mem_limit) {
                if (!vm->stop) vm->stop = SQPY_MEMORY_LIMIT;
                sq_setuncatchable(v, SQTrue);
                sq_requestinterrupt(v);
                return sq_throwerror(v, "not enough memory");
            }
            if (bytes > (double)physical_memory()) return sq_throwerror(v, "not enough memory");
        }
    }
    sq_push(v, top - 2);
    for (SQInteger i = 1; i <= nargs; i++) sq_push(v, i);
    if (SQ_FAILED(sq_call(v, nargs, SQTrue, SQFalse))) return SQ_ERROR;
    return 1;
}

/* Replaces the native `name` of the table or class on top of the stack with a guarded one. */
static void guard_native(HSQUIRRELVM v, const SQChar *name, SQInteger argidx, SQInteger unit) {
    sq_pushinteger(v, unit);
    sq_pushinteger(v, argidx);
    sq_pushstring(v, name, -1);
    if (SQ_FAILED(sq_rawget(v, -4))) { sq_pop(v, 2); return; }
    sq_newclosure(v, guarded_alloc, 3);
    sq_setnativeclosurename(v, -1, name);
    sq_pushstring(v, name, -1);
    sq_push(v, -2);
    sq_remove(v, -3);
    if (sq_gettype(v, -3) == OT_CLASS) sq_newslot(v, -3, SQFalse);
    else sq_rawset(v, -3);
}

static void guard_allocations(HSQUIRRELVM v) {
    const SQInteger objsize = (SQInteger)sizeof(SQObject);
    sq_pushroottable(v);
    guard_native(v, "array", 2, objsize);
    sq_pushstring(v, "blob", -1);
    if (SQ_SUCCEEDED(sq_rawget(v, -2))) {
        guard_native(v, "constructor", 2, 1);
        guard_native(v, "resize", 2, 1);
        sq_pop(v, 1);
    }
    sq_pop(v, 1);
    sq_getdefaultdelegate(v, OT_ARRAY);
    guard_native(v, "resize", 2, objsize);
    sq_pop(v, 1);
}

/* ---- buffer readers ----
 * A Squirrel function read(offset, length) -> blob served from a host buffer in C, for natives
 * that scripts call in tight loops (a flash chip's read). It answers only the plain case: the
 * gate byte is set and both arguments are integers naming a non-empty range inside the buffer.
 * Every other call goes to the fallback (the Python native it stands in for), which defines
 * the semantics and the errors; the two must agree on the plain case. */

struct BufferReader {
    const unsigned char *data;
    long long size;
    const unsigned char *gate;  /* NULL: always open */
};

/* Squirrel frees a reader's userdata (its closure went): sqpy_retarget_reader must not write
 * there. Memory is only ever freed with its VM current (the accounting relies on it too). */
static SQInteger reader_released(SQUserPointer p, SQInteger) {
    sqpy_vm *vm = g_current;
    if (!vm) return 0;
    for (size_t i = 0; i < vm->readers.size(); i++)
        if (vm->readers[i] == (BufferReader *)p) vm->readers[i] = NULL;
    return 0;
}

/* Outer values after the arguments: the fallback, then the BufferReader userdata (pushed in
 * reverse, as for guarded_alloc). */
static SQInteger buffer_read(HSQUIRRELVM v) {
    SQInteger top = sq_gettop(v), nargs = top - 2;
    SQUserPointer up = NULL;
    sq_getuserdata(v, top, &up, NULL);
    const BufferReader *r = (const BufferReader *)up;
    if (nargs == 3 && (!r->gate || *r->gate) && sq_gettype(v, 2) == OT_INTEGER && sq_gettype(v, 3) == OT_INTEGER) {
        SQInteger off, len;
        sq_getinteger(v, 2, &off);
        sq_getinteger(v, 3, &len);
        if (off >= 0 && len > 0 && off <= r->size && len <= r->size - off) {
            SQUserPointer p = sqstd_createblob(v, len);
            if (!p) return sq_throwerror(v, "not enough memory");  /* the memory limit stopped it */
            memcpy(p, r->data + off, (size_t)len);
            return 1;
        }
    }
    sq_push(v, top - 1);
    for (SQInteger i = 1; i <= nargs; i++) sq_push(v, i);
    if (SQ_FAILED(sq_call(v, nargs, SQTrue, SQFalse))) return SQ_ERROR;
    return 1;
}

/* ---- coverage (sqpy_cov.cpp; the VM's hooks, patch 19-coverage-from-ip) ---- */

void *sq_vm_coverage(SQVM *v) {
    sqpy_vm *vm = (sqpy_vm *)sq_getsharedforeignptr(v);
    return vm && vm->coverage ? vm->cov : NULL;
}

void sq_vm_proto_released(SQFunctionProto *f) {
    sqpy_vm *vm = g_current;
    if (vm && vm->cov) sqpy_cov_forget(vm->cov, f);
}

/* ---- releasing handles ---- */

static void release_ref(sqpy_vm *vm, long long r) {
    if (!ref_ok(vm, r)) return;
    sqpy_vm *saved = g_current;
    g_current = vm;
    /* What a released handle frees could be what the kept code shares (a string): it goes first. */
    if (vm->code_kept) drop_kept_code(vm);
    vm->fresh = false;
    if (r == vm->code_ref) vm->code_ref = -1;  /* the code's closure may go: nothing to keep then */
    HSQOBJECT o = REF(vm, r);
    sq_resetobject(&REF(vm, r));
    vm->freelist.push_back(r & 0xFFFFFFFFLL);
    vm->live--;
    sq_release(vm->v, &o);
    g_current = saved;
}

static void release_foreign(sqpy_vm *vm) {
    std::vector<long long> refs;
    {
        std::lock_guard<std::mutex> lock(vm->foreign_mutex);
        refs.swap(vm->foreign);
        vm->has_foreign.store(false, std::memory_order_relaxed);
    }
    for (size_t i = 0; i < refs.size(); i++) release_ref(vm, refs[i]);
}

/* ---- keeping the loaded code ----
 * A VM reused for script after script (snapshot, then restore before each) loads the same code
 * at the start of each. The code's prototypes never change once made, so rather than being freed
 * at every restore and read again, they are kept: a restore holds them when nothing but the
 * code refers to them (every reference count as the load left it) and stops counting their
 * memory, and a load of the same bytes right after it makes only the closure, counting the
 * memory the load would have counted and reaching the peak it would have reached, with the
 * scratch pad and string table at the sizes the load left them. Anything else that enters the
 * VM in between (a call, a new value, a released handle, a collection, other code) first lets
 * the kept code go, counted as it goes: the VM is then exactly as a restore that freed it left
 * it. What is kept is noted at a load made right after a restore, when the VM is as the
 * snapshot left it; that load's state is the only one a kept load stands in for. */

static void drop_kept_code(sqpy_vm *vm) {
    vm->code_kept = false;
    vm->code_noted = false;
    vm->mem_used += vm->code.held;  /* counted again, as it is freed (the peak saw it when it was made) */
    sq_release(vm->v, &vm->code.proto);
    sq_resetobject(&vm->code.proto);
}

/* The load of the kept code's bytes into the state the noted load started from. */
static void load_kept(sqpy_vm *vm) {
    HSQUIRRELVM v = vm->v;
    vm->code_kept = false;
    account_weighted(vm, vm->code_dpeak);  /* the load's peak, and its memory limit's request */
    vm->mem_used -= vm->code_dpeak;
    long long peak = vm->mem_peak, limit = vm->mem_limit;
    vm->mem_limit = 0;
    sqpy_code_workspace(v, vm->code_scratch, vm->code_strings);
    vm->mem_peak = peak;
    vm->mem_limit = limit;
    vm->mem_used += vm->code.held;
    sqpy_code_push_closure_of(v, &vm->code);
    sq_release(v, &vm->code.proto);  /* the closure holds it */
}

/* ---- the API ---- */

extern "C" {

sqpy_vm *sqpy_open(void *owner, int intwidth, long long stacksize, double overhead_scale) {
    sqpy_vm *vm = new sqpy_vm();
    vm->owner = owner;
    vm->home = thread_id();
    vm->overhead_fx = (long long)(overhead_scale * MEM_ONE + 0.5);
    if (vm->overhead_fx < 1) vm->overhead_fx = 1;
    vm->intwidth = intwidth;
    vm->gen = 0;
    sq_resetobject(&vm->keep);
    sq_resetobject(&vm->err);
    sq_resetobject(&vm->snap_root);
    sq_resetobject(&vm->snap_consts);
    sq_resetobject(&vm->root_weak);
    sq_resetobject(&vm->code.proto);
    vm->code_ref = -1;
    sqpy_vm *saved = g_current;
    g_current = vm;
    vm->v = sq_open(stacksize > 0 ? stacksize : 1024);
    HSQUIRRELVM v = vm->v;
    sq_setsharedforeignptr(v, vm);
    sq_setintwidth(v, intwidth == 32 ? 32 : 64);
    sq_setprintfunc(v, print_out, print_err);
    sq_setcompilererrorhandler(v, compiler_error);
    sq_newclosure(v, error_handler, 0);
    sq_seterrorhandler(v);
    sq_pushroottable(v);
    const SQChar *pnames[2] = {"print", "error"};
    SQFUNCTION pfuncs[2] = {print_stdout, print_stderr};
    for (int i = 0; i < 2; i++) {
        sq_pushstring(v, pnames[i], -1);
        sq_newclosure(v, pfuncs[i], 0);
        sq_setparamscheck(v, 2, NULL);
        sq_setnativeclosurename(v, -1, pnames[i]);
        sq_newslot(v, -3, SQFalse);
    }
    sqstd_register_bloblib(v);
    sqstd_register_mathlib(v);
    sqstd_register_stringlib(v);
    sq_pop(v, 1);
    guard_allocations(v);
    arm(vm);
    g_current = saved;
    return vm;
}

int sqpy_close(sqpy_vm *vm, int any_thread) {
    if (!any_thread && vm->home != thread_id()) return SQPY_WRONG_THREAD;
    sqpy_vm *saved = g_current;
    g_current = vm;
    for (size_t i = 0; i < vm->refs.size(); i++) {  /* each slot emptied first: see sqpy_release */
        HSQOBJECT o = vm->refs[i];
        sq_resetobject(&vm->refs[i]);
        sq_release(vm->v, &o);
    }
    sq_release(vm->v, &vm->keep);
    sq_release(vm->v, &vm->err);
    sq_release(vm->v, &vm->snap_root);
    sq_release(vm->v, &vm->snap_consts);
    sq_release(vm->v, &vm->root_weak);
    if (vm->code_kept) sq_release(vm->v, &vm->code.proto);
    vm->readers.clear();  /* sq_close frees them: nothing to forget one by one */
    if (vm->snap) sqpy_snap_free(vm->snap);
    vm->refs.clear();
    void *owner = vm->owner;
    (void)owner;
    sq_close(vm->v);
    g_current = saved;
    if (vm->cov) sqpy_cov_free(vm->cov);
    delete vm;
    return SQPY_OK;
}

HSQUIRRELVM sqpy_handle(sqpy_vm *vm) { return vm->v; }
int sqpy_depth(sqpy_vm *vm) { return vm->depth; }

int sqpy_set_limits(sqpy_vm *vm, long long memory_limit, long long budget, double seconds) {
    CLAIM(vm, SQPY_WRONG_THREAD);
    vm->mem_limit = memory_limit > 0 ? memory_limit * MEM_ONE : 0;
    vm->budget = budget > 0 ? budget : 0;
    vm->seconds = seconds > 0 ? seconds : 0;
    if (vm->depth == 0) arm(vm);
    return SQPY_OK;
}

long long sqpy_set_memory_headroom(sqpy_vm *vm, long long headroom) {
    CLAIM(vm, -1);
    long long limit = vm->mem_used / MEM_ONE + headroom;  /* as memory_used + headroom in Python */
    vm->mem_limit = limit * MEM_ONE;
    return limit;
}

long long sqpy_memory_used(sqpy_vm *vm) { return vm->mem_used / MEM_ONE; }
long long sqpy_memory_peak(sqpy_vm *vm) { return vm->mem_peak / MEM_ONE; }
long long sqpy_instructions(sqpy_vm *vm) { return vm->executed; }
long long sqpy_work(sqpy_vm *vm) { return vm->work + sq_interruptwork(vm->v); }

int sqpy_set_call_cost(sqpy_vm *vm, long long instructions) {
    CLAIM(vm, SQPY_WRONG_THREAD);
    vm->call_cost = instructions > 0 ? instructions : 0;
    return SQPY_OK;
}

/* A new handle to what push() puts on the stack (the root or the const table). */
static long long ref_of(sqpy_vm *vm, void (*push)(HSQUIRRELVM)) {
    CLAIM(vm, -1);
    sqpy_vm *saved = g_current;
    g_current = vm;
    push(vm->v);
    long long r = ref_new(vm, vm->v, -1);
    sq_pop(vm->v, 1);
    g_current = saved;
    return r;
}

long long sqpy_ref_root(sqpy_vm *vm) { return ref_of(vm, sq_pushroottable); }

void sqpy_release(sqpy_vm *vm, long long r) {
    if (vm->home != thread_id()) {  /* the home thread releases it when it next leaves the VM */
        std::lock_guard<std::mutex> lock(vm->foreign_mutex);
        vm->foreign.push_back(r);
        vm->has_foreign.store(true, std::memory_order_relaxed);
        return;
    }
    release_ref(vm, r);
}

int sqpy_foreign(sqpy_vm *vm) { return vm->home != thread_id(); }

long long sqpy_live_refs(sqpy_vm *vm) { return vm->live; }

int sqpy_ref_type(sqpy_vm *vm, long long r) {
    CLAIM(vm, 0);
    return ref_ok(vm, r) ? (int)_RAW_TYPE(REF(vm, r)._type) : 0;
}

int sqpy_compile(sqpy_vm *vm, const char *src, long long len, const char *name, sqpy_value *out) {
    ENTER_LETTING_GIL_GO(vm, SQPY_WRONG_THREAD);
    clear_error(vm);
    if (SQ_FAILED(sq_compilebuffer(vm->v, src, (SQInteger)len, name, SQTrue))) {
        if (vm->stop) return vm->stop;
        return SQPY_COMPILE_ERROR;
    }
    function_result(vm, out);
    sq_pop(vm->v, 1);
    return SQPY_OK;
}

/* Bytecode: compiling is the slow part of starting a VM, and the same source is loaded again
 * and again (one VM per boot), so the host keeps the bytes of its compiled closures. */
static SQInteger write_bytes(SQUserPointer up, SQUserPointer p, SQInteger n) {
    std::vector<char> *b = (std::vector<char> *)up;
    b->insert(b->end(), (char *)p, (char *)p + n);
    return n;
}

long long sqpy_dump(sqpy_vm *vm, long long fn, char *out, long long cap) {
    ENTER(vm, -1);
    if (!ref_ok(vm, fn) || sq_type(REF(vm, fn)) != OT_CLOSURE) return -1;
    std::vector<char> b;
    sq_pushobject(vm->v, REF(vm, fn));
    SQRESULT r = sq_writeclosure(vm->v, write_bytes, &b);
    sq_pop(vm->v, 1);
    if (SQ_FAILED(r)) return -1;
    if ((long long)b.size() <= cap && out) memcpy(out, &b[0], b.size());
    return (long long)b.size();
}

int sqpy_load(sqpy_vm *vm, const char *data, long long len, sqpy_value *out) {
    ENTER_KEEPING_CODE(vm, SQPY_WRONG_THREAD);
    HSQUIRRELVM v = vm->v;
    bool fresh = vm->fresh;
    vm->fresh = false;
    if (vm->code_kept) {
        if (len == (long long)vm->code_bytes.size() && vm->mem_used == vm->code_m0
            && memcmp(data, vm->code_bytes.data(), (size_t)len) == 0) {
            load_kept(vm);
            function_result(vm, out);
            vm->code_ref = out->i;
            sq_pop(v, 1);
            return SQPY_OK;
        }
        drop_kept_code(vm);
    }
    SQInteger scratch, strings;
    sq_getworkspace(v, &scratch, &strings);
    bool note = fresh && !vm->fresh_code && vm->mem_used == vm->snap_mem && scratch == vm->snap_scratch
                && strings == vm->snap_strings;
    long long m0 = vm->mem_used, peak = vm->mem_peak;
    if (note) {
        vm->code_noted = false;
        vm->mem_peak = m0;  /* the load's own peak (the VM's is the greater of the two) */
    }
    /* What sq_readclosure would build, read from the bytes in place (sqpy_code.cpp). */
    bool ok = sqpy_code_push_closure(v, data, len, note ? &vm->code : NULL);
    if (note) {
        long long dpeak = vm->mem_peak - m0;
        if (peak > vm->mem_peak) vm->mem_peak = peak;
        if (ok) {
            sqpy_code_note_refs(&vm->code);
            vm->code_bytes.assign(data, (size_t)len);
            vm->code_m0 = m0;
            vm->code_dpeak = dpeak;
            sq_getworkspace(v, &vm->code_scratch, &vm->code_strings);
            vm->code_noted = true;
        }
    }
    if (!ok) return SQPY_BADARG;
    function_result(vm, out);
    if (note) vm->code_ref = out->i;
    sq_pop(v, 1);
    return SQPY_OK;
}

void sqpy_keep_code(sqpy_vm *vm, int on) { vm->fresh_code = !on; }
int sqpy_code_kept(sqpy_vm *vm) { return vm->code_kept; }

int sqpy_call(sqpy_vm *vm, long long fn, const sqpy_value *self, int nargs, const sqpy_value *args, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, fn)) return SQPY_BADREF;
    clear_error(vm);
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_reservestack(v, nargs + 4);
    sq_pushobject(v, REF(vm, fn));
    if (self) {
        if (!push_value(vm, v, self)) { sq_settop(v, top); return SQPY_BADREF; }
    } else {
        sq_pushroottable(v);
    }
    for (int i = 0; i < nargs; i++) {
        if (!push_value(vm, v, &args[i])) { sq_settop(v, top); return SQPY_BADREF; }
    }
    sq_reseterror(v);
    SQRESULT r = sq_call(v, nargs + 1, SQTrue, SQTrue);
    /* suspend() in the main thread returns to the host with the script's frames left on the
     * stack (and every later suspend() fails). The host has no wakeup, so resume it at once
     * with an error raised where it suspended. */
    while (SQ_SUCCEEDED(r) && sq_getvmstate(v) == SQ_VMSTATE_SUSPENDED) {
        sq_pop(v, 1);
        sq_throwerror(v, "cannot suspend the main thread (suspend() works in a newthread())");
        r = sq_wakeupvm(v, SQFalse, SQTrue, SQTrue, SQTrue);
    }
    if (SQ_FAILED(r)) {
        record_unhandled(vm, v);
        sq_settop(v, top);
        return e.fail();
    }
    int rc = vm->stop ? vm->stop : SQPY_OK;  /* a stop some native swallowed still counts */
    if (rc == SQPY_OK) take_result(vm, v, out);
    sq_settop(v, top);
    return rc;
}

sqpy_buf *sqpy_fast_init(sqpy_vm *vm, int vmid) {
    vm->vmid = vmid;
    vm->fast = true;
    return &vm->buf;
}

int sqpy_fcall(sqpy_vm *vm, long long fn, int n, const char *strs, long long nstrs) {
    ENTER(vm, -SQPY_WRONG_THREAD);
    bool has_this = (n & SQPY_HAS_THIS) != 0;
    n &= ~SQPY_HAS_THIS;
    if (!ref_ok(vm, fn) || n < 0 || n > SQPY_NBUF) return -SQPY_BADREF;
    clear_error(vm);
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_reservestack(v, n + 4);
    sq_pushobject(v, REF(vm, fn));
    if (!has_this) sq_pushroottable(v);
    for (int i = 0; i < n; i++) {
        if (!push_slot(vm, v, i, &strs, &nstrs)) {
            sq_settop(v, top);
            return vm->buf.type[i] == SQPY_INTEGER ? -SQPY_OVERFLOW :
                   vm->buf.type[i] == SQPY_STRING ? -SQPY_WRONG_THREAD : -SQPY_BADREF;
        }
    }
    sq_reseterror(v);
    SQRESULT r = sq_call(v, has_this ? n : n + 1, SQTrue, SQTrue);
    while (SQ_SUCCEEDED(r) && sq_getvmstate(v) == SQ_VMSTATE_SUSPENDED) {  /* see sqpy_call */
        sq_pop(v, 1);
        sq_throwerror(v, "cannot suspend the main thread (suspend() works in a newthread())");
        r = sq_wakeupvm(v, SQFalse, SQTrue, SQTrue, SQTrue);
    }
    if (SQ_FAILED(r)) {
        record_unhandled(vm, v);
        sq_settop(v, top);
        return -e.fail();
    }
    if (vm->stop) { sq_settop(v, top); return -vm->stop; }  /* a stop some native swallowed */
    if (sq_gettype(v, -1) == OT_STRING && sq_getsize(v, -1) > SQPY_TEXT) {
        /* not copied into text: keep the string alive while Python reads it */
        sq_release(vm->v, &vm->keep);
        sq_getstackobj(v, -1, &vm->keep);
        sq_addref(vm->v, &vm->keep);
    }
    int type = write_slot(vm, v, -1, 0);
    sq_settop(v, top);
    return type;
}

int sqpy_fcall1i(sqpy_vm *vm, long long fn, long long a0) {
    vm->buf.type[0] = SQPY_INTEGER;
    vm->buf.i[0] = a0;
    return sqpy_fcall(vm, fn, 1, NULL, 0);
}

int sqpy_fcall1s(sqpy_vm *vm, long long fn, const char *s, long long len) {
    vm->buf.type[0] = SQPY_STRING;
    vm->buf.i[0] = len;
    return sqpy_fcall(vm, fn, 1, s, len);
}

int sqpy_cbthis(sqpy_vm *vm, sqpy_value *out) {
    CLAIM(vm, SQPY_WRONG_THREAD);
    if (!vm->cbv) return SQPY_BADARG;
    read_value(vm, vm->cbv, 1, out);
    return SQPY_OK;
}

HSQUIRRELVM sqpy_cbthread(sqpy_vm *vm) { return vm->cbv; }

int sqpy_kept_string(sqpy_vm *vm, const char **s, long long *len) {
    CLAIM(vm, SQPY_WRONG_THREAD);
    if (sq_type(vm->keep) != OT_STRING) return SQPY_BADARG;
    sq_pushobject(vm->v, vm->keep);
    sq_getstring(vm->v, -1, s);
    *len = sq_getsize(vm->v, -1);
    sq_pop(vm->v, 1);
    return SQPY_OK;
}

int sqpy_get(sqpy_vm *vm, long long obj, const sqpy_value *key, int raw, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, obj)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, obj));
    if (!push_value(vm, v, key)) { sq_settop(v, top); return SQPY_BADREF; }
    SQRESULT r = raw ? sq_rawget(v, -2) : sq_get(v, -2);
    if (SQ_FAILED(r)) { sq_settop(v, top); return e.fail(); }
    take_result(vm, v, out);
    sq_settop(v, top);
    return SQPY_OK;
}

int sqpy_set(sqpy_vm *vm, long long obj, const sqpy_value *key, const sqpy_value *val, int newslot) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, obj)) return SQPY_BADREF;
    clear_error(vm);
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, obj));
    if (!push_value(vm, v, key) || !push_value(vm, v, val)) { sq_settop(v, top); return SQPY_BADREF; }
    sq_reseterror(v);
    SQRESULT r = newslot ? sq_newslot(v, -3, SQFalse) : sq_set(v, -3);
    if (SQ_SUCCEEDED(r) && newslot) {  /* sq_newslot returns SQ_OK even when the VM refused */
        sq_getlasterror(v);
        if (sq_gettype(v, -1) != OT_NULL) r = SQ_ERROR;
        sq_pop(v, 1);
    }
    if (SQ_FAILED(r)) {
        sq_getlasterror(v);
        if (sq_gettype(v, -1) == OT_STRING) {
            const SQChar *s;
            sq_getstring(v, -1, &s);
            vm->errmsg = s;
        }
        sq_settop(v, top);
        return e.fail();
    }
    sq_settop(v, top);
    return SQPY_OK;
}

int sqpy_delete(sqpy_vm *vm, long long obj, const sqpy_value *key) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, obj)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, obj));
    if (!push_value(vm, v, key)) { sq_settop(v, top); return SQPY_BADREF; }
    SQRESULT r = sq_deleteslot(v, -2, SQFalse);
    sq_settop(v, top);
    return SQ_FAILED(r) ? e.fail() : SQPY_OK;
}

int sqpy_next(sqpy_vm *vm, long long obj, sqpy_value *iter, sqpy_value *key, sqpy_value *val) {
    ENTER(vm, -SQPY_WRONG_THREAD);
    if (!ref_ok(vm, obj)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, obj));
    push_value(vm, v, iter);
    int rc;
    sq_reseterror(v);  /* sq_next fails both at the end and on errors: only errors set it */
    if (SQ_SUCCEEDED(sq_next(v, -2))) {
        read_value(vm, v, -2, key);
        read_value(vm, v, -1, val);
        sq_pop(v, 2);
        /* The iterator is an integer position for every iterable kind. */
        SQInteger i = 0;
        sq_getinteger(v, -1, &i);
        iter->type = SQPY_INTEGER;
        iter->i = i;
        rc = 1;
    } else if (vm->stop) {
        rc = -vm->stop;
    } else {
        sq_getlasterror(v);
        bool failed = sq_gettype(v, -1) != OT_NULL;
        sq_pop(v, 1);
        rc = 0;
        if (failed) {  /* e.g. an instance whose _nexti is missing or throws */
            vm->handled = false;
            record_unhandled(vm, v);
            rc = -SQPY_ERROR;
        }
    }
    sq_settop(v, top);
    return rc;
}

int sqpy_items(sqpy_vm *vm, long long obj, int cap, sqpy_value *keys, sqpy_value *vals) {
    ENTER(vm, -SQPY_WRONG_THREAD);
    if (!ref_ok(vm, obj)) return -SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, obj));
    sq_pushnull(v);
    int n = 0;
    while (n < cap && SQ_SUCCEEDED(sq_next(v, -2))) {
        read_value(vm, v, -2, &keys[n]);
        read_value(vm, v, -1, &vals[n]);
        sq_pop(v, 2);
        n++;
    }
    sq_settop(v, top);
    return n;
}

int sqpy_fill(sqpy_vm *vm, long long obj, int n, const sqpy_value *keys, const sqpy_value *vals) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, obj)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, obj));
    bool array = sq_gettype(v, -1) == OT_ARRAY;
    for (int i = 0; i < n; i++) {
        if (!array && !push_value(vm, v, &keys[i])) { sq_settop(v, top); return SQPY_BADREF; }
        if (!push_value(vm, v, &vals[i])) { sq_settop(v, top); return SQPY_BADREF; }
        if (SQ_FAILED(array ? sq_arrayappend(v, -2) : sq_newslot(v, -3, SQFalse))) {
            sq_settop(v, top);
            return SQPY_BADARG;
        }
    }
    sq_settop(v, top);
    return SQPY_OK;
}

long long sqpy_len(sqpy_vm *vm, long long obj) {
    ENTER(vm, -2);
    if (!ref_ok(vm, obj)) return -1;
    sq_pushobject(vm->v, REF(vm, obj));
    SQInteger n = sq_getsize(vm->v, -1);
    sq_pop(vm->v, 1);
    return n;
}

int sqpy_append(sqpy_vm *vm, long long arr, const sqpy_value *val) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, arr)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, arr));
    if (!push_value(vm, v, val)) { sq_settop(v, top); return SQPY_BADREF; }
    SQRESULT r = sq_arrayappend(v, -2);
    sq_settop(v, top);
    return SQ_FAILED(r) ? SQPY_BADARG : SQPY_OK;
}

int sqpy_new(sqpy_vm *vm, int type, long long size, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    HSQUIRRELVM v = vm->v;
    if (type == SQPY_TABLE) sq_newtableex(v, size > 0 ? size : 0);
    else if (type == SQPY_ARRAY) sq_newarray(v, size > 0 ? size : 0);
    else return SQPY_BADARG;
    read_value(vm, v, -1, out);
    sq_pop(v, 1);
    return SQPY_OK;
}

int sqpy_new_blob(sqpy_vm *vm, const char *data, long long len, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    HSQUIRRELVM v = vm->v;
    SQUserPointer p = sqstd_createblob(v, (SQInteger)len);
    if (!p) return e.fail();  /* SQPY_MEMORY_LIMIT when that is why */
    if (len) memcpy(p, data, (size_t)len);
    read_value(vm, v, -1, out);
    sq_pop(v, 1);
    return SQPY_OK;
}

int sqpy_blob_data(sqpy_vm *vm, long long ref, const char **data, long long *len) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, ref)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    sq_pushobject(v, REF(vm, ref));
    SQUserPointer p;
    int rc = SQPY_BADARG;
    if (SQ_SUCCEEDED(sqstd_getblob(v, -1, &p))) {
        *data = (const char *)p;
        *len = sqstd_getblobsize(v, -1);
        rc = SQPY_OK;
    }
    sq_pop(v, 1);
    return rc;
}

int sqpy_new_function(sqpy_vm *vm, long long fid, long long nparams, const char *typemask, const char *name,
                      sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    HSQUIRRELVM v = vm->v;
    FunctionTag *tag = (FunctionTag *)sq_newuserdata(v, sizeof(FunctionTag));
    tag->vm = vm;
    tag->fid = fid;
    sq_setreleasehook(v, -1, forget_function);
    sq_newclosure(v, trampoline, 1);
    if ((nparams || typemask) && SQ_FAILED(sq_setparamscheck(v, (SQInteger)nparams, typemask))) {
        sq_pop(v, 1);
        return SQPY_BADARG;  /* a typemask Squirrel cannot compile */
    }
    if (name) sq_setnativeclosurename(v, -1, name);
    read_value(vm, v, -1, out);
    sq_pop(v, 1);
    return SQPY_OK;
}

/* Pushes table[name] (a table: made if missing) of the table at idx. */
static void push_subtable(HSQUIRRELVM v, SQInteger idx, const char *name) {
    if (idx < 0) idx = sq_gettop(v) + 1 + idx;
    sq_pushstring(v, name, -1);
    if (SQ_SUCCEEDED(sq_rawget(v, idx))) {
        if (sq_gettype(v, -1) == OT_TABLE) return;
        sq_pop(v, 1);
    }
    sq_pushstring(v, name, -1);
    sq_newtable(v);
    sq_rawset(v, idx);  /* raw: a delegate's _newslot must not decide whether it is stored */
    sq_pushstring(v, name, -1);
    sq_rawget(v, idx);
}

int sqpy_install(sqpy_vm *vm, long long table, const char *subtable, const sqpy_natives *set, long long fid_base,
                 int nreaders, const sqpy_reader *readers) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, table)) return SQPY_BADREF;
    if (sq_type(REF(vm, table)) != OT_TABLE) return SQPY_BADARG;  /* natives go into tables only */
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, table));
    if (subtable) {
        push_subtable(v, -1, subtable);
        sq_remove(v, -2);
    }
    /* Group g's table sits at stack index top + 1 + g. */
    for (int g = 1; g < set->ngroups; g++) push_subtable(v, top + 1 + set->parent[g], set->group_names[g]);
    int r = 0;
    for (int i = 0; i < set->n; i++) {
        sq_pushstring(v, set->names[i], -1);
        /* The free variable is the function id itself: a batch is never forgotten one by one,
         * so it needs no userdata with a release hook. */
        sq_pushinteger(v, (SQInteger)(fid_base + i));
        sq_newclosure(v, trampoline, 1);
        if (set->nparams[i]) sq_setparamscheck(v, (SQInteger)set->nparams[i], NULL);
        sq_setnativeclosurename(v, -1, set->names[i]);
        if (r < nreaders && readers[r].index == i) {  /* the native becomes the reader's fallback */
            BufferReader *br = (BufferReader *)sq_newuserdata(v, sizeof(BufferReader));
            br->data = readers[r].data;
            br->size = readers[r].size;
            br->gate = readers[r].gate;
            sq_setreleasehook(v, -1, reader_released);
            vm->readers.push_back(br);
            sq_push(v, -2);
            sq_remove(v, -3);
            sq_newclosure(v, buffer_read, 2);
            sq_setnativeclosurename(v, -1, set->names[i]);
            r++;
        }
        /* Squirrel checks the argument types of whichever closure the script calls (the
         * reader's too) before any native code runs, with its own error text. */
        const char *mask = set->typemasks ? set->typemasks[i] : NULL;
        if (mask && SQ_FAILED(sq_setparamscheck(v, (SQInteger)set->nparams[i], mask))) {
            sq_settop(v, top);
            return SQPY_BADARG;
        }
        if (SQ_FAILED(sq_rawset(v, top + 1 + set->group[i]))) { sq_settop(v, top); return SQPY_ERROR; }
    }
    for (int i = 0; i < set->nints; i++) {
        sq_pushstring(v, set->int_names[i], -1);
        sq_pushinteger(v, (SQInteger)set->ints[i]);
        if (SQ_FAILED(sq_rawset(v, top + 1 + set->int_group[i]))) { sq_settop(v, top); return SQPY_ERROR; }
    }
    sq_settop(v, top);
    return SQPY_OK;
}

int sqpy_retarget_reader(sqpy_vm *vm, int n, const unsigned char *data, long long size, const unsigned char *gate) {
    CLAIM(vm, SQPY_WRONG_THREAD);
    if (n < 0 || (size_t)n >= vm->readers.size() || size < 0) return SQPY_BADARG;
    BufferReader *br = vm->readers[n];
    if (!br) return SQPY_OK;  /* Squirrel freed it: nothing reads there any more */
    br->data = data;
    br->size = size;
    br->gate = gate;
    return SQPY_OK;
}

int sqpy_tostring(sqpy_vm *vm, const sqpy_value *val, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    if (!push_value(vm, v, val)) return SQPY_BADREF;
    if (SQ_FAILED(sq_tostring(v, -1))) {  /* a _tostring metamethod threw: its error, not an empty one */
        vm->handled = false;  /* a metamethod's error never reaches the error handler */
        record_unhandled(vm, v);
        sq_settop(v, top);
        return e.fail();
    }
    take_result(vm, v, out);
    sq_settop(v, top);
    return SQPY_OK;
}

int sqpy_typeof(sqpy_vm *vm, const sqpy_value *val, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    if (!push_value(vm, v, val)) return SQPY_BADREF;
    if (SQ_FAILED(sq_typeof(v, -1))) { sq_settop(v, top); return e.fail(); }
    take_result(vm, v, out);
    sq_settop(v, top);
    return SQPY_OK;
}

static int unary(sqpy_vm *vm, long long ref, SQRESULT (*op)(HSQUIRRELVM, SQInteger), sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, ref)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, ref));
    if (SQ_FAILED(op(v, -1))) { sq_settop(v, top); return SQPY_BADARG; }
    take_result(vm, v, out);
    sq_settop(v, top);
    return SQPY_OK;
}

int sqpy_weakref_value(sqpy_vm *vm, long long ref, sqpy_value *out) { return unary(vm, ref, sq_getweakrefval, out); }
int sqpy_getbase(sqpy_vm *vm, long long ref, sqpy_value *out) { return unary(vm, ref, sq_getbase, out); }
int sqpy_getclass(sqpy_vm *vm, long long ref, sqpy_value *out) { return unary(vm, ref, sq_getclass, out); }

int sqpy_instanceof(sqpy_vm *vm, long long inst, long long cls) {
    ENTER(vm, -2);
    if (!ref_ok(vm, inst) || !ref_ok(vm, cls)) return -1;
    /* sq_instanceof wants the class below the instance; on wrong types it returns SQ_ERROR,
     * which is not SQTrue. */
    sq_pushobject(vm->v, REF(vm, cls));
    sq_pushobject(vm->v, REF(vm, inst));
    SQBool b = sq_instanceof(vm->v);
    sq_pop(vm->v, 2);
    return b == SQTrue ? 1 : 0;
}

int sqpy_generator_dead(sqpy_vm *vm, long long ref) {
    ENTER(vm, -2);
    if (!ref_ok(vm, ref)) return -1;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    int dead = 0;
    sq_pushobject(v, REF(vm, ref));
    sq_pushstring(v, "getstatus", -1);
    if (SQ_SUCCEEDED(sq_get(v, -2))) {
        sq_push(v, -2);
        if (SQ_SUCCEEDED(sq_call(v, 1, SQTrue, SQFalse))) {
            const SQChar *s;
            if (SQ_SUCCEEDED(sq_getstring(v, -1, &s))) dead = strcmp(s, "dead") == 0;
        }
    }
    sq_settop(v, top);
    return dead;
}

long long sqpy_collectgarbage(sqpy_vm *vm) {
    ENTER(vm, -1);
    return sq_collectgarbage(vm->v);
}

int sqpy_same(sqpy_vm *vm, long long a, long long b) {
    CLAIM(vm, 0);
    if (!ref_ok(vm, a) || !ref_ok(vm, b)) return 0;
    return REF(vm, a)._type == REF(vm, b)._type &&
           REF(vm, a)._unVal.pRefCounted == REF(vm, b)._unVal.pRefCounted;
}

long long sqpy_hash(sqpy_vm *vm, long long ref) {
    CLAIM(vm, 0);
    if (!ref_ok(vm, ref)) return 0;
    return (long long)(size_t)REF(vm, ref)._unVal.pRefCounted;
}

int sqpy_closure_info(sqpy_vm *vm, long long ref, long long *nparams, sqpy_value *name, sqpy_value *source, long long *line) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!ref_ok(vm, ref)) return SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_pushobject(v, REF(vm, ref));
    SQUnsignedInteger np = 0, nf = 0;
    sq_getclosureinfo(v, -1, &np, &nf);
    *nparams = (long long)np;
    sq_getclosurename(v, -1);
    take_result(vm, v, name);
    sq_pop(v, 1);
    source->type = SQPY_NULL;
    *line = 0;
    sq_settop(v, top);
    return SQPY_OK;
}

int sqpy_error_value(sqpy_vm *vm, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    sq_pushobject(vm->v, vm->err);
    take_result(vm, vm->v, out);
    sq_pop(vm->v, 1);
    return SQPY_OK;
}

const char *sqpy_error_message(sqpy_vm *vm) { CLAIM(vm, ""); return vm->errmsg.c_str(); }
int sqpy_error_frames(sqpy_vm *vm) { CLAIM(vm, 0); return (int)vm->frames.size(); }

int sqpy_error_frame(sqpy_vm *vm, int i, const char **func, const char **source, long long *line, int *nlocals) {
    CLAIM(vm, 0);
    if (i < 0 || i >= (int)vm->frames.size()) return 0;
    const Frame &f = vm->frames[(size_t)i];
    *func = f.func.c_str();
    *source = f.source.c_str();
    *line = f.line;
    *nlocals = (int)f.locals.size();
    return 1;
}

int sqpy_error_local(sqpy_vm *vm, int frame, int i, const char **name, const char **repr) {
    CLAIM(vm, 0);
    if (frame < 0 || frame >= (int)vm->frames.size()) return 0;
    const Frame &f = vm->frames[(size_t)frame];
    if (i < 0 || i >= (int)f.locals.size()) return 0;
    *name = f.locals[(size_t)i].first.c_str();
    *repr = f.locals[(size_t)i].second.c_str();
    return 1;
}

long long sqpy_error_line(sqpy_vm *vm) { return vm->cline; }
long long sqpy_error_column(sqpy_vm *vm) { return vm->ccol; }
const char *sqpy_error_source(sqpy_vm *vm) { CLAIM(vm, ""); return vm->csource.c_str(); }
void sqpy_capture_locals(sqpy_vm *vm, int on) { vm->capture_locals = on != 0; }
int sqpy_record_caught_errors(sqpy_vm *vm, int on) {
    CLAIM(vm, SQPY_WRONG_THREAD);
    vm->caught_errors = on != 0;
    sq_notifyallexceptions(vm->v, on ? SQTrue : SQFalse);
    return SQPY_OK;
}

int sqpy_set_coverage(sqpy_vm *vm, int on) {
    CLAIM(vm, SQPY_WRONG_THREAD);
    vm->coverage = on != 0;
    if (vm->coverage && !vm->cov) vm->cov = sqpy_cov_new();
    return SQPY_OK;
}

int sqpy_coverage_count(sqpy_vm *vm) {
    CLAIM(vm, 0);
    if (!vm->cov) return 0;
    const sqpy_cov_lines &lines = sqpy_cov_read(vm->cov);
    vm->covflat.assign(lines.begin(), lines.end());
    return (int)vm->covflat.size();
}

/* The items sqpy_coverage_count flattened, in one call (a boot's read was one call a line):
 * lines[i] and hits[i] for i < n; the items are sorted by source, and names[k] is the source of
 * the items from first[k] on. Returns the number of sources. names, first: room for n. */
int sqpy_coverage_items(sqpy_vm *vm, int n, long long *lines, long long *hits, const char **names,
                        int *first) {
    CLAIM(vm, 0);
    if (n > (int)vm->covflat.size()) n = (int)vm->covflat.size();
    int k = 0;
    for (int i = 0; i < n; i++) {
        const auto &item = vm->covflat[(size_t)i];
        if (i == 0 || item.first.first != vm->covflat[(size_t)i - 1].first.first) {
            names[k] = item.first.first.c_str();
            first[k++] = i;
        }
        lines[i] = item.first.second;
        hits[i] = item.second;
    }
    return k;
}

int sqpy_stack_frame(HSQUIRRELVM v, int level, const char **func, const char **src, long long *line) {
    SQStackInfos si;
    if (SQ_FAILED(sq_stackinfos(v, level, &si))) return 0;
    *func = si.funcname ? si.funcname : "unknown";
    *src = si.source ? si.source : "";
    *line = si.line;
    return 1;
}

/* ---- snapshot and restore ----
 * A VM that runs many short scripts one after another (an imp boots afresh every few minutes)
 * can start each one from a pristine root table instead of building a new VM. sqpy_snapshot
 * keeps the current root and const tables as the pristine state and gives the script a copy;
 * sqpy_restore gives it a new copy. Copies are deep for tables and shallow for everything else
 * (functions, classes and the rest stay shared), so restore first checks, with a digest, that
 * nothing shared was changed: the pristine tables (reachable through a closure's getroot()),
 * the members, metamethods and attributes of pristine classes, the fields and class of pristine
 * instances, the roots of pristine closures (their outer values no script can reach). A changed
 * one means the VM cannot be reused (the caller makes a new one).
 * Two shortcuts keep a restore cheap without changing what it gives (sqpy_snap.cpp): the digest
 * is taken only when some object it read last time is no longer byte for byte as it was; and
 * the nested copies the last script left exactly as they were made, that only the copies, the
 * dying root table and released handles refer to, are kept instead of made again, the root's
 * copy then laid out as the last one was (memory, peak and instruction charge as fresh copies
 * would make them). */

static inline unsigned long long mix(unsigned long long h, unsigned long long x) {
    h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static unsigned long long obj_word(HSQUIRRELVM v, SQInteger idx) {
    HSQOBJECT o;
    sq_getstackobj(v, idx, &o);
    return mix((unsigned long long)o._type, (unsigned long long)o._unVal.raw);
}

/* Tables and classes nested deeper than this in the pristine state refuse a snapshot: the
 * copies and the digest stop there (and the C stack stays small). The walks themselves read
 * Squirrel's objects directly (sqpy_snap.cpp). */
static const int MAX_NESTING = 32;

/* The digest of the pristine state, keeping what it read for pristine_unchanged. */
static unsigned long long snapshot_digest(sqpy_vm *vm) {
    HSQOBJECT pristine[2] = {vm->snap_root, vm->snap_consts};
    return sqpy_snap_digest(pristine, 2, MAX_NESTING, vm->snap);
}



/* Root and const tables := deep copies of the pristine ones (the root's nested copies kept
 * when the last script left them as made: sqpy_snap_push_copy). False when they nest too deep
 * or a copy could not be made (then the tables not yet replaced are left as they were). */
static bool set_copies(sqpy_vm *vm, bool pristine_same) {
    HSQUIRRELVM v = vm->v;
    vm->held.assign(vm->refs.begin(), vm->refs.end());
    vm->held.push_back(vm->keep);
    long long kept = 0;
    int rc = sqpy_snap_push_copy(v, &vm->snap_root, MAX_NESTING, vm->snap, pristine_same && !vm->fresh_copies,
                                 vm->held.data(), vm->held.size(), &kept);
    if (rc < 0) return false;
    bool ok = rc == 0;
    sq_setroottable(v);  /* pops the copy */
    /* Every closure holds a weak reference to the root table. A new VM's root has had one since
     * its first closure was made; the copy has none until a closure is made over it (the
     * closures of the pristine state keep the pristine root's), so the first closure the script
     * made (the app's code, as it loads) allocated it, and the script's figures were not a new
     * VM's. The copy gets it now, held for as long as it is the root. */
    sq_release(v, &vm->root_weak);
    sq_pushroottable(v);
    sq_weakref(v, -1);
    sq_getstackobj(v, -1, &vm->root_weak);
    sq_addref(v, &vm->root_weak);
    sq_pop(v, 2);
    rc = sqpy_snap_push_copy(v, &vm->snap_consts, MAX_NESTING, NULL, 0, NULL, 0, NULL);
    if (rc < 0) {  /* the VM cannot be reused: nothing stays counted that it does not hold */
        sqpy_count_memory(-kept);
        return false;
    }
    sq_setconsttable(v);
    /* What fresh copies would have allocated stopped counting when the copies they replace
     * would have been freed with the old root table; the peak and the budget's checks saw it. */
    sqpy_count_memory(-kept);
    return ok && rc == 0;
}

/* ---- the const table (the bytecode cache of the host replays what a source defined) ---- */

static unsigned long long digest_const(HSQUIRRELVM v, SQInteger idx, int depth);

/* Order-independent: the same constants give the same digest in any VM. */
static unsigned long long digest_const_table(HSQUIRRELVM v, SQInteger idx, int depth) {
    if (idx < 0) idx = sq_gettop(v) + 1 + idx;
    unsigned long long h = (unsigned long long)sq_getsize(v, idx) * 0x9e3779b97f4a7c15ULL;
    sq_pushnull(v);
    while (SQ_SUCCEEDED(sq_next(v, idx))) {
        h += mix(digest_const(v, -2, depth), digest_const(v, -1, depth + 1));
        sq_pop(v, 2);
    }
    sq_pop(v, 1);
    return h;
}

static unsigned long long digest_const(HSQUIRRELVM v, SQInteger idx, int depth) {
    SQObjectType t = sq_gettype(v, idx);
    unsigned long long h = (unsigned long long)t;
    switch (t) {
    case OT_INTEGER: { SQInteger i; sq_getinteger(v, idx, &i); return mix(h, (unsigned long long)i); }
    case OT_BOOL: { SQBool b; sq_getbool(v, idx, &b); return mix(h, b); }
    case OT_FLOAT: {
        SQFloat f; sq_getfloat(v, idx, &f);
        unsigned long long bits = 0;
        memcpy(&bits, &f, sizeof f);
        return mix(h, bits);
    }
    case OT_STRING: {
        const SQChar *str; sq_getstring(v, idx, &str);
        SQInteger n = sq_getsize(v, idx);
        for (SQInteger i = 0; i < n; i++) h = mix(h, (unsigned char)str[i]);
        return mix(h, (unsigned long long)n);
    }
    case OT_TABLE:  /* an enum */
        return depth < 4 ? mix(h, digest_const_table(v, idx, depth)) : h;
    default:
        return mix(h, obj_word(v, idx));  /* nothing else is a constant: identity */
    }
}

unsigned long long sqpy_consts_digest(sqpy_vm *vm) {
    ENTER_KEEPING_CODE(vm, 0);
    sq_pushconsttable(vm->v);
    unsigned long long h = digest_const_table(vm->v, -1, 0);
    sq_pop(vm->v, 1);
    return h;
}

long long sqpy_ref_consts(sqpy_vm *vm) { return ref_of(vm, sq_pushconsttable); }

int sqpy_snapshot(sqpy_vm *vm) {
    ENTER(vm, SQPY_WRONG_THREAD);
    if (!e.outer) return SQPY_BADARG;
    HSQUIRRELVM v = vm->v;
    sq_reservestack(v, 8 * MAX_NESTING + 16);
    sq_release(v, &vm->snap_root);
    sq_release(v, &vm->snap_consts);
    vm->code_noted = false;  /* noted against the last snapshot */
    vm->code_ref = -1;
    if (vm->snap) sqpy_snap_free(vm->snap);
    vm->snap = sqpy_snap_new();
    sq_pushroottable(v);
    sq_getstackobj(v, -1, &vm->snap_root);
    sq_addref(v, &vm->snap_root);
    sq_pop(v, 1);
    sq_pushconsttable(v);
    sq_getstackobj(v, -1, &vm->snap_consts);
    sq_addref(v, &vm->snap_consts);
    sq_pop(v, 1);
    if (!set_copies(vm, false)) {  /* too deep to copy safely: back to no snapshot */
        sq_pushobject(v, vm->snap_root);
        sq_setroottable(v);  /* pops it */
        sq_pushobject(v, vm->snap_consts);
        sq_setconsttable(v);
        sq_release(v, &vm->snap_root);
        sq_release(v, &vm->snap_consts);
        sq_release(v, &vm->root_weak);
        sq_resetobject(&vm->root_weak);
        sq_resetobject(&vm->snap_root);
        sq_resetobject(&vm->snap_consts);
        return SQPY_ERROR;
    }
    vm->snap_digest = snapshot_digest(vm);
    sqpy_snap_note_unlocked(vm->snap, vm->refs.data(), vm->refs.size());
    sq_getworkspace(v, &vm->snap_scratch, &vm->snap_strings);
    vm->snap_keyids = sq_getkeyidcount(v);
    vm->snap_shown = sq_getobjectidcount(v);
    sqpy_snap_stacks(v, vm->snap_stacks);
    vm->snap_mem = vm->mem_used;
    return SQPY_OK;
}

void sqpy_keep_copies(sqpy_vm *vm, int on) { vm->fresh_copies = !on; }

int sqpy_restore(sqpy_vm *vm, long long *root, long long memory_limit) {
    ENTER(vm, SQPY_WRONG_THREAD);
    vm->mem_limit = memory_limit > 0 ? memory_limit * MEM_ONE : 0;  /* first: the copies are held to it */
    if (!e.outer || sq_type(vm->snap_root) != OT_TABLE) return SQPY_BADARG;
    HSQUIRRELVM v = vm->v;
    sq_reservestack(v, 8 * MAX_NESTING + 16);
    /* The digest is taken only when something it read is no longer as it was. */
    bool same = sqpy_snap_unchanged(vm->snap);
    if (!same && snapshot_digest(vm) != vm->snap_digest) {
        sqpy_snap_forget(vm->snap);  /* what it recorded is the changed state: never compare with it */
        return SQPY_ERROR;
    }
    /* The snapshot made the same copies: never too deep here. Cloning can fail only if the
     * instruction budget ran out: the VM then cannot be reused. */
    if (!set_copies(vm, same)) return SQPY_ERROR;
    sq_release(v, &vm->keep);
    sq_resetobject(&vm->keep);
    /* The code the last script loaded, still whole as its handle is: held over the release. */
    bool keep_code = vm->code_noted && !vm->fresh_code && ref_ok(vm, vm->code_ref);
    if (keep_code) sq_addref(v, &vm->code.proto);
    vm->code_ref = -1;
    /* Handles Python still holds belong to the previous script, as if the VM had been closed:
     * they are released now and stop working (a new generation). */
    vm->freelist.clear();
    for (size_t i = vm->refs.size(); i-- > 0;) {
        HSQOBJECT o = vm->refs[i];
        sq_resetobject(&vm->refs[i]);
        vm->freelist.push_back((long long)i);
        sq_release(v, &o);
    }
    vm->live = 0;
    vm->gen++;
    if (keep_code) {
        /* Its closure went with the handles (and the temporary register, which the workspace's
         * reset below empties anyway: nothing else is freed until then). Kept when nothing but
         * the code refers to what it made; its memory then stops counting where freeing it
         * would have stopped it. */
        sqpy_code_drop_temp(v);
        if (sqpy_code_same_refs(&vm->code)) {
            vm->mem_used -= vm->code.held;
            vm->code_kept = true;
        } else {
            vm->code_noted = false;
            sq_release(v, &vm->code.proto);
            sq_resetobject(&vm->code.proto);
        }
    }
    sq_resetobjectids(v, vm->snap_shown);  /* as a new VM would number what the script prints */
    /* ... and the objects its tables are keyed by (their slot order). What was numbered since
     * the snapshot is no key of the restored state's tables: the digest and the state checks
     * above found that state as it was at the snapshot, when those objects had no number. */
    sq_resetkeyids(v, vm->snap_keyids);
    /* What the last script left behind (its main function in a register, its error, a scratch
     * pad and string table its strings grew) goes now, not during the next script's run: the
     * VM then holds what it held at the snapshot, as a new VM would. */
    sq_resetworkspace(v, vm->snap_scratch, vm->snap_strings);
    sqpy_snap_reset_stacks(v, vm->snap_stacks);
    sq_reseterror(v);
    clear_error(vm);
    vm->coverage = false;
    if (vm->cov) sqpy_cov_clear(vm->cov);
    vm->covflat.clear();
    /* Kept only for a load into the state the noted one started from. */
    if (vm->code_kept && vm->mem_used != vm->code_m0) drop_kept_code(vm);
    /* A class the last script's instances locked, unlocked as a new VM's. An instance still
     * there is garbage (nothing pristine refers to one, the handles are gone): a cycle the
     * script left, which the collector frees now rather than after the restore, so that the
     * next script finds the class as a new VM would. It frees nothing a collection right after
     * the restore would not (the host makes one when memory is above the pristine figure, which
     * such a cycle keeps it). Kept code is let go first, as any collection lets it go. */
    if (!sqpy_snap_unlock(vm->snap)) {
        if (vm->code_kept) drop_kept_code(vm);
        sq_collectgarbage(v);
        sqpy_snap_unlock(vm->snap);
    }
    vm->fresh = true;
    sq_pushroottable(v);  /* the handle Python's root proxy holds (a handle costs no memory) */
    *root = ref_new(vm, v, -1);
    sq_pop(v, 1);
    return SQPY_OK;
}

/* The index of source name `name` in vm->srcnames, added if new. */
static int source_index(sqpy_vm *vm, const char *name) {
    if (vm->srclast < (int)vm->srcnames.size() && vm->srcnames[vm->srclast] == name) return vm->srclast;
    std::string key(name);
    auto it = vm->srcindex.find(key);
    int i;
    if (it != vm->srcindex.end()) {
        i = it->second;
    } else {
        i = (int)vm->srcnames.size();
        vm->srcnames.push_back(key);
        vm->srcindex.emplace(std::move(key), i);
    }
    vm->srclast = i;
    return i;
}

long long sqpy_caller(sqpy_vm *vm, int *src) {
    if (!vm) return -1;
    CLAIM(vm, -1);
    HSQUIRRELVM v = vm->depth ? vm->cbv : NULL;
    if (!v) return -1;
    SQStackInfos si;
    for (SQInteger level = 1; level < 64 && SQ_SUCCEEDED(sq_stackinfos(v, level, &si)); level++) {
        if (si.line >= 0) {
            *src = source_index(vm, si.source ? si.source : "");
            return si.line;
        }
    }
    return -1;
}

const char *sqpy_source_name(sqpy_vm *vm, int i) {
    return i >= 0 && i < (int)vm->srcnames.size() ? vm->srcnames[i].c_str() : NULL;
}

void sqpy_coverage_clear(sqpy_vm *vm) {
    CLAIM(vm, );
    if (vm->cov) sqpy_cov_clear(vm->cov);
    vm->covflat.clear();
}

}  /* extern "C" */

/* ---- plain data: pack and unpack (sqpy.h) ---- */

/* Squirrel's table of strong references (sq_addref) grows with the most objects referenced at
 * once and never shrinks, and its memory counts as the script's: what imp.getmemoryfree()
 * reports depends on it. The Python conversion these calls replace held a handle per object
 * in a pattern of its own, so pack and unpack reference the same objects at the same points:
 * a script sees the same free memory whichever way its data travelled. */

namespace {

enum : char { PK_NULL = 'n', PK_TRUE = 'T', PK_FALSE = 'F', PK_INT = 'i', PK_FLOAT = 'f',
              PK_STR = 's', PK_BLOB = 'b', PK_ARRAY = 'a', PK_TABLE = 't' };

thread_local std::string g_pack;

/* Strict UTF-8 (no surrogates, overlongs or code points past U+10FFFF; what Python's decoder
 * accepts) and no NUL: the strings that travel as text. */
bool safe_text(const unsigned char *s, SQInteger n) {
    SQInteger i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == 0) return false;
            i++;
            continue;
        }
        int more;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) more = 1;
        else if (c == 0xE0) { more = 2; lo = 0xA0; }
        else if (c == 0xED) { more = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) more = 2;
        else if (c == 0xF0) { more = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) more = 3;
        else if (c == 0xF4) { more = 3; hi = 0x8F; }
        else return false;
        if (n - i <= more) return false;
        unsigned c1 = s[i + 1];
        if (c1 < lo || c1 > hi) return false;
        for (int k = 2; k <= more; k++)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        i += more + 1;
    }
    return true;
}

bool is_object(SQObjectType t) {
    return !(t == OT_NULL || t == OT_INTEGER || t == OT_FLOAT || t == OT_BOOL || t == OT_STRING);
}

/* References held for the pattern above, released together. */
struct Held {
    HSQUIRRELVM v;
    std::vector<HSQOBJECT> objs;
    void add(SQInteger idx) {
        HSQOBJECT o;
        sq_getstackobj(v, idx, &o);
        sq_addref(v, &o);
        objs.push_back(o);
    }
    void release_from(size_t n) {
        while (objs.size() > n) {
            sq_release(v, &objs.back());
            objs.pop_back();
        }
    }
    ~Held() { release_from(0); }
};

void put_len(std::string &out, size_t n) {
    uint32_t u = (uint32_t)n;
    out.append((const char *)&u, sizeof u);
}

void put_bytes(std::string &out, char tag, const char *p, size_t n) {
    out.push_back(tag);
    put_len(out, n);
    out.append(p, n);
}

enum { PACKED = 0, LEFT_OUT = 1, TOO_DEEP = 2 };
static const long long PACK_LIMIT = 1 << 20;

/* A container packed whole (nothing left out): where its bytes are, what they count, and how
 * much deeper than the container its deepest part is. */
struct Whole {
    size_t at, len;
    long long size;
    int height;
};

struct Packer {
    HSQUIRRELVM v;
    std::string &out;
    int maxdepth;
    long long size = 0, left_out = 0;
    Held held;
    std::unordered_map<const void *, Whole> whole{};

    /* Packs the value at the top of v's stack; *height as the Python walk counts it. */
    int top(int depth, int *height) {
        *height = 0;
        /* Past 1 MiB serialised the host's own copy (which names what is wrong) takes over: a
         * table holding the same table twice at every level would otherwise expand for minutes. */
        if (depth > maxdepth || size > PACK_LIMIT) return TOO_DEEP;
        switch (sq_gettype(v, -1)) {
        case OT_NULL: out.push_back(PK_NULL); size += 1; return PACKED;
        case OT_BOOL: { SQBool b; sq_getbool(v, -1, &b); out.push_back(b ? PK_TRUE : PK_FALSE); size += 1; return PACKED; }
        case OT_INTEGER: {
            SQInteger i; sq_getinteger(v, -1, &i);
            out.push_back(PK_INT); out.append((const char *)&i, sizeof i); size += 5; return PACKED;
        }
        case OT_FLOAT: {
            SQFloat f; sq_getfloat(v, -1, &f);
            out.push_back(PK_FLOAT); out.append((const char *)&f, sizeof f); size += 5; return PACKED;
        }
        case OT_STRING: {
            const SQChar *s; sq_getstring(v, -1, &s);
            SQInteger n = sq_getsize(v, -1);
            bool text = safe_text((const unsigned char *)s, n);
            put_bytes(out, text ? PK_STR : PK_BLOB, s, (size_t)n);
            size += (text ? 3 : 5) + n;
            return PACKED;
        }
        case OT_INSTANCE: {
            SQUserPointer p;
            if (SQ_FAILED(sqstd_getblob(v, -1, &p))) return LEFT_OUT;
            SQInteger n = sqstd_getblobsize(v, -1);
            if (n < 0 || !p) n = 0;
            put_bytes(out, PK_BLOB, (const char *)p, (size_t)n);
            size += 5 + n;
            return PACKED;
        }
        case OT_ARRAY:
        case OT_TABLE: return container(depth, height);
        default: return LEFT_OUT;
        }
    }

    /* A handle on the value at idx if it is an object, made as the binding makes one (asking an
     * instance whether it is a blob leaves Squirrel's last-error string behind). */
    void hold(SQInteger idx) {
        SQObjectType t = sq_gettype(v, idx);
        if (!is_object(t)) return;
        if (t == OT_INSTANCE) {
            SQUserPointer p;
            sqstd_getblob(v, idx, &p);
        }
        held.add(idx);
    }

    int container(int depth, int *height) {
        bool table = sq_gettype(v, -1) == OT_TABLE;
        HSQOBJECT self;
        sq_getstackobj(v, -1, &self);
        /* The Python walk reuses its copy of a container it copied whole before, taking no handle
         * on its parts (what a script sees as memory follows the handles): so does this. */
        auto seen = whole.find(self._unVal.pRefCounted);
        if (seen != whole.end()) {
            const Whole w = seen->second;
            if (depth + w.height > maxdepth) return TOO_DEEP;
            out.append(std::string(out, w.at, w.len));
            size += w.size;
            *height = w.height;
            return PACKED;
        }
        size_t start = out.size();
        long long start_size = size, start_left_out = left_out;
        int deepest = -1;
        /* the Python walk held a handle on every object among the keys and values at once */
        size_t mark_held = held.objs.size();
        sq_pushnull(v);
        while (SQ_SUCCEEDED(sq_next(v, -2))) {
            hold(-2);
            hold(-1);
            sq_pop(v, 2);
        }
        sq_pop(v, 1);
        out.push_back(table ? PK_TABLE : PK_ARRAY);
        size_t at = out.size();
        put_len(out, 0);
        size += 5;
        uint32_t kept = 0;
        sq_pushnull(v);
        while (SQ_SUCCEEDED(sq_next(v, -2))) {
            size_t mark = out.size();
            long long before = size;
            bool keep = true;
            if (table) {
                const SQChar *k;
                if (sq_gettype(v, -2) != OT_STRING) keep = false;
                else {
                    sq_getstring(v, -2, &k);
                    SQInteger n = sq_getsize(v, -2);
                    if (!safe_text((const unsigned char *)k, n)) keep = false;
                    else { put_len(out, (size_t)n); out.append(k, (size_t)n); size += 3 + n; }
                }
            }
            if (keep) {
                int h, rc = top(depth + 1, &h);
                if (rc == TOO_DEEP) return TOO_DEEP;  /* the caller resets the stack */
                keep = rc == PACKED;
                if (keep && h > deepest) deepest = h;
            }
            if (keep) kept++;
            else { out.resize(mark); size = before; left_out++; }
            sq_pop(v, 2);
        }
        sq_pop(v, 1);
        held.release_from(mark_held);
        memcpy(&out[at], &kept, sizeof kept);
        *height = deepest + 1;
        /* the outermost container cannot be reached again once it is packed */
        if (left_out == start_left_out && depth > 0)
            whole[self._unVal.pRefCounted] = Whole{start, out.size() - start, size - start_size, *height};
        return PACKED;
    }
};

struct Reader {
    const char *p, *end;
    bool take(void *dst, size_t n) {
        if ((size_t)(end - p) < n) return false;
        memcpy(dst, p, n);
        p += n;
        return true;
    }
    bool len(uint32_t &n) { return take(&n, sizeof n); }
    bool skip(size_t n) {
        if ((size_t)(end - p) < n) return false;
        p += n;
        return true;
    }
};

struct Unpacker {
    HSQUIRRELVM v;
    Held blobs;       /* every blob, made first and held to the end, as the Python conversion did */
    size_t next_blob = 0;
    Held containers;  /* each container while it is filled, and its filled children */

    /* First pass: check the data and make its blobs, in order. */
    bool scan(Reader &r, int depth) {
        char tag;
        if (depth > 1000 || !r.take(&tag, 1)) return false;
        switch (tag) {
        case PK_NULL: case PK_TRUE: case PK_FALSE: return true;
        case PK_INT: return r.skip(sizeof(SQInteger));
        case PK_FLOAT: return r.skip(sizeof(SQFloat));
        case PK_STR: { uint32_t n; return r.len(n) && r.skip(n); }
        case PK_BLOB: {
            uint32_t n;
            if (!r.len(n) || (size_t)(r.end - r.p) < n) return false;
            SQUserPointer b = sqstd_createblob(v, (SQInteger)n);
            if (!b) return false;
            if (n) memcpy(b, r.p, n);
            blobs.add(-1);
            sq_pop(v, 1);
            r.p += n;
            return true;
        }
        case PK_ARRAY:
        case PK_TABLE: {
            uint32_t n;
            /* each entry takes at least a byte (5 in a table): a count the data cannot hold is
             * garbage, refused before it sizes a table */
            if (!r.len(n) || (size_t)(r.end - r.p) / (tag == PK_TABLE ? 5 : 1) < n) return false;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t k;
                if (tag == PK_TABLE && !(r.len(k) && r.skip(k))) return false;
                if (!scan(r, depth + 1)) return false;
            }
            return true;
        }
        default: return false;
        }
    }

    /* Second pass (on checked data): pushes the next value. */
    bool push(Reader &r) {
        char tag = 0;
        r.take(&tag, 1);
        switch (tag) {
        case PK_NULL: sq_pushnull(v); return true;
        case PK_TRUE: sq_pushbool(v, SQTrue); return true;
        case PK_FALSE: sq_pushbool(v, SQFalse); return true;
        case PK_INT: { SQInteger i = 0; r.take(&i, sizeof i); sq_pushinteger(v, i); return true; }
        case PK_FLOAT: { SQFloat f = 0; r.take(&f, sizeof f); sq_pushfloat(v, f); return true; }
        case PK_STR: {
            uint32_t n = 0;
            r.len(n);
            sq_pushstring(v, r.p, (SQInteger)n);
            r.p += n;
            return true;
        }
        case PK_BLOB: {
            uint32_t n = 0;
            r.len(n);
            r.p += n;
            sq_pushobject(v, blobs.objs[next_blob++]);
            return true;
        }
        default: {  /* PK_ARRAY, PK_TABLE */
            uint32_t n = 0;
            r.len(n);
            if (tag == PK_TABLE) sq_newtableex(v, (SQInteger)n);
            else sq_newarray(v, 0);
            containers.add(-1);
            size_t mark = containers.objs.size();
            sq_reservestack(v, 4);
            for (uint32_t i = 0; i < n; i++) {
                if (tag == PK_TABLE) {
                    uint32_t k = 0;
                    r.len(k);
                    sq_pushstring(v, r.p, (SQInteger)k);
                    r.p += k;
                }
                if (!push(r)) return false;
                if (SQ_FAILED(tag == PK_TABLE ? sq_newslot(v, -3, SQFalse) : sq_arrayappend(v, -2))) return false;
            }
            containers.release_from(mark);  /* the children's handles; this one's stays */
            return true;
        }
        }
    }
};

}  /* namespace */

extern "C" {

long long sqpy_pack(sqpy_vm *vm, long long obj, int maxdepth, const char **data, long long *size,
                    long long *left_out) {
    ENTER(vm, -SQPY_WRONG_THREAD);
    if (!ref_ok(vm, obj)) return -SQPY_BADREF;
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_reservestack(v, 4 * (maxdepth + 2) + 8);
    sq_pushobject(v, REF(vm, obj));
    g_pack.clear();
    Packer pk{v, g_pack, maxdepth, 0, 0, Held{v, {}}};
    int height, rc = pk.top(0, &height);
    sq_settop(v, top);
    pk.held.release_from(0);
    *size = pk.size;
    *left_out = pk.left_out;
    /* The limit is checked as each value starts: the last one may have crossed it */
    if (rc != PACKED || pk.size > PACK_LIMIT) return -SQPY_BADARG;
    *data = g_pack.data();
    return (long long)g_pack.size();
}

int sqpy_unpack(sqpy_vm *vm, const char *data, long long len, sqpy_value *out) {
    ENTER(vm, SQPY_WRONG_THREAD);
    HSQUIRRELVM v = vm->v;
    SQInteger top = sq_gettop(v);
    sq_reservestack(v, 64);
    Unpacker u{v, Held{v, {}}, 0, Held{v, {}}};
    Reader r{data, data + len};
    if (!u.scan(r, 0) || r.p != r.end) {
        sq_settop(v, top);
        return vm->stop ? vm->stop : SQPY_BADARG;
    }
    r.p = data;
    if (!u.push(r)) {
        sq_settop(v, top);
        return vm->stop ? vm->stop : SQPY_BADARG;
    }
    read_value(vm, v, -1, out);  /* the caller's handle, made while the others are still held */
    sq_settop(v, top);
    return SQPY_OK;
}


static bool holds_handle(int type) {
    return !(type & (SQPY_NULL | SQPY_INTEGER | SQPY_FLOAT | SQPY_BOOL | SQPY_STRING));
}

static sqpy_value string_key(const char *key, long long keylen) {
    sqpy_value k{};
    k.type = SQPY_STRING;
    k.s = key;
    k.len = keylen;
    return k;
}

long long sqpy_pack_slot(sqpy_vm *vm, long long obj, const char *key, long long keylen, int maxdepth,
                         const char **data, long long *size, long long *left_out) {
    sqpy_value out, k = string_key(key, keylen);
    int rc = sqpy_get(vm, obj, &k, 0, &out);
    if (rc) return -rc;
    if (out.type != SQPY_TABLE) {
        if (holds_handle(out.type)) sqpy_release(vm, out.i);
        return -SQPY_NOT_A_TABLE;
    }
    long long n = sqpy_pack(vm, out.i, maxdepth, data, size, left_out);
    sqpy_release(vm, out.i);
    return n;
}

int sqpy_unpack_slot(sqpy_vm *vm, long long obj, const char *key, long long keylen, const char *data,
                     long long len) {
    sqpy_value out, k = string_key(key, keylen);
    int rc = sqpy_unpack(vm, data, len, &out);
    if (rc) return rc;
    rc = sqpy_set(vm, obj, &k, &out, 1);
    sqpy_release(vm, out.i);
    return rc;
}

}  /* extern "C" */
