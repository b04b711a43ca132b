/* The walks of snapshot and restore (see "snapshot and restore" in sqpy.cpp), over Squirrel's
 * own objects rather than through its public API.
 *
 * A VM reused for every boot walks its pristine tables twice per restore: a digest that tells
 * whether a script changed what the copies share, and the deep copy itself. Through the API
 * every slot is pushed onto and popped off the VM's stack (sq_next, sq_getstackobj); here the
 * tables and classes are read directly, which is several times cheaper. This file includes the
 * VM's internal headers, which sqpy.cpp cannot (their macros clash with Python's), and nothing
 * of Python's: it is handed a VM and objects, and leaves results on the VM's stack.
 *
 * What it does is what the API walk did: the same slots read in the same order (the slot array
 * in place, as SQTable::Next and SQClass::Next walk it for sq_next), tables copied as SQVM::Clone
 * copies them (the same layout, allocations and charge to the instruction budget), nested tables
 * replaced slot by slot. */
#include "sqpcheader.h"
#include "sqvm.h"
#include "sqstring.h"
#include "sqtable.h"
#include "sqarray.h"
#include "sqfuncproto.h"
#include "sqclosure.h"
#include "sqclass.h"

#include <unordered_map>
#include <vector>

#include "sqpy_snap.h"

static inline unsigned long long mix(unsigned long long h, unsigned long long x) {
    h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static inline unsigned long long word(const SQObject &o) {
    return mix((unsigned long long)o._type, (unsigned long long)o._unVal.raw);
}

/* Containers already digested: a handful per VM, so a vector beats a hash set. */
struct Seen {
    std::vector<const void *> p;
    bool insert(const void *x) {
        for (size_t i = 0; i < p.size(); i++)
            if (p[i] == x) return false;
        p.push_back(x);
        return true;
    }
};

static unsigned long long digest_value(const SQObject &o, int depth, int max_nesting, Seen &seen);

static unsigned long long digest_table(SQTable *t, const SQObject &o, int depth, int max_nesting, Seen &seen) {
    unsigned long long h = mix(word(o), (unsigned long long)t->CountUsed());
    for (SQInteger i = 0, n = t->NodeCount(); i < n; i++) {
        const SQObjectPtr &key = t->NodeKey(i);
        if (type(key) == OT_NULL) continue;
        h = mix(h, word(key));
        h = mix(h, digest_value(_realval(t->NodeVal(i)), depth + 1, max_nesting, seen));
    }
    return h;
}

static unsigned long long digest_value(const SQObject &o, int depth, int max_nesting, Seen &seen) {
    unsigned long long h = word(o);
    switch (type(o)) {
    case OT_TABLE:
        if (depth > max_nesting || !seen.insert(o._unVal.pRefCounted)) return h;
        return mix(h, digest_table(_table(o), o, depth, max_nesting, seen));
    case OT_CLASS: {
        if (depth > max_nesting || !seen.insert(o._unVal.pRefCounted)) return h;
        SQClass *c = _class(o);
        SQTable *members = c->_members;
        unsigned long long s = mix(word(o), (unsigned long long)c->_udsize);
        for (SQInteger i = 0, n = members->NodeCount(); i < n; i++) {  /* as SQClass::Next */
            const SQObjectPtr &key = members->NodeKey(i);
            if (type(key) == OT_NULL) continue;
            const SQObjectPtr &idx = members->NodeVal(i);
            SQObject val = _ismethod(idx) ? (SQObject)c->_methods[_member_idx(idx)].val
                                          : _realval(c->_defaultvalues[_member_idx(idx)].val);
            s = mix(s, word(key));
            s = mix(s, digest_value(val, depth + 1, max_nesting, seen));
        }
        h = mix(h, s);
        h = mix(h, word(c->_attributes));  /* the class's own attributes */
        for (SQInteger i = 0, n = members->NodeCount(); i < n; i++) {  /* and each member's */
            if (type(members->NodeKey(i)) == OT_NULL) continue;
            const SQObjectPtr &idx = members->NodeVal(i);
            h = mix(h, word(_isfield(idx) ? c->_defaultvalues[_member_idx(idx)].attrs
                                          : c->_methods[_member_idx(idx)].attrs));
        }
        return h;
    }
    case OT_CLOSURE:
        return mix(h, word(_closure(o)->_root->_obj));
    default:
        return h;
    }
}

unsigned long long sqpy_snap_digest(const HSQOBJECT *objects, int count, int max_nesting) {
    Seen seen;
    unsigned long long h = 0;
    for (int i = 0; i < count; i++) {
        unsigned long long d = digest_value(objects[i], 0, max_nesting, seen);
        h = i ? mix(h, d) : d;
    }
    return h;
}

typedef std::unordered_map<const void *, SQObjectPtr> Copies;  /* original table -> its copy */

/* What SQVM::Clone does for a table, reading the original's slots in place: the same charge to
 * the instruction budget, the same new table (Create with the original's slot count, then each
 * slot inserted in the order SQTable::Clone's Next walk gives: the same layout and allocations),
 * the same delegate. SQTable::Clone copies every key and value out first; this does not. A table
 * with a delegate goes through SQVM::Clone itself, which may call its _cloned metamethod. */
static bool clone_table(HSQUIRRELVM v, const SQObjectPtr &orig, SQObjectPtr &out) {
    SQTable *src = _table(orig);
    if (src->_delegate) return v->Clone(orig, out);
    if (SQ_FAILED(sq_charge(v, src->CountUsed() / SQ_COST_ELEMENTS))) return false;
    SQInteger n = src->NodeCount();
    SQTable *copy = SQTable::Create(_opt_ss(src), n);
    out = copy;
    for (SQInteger i = 0; i < n; i++) {
        const SQObjectPtr &key = src->NodeKey(i);
        if (type(key) != OT_NULL) copy->NewSlot(key, src->NodeVal(i));
    }
    return true;
}

/* The copy of `orig` (a table) whose nested tables are copies too; a table reached twice (or
 * through a cycle) is copied once. */
static bool deep_copy(HSQUIRRELVM v, const SQObjectPtr &orig, int depth, int max_nesting, Copies &copies,
                      bool &too_deep, SQObjectPtr &out) {
    if (!clone_table(v, orig, out)) return false;
    copies[orig._unVal.pRefCounted] = out;
    if (depth >= max_nesting) { too_deep = true; return true; }
    SQTable *t = _table(out);
    SQObjectPtr made;
    for (SQInteger i = 0, n = t->NodeCount(); i < n; i++) {  /* as SQTable::Next */
        if (type(t->NodeKey(i)) == OT_NULL) continue;
        SQObject val = _realval(t->NodeVal(i));
        if (type(val) != OT_TABLE) continue;
        Copies::iterator it = copies.find(val._unVal.pRefCounted);
        if (it != copies.end()) made = it->second;
        else if (!deep_copy(v, SQObjectPtr(val), depth + 1, max_nesting, copies, too_deep, made)) return false;
        /* Set by key, as sq_rawset did (cloning may have run a _cloned metamethod: no slot
         * reference is held across it); the key is there, so nothing moves and the walk goes on. */
        SQObjectPtr key(t->NodeKey(i));
        t->NewSlot(key, made);
    }
    return true;
}

int sqpy_snap_push_copy(HSQUIRRELVM v, const HSQOBJECT *table, int max_nesting) {
    Copies copies;
    bool too_deep = false;
    SQObjectPtr orig(*table), copy;
    if (!deep_copy(v, orig, 0, max_nesting, copies, too_deep, copy)) return -1;
    v->Push(copy);
    return too_deep ? 1 : 0;
}
