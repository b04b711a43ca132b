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
 * replaced slot by slot.
 *
 * Two shortcuts skip most of that work at a restore (each compares state, so no write path of
 * the VM has to report itself): the digest is skipped while everything it read is byte for byte
 * as when it was last taken, and nested copies a script left as they were made are kept
 * (sqpy_snap_push_copy). Callgrind, event-free two-day sleeper: restore 88k -> ~43k
 * instructions per boot. */
#include "sqpcheader.h"
#include "sqvm.h"
#include "sqstring.h"
#include "sqtable.h"
#include "sqarray.h"
#include "sqfuncproto.h"
#include "sqclosure.h"
#include "sqclass.h"

#include <string.h>
#include <string>
#include <unordered_map>
#include <vector>

#include "sqpy_snap.h"

/* ---- states kept to compare with: "is this object exactly as it was?" ----
 * A check holds when the object's memory is byte for byte what it was when the check was
 * taken. Equal bytes mean the same object state for everything that reads it, whatever wrote
 * to it in between (no write path has to be trusted to report itself); unequal bytes only mean
 * "look closer". Checks are taken and compared in the order of a walk, each object reached
 * through one whose check held: the object is then still referenced, so its memory is live. */

/* A table: its slot array (address, size, bytes: keys, values, chain links), used count and
 * next free slot (patches 14 and 15). */
struct TableState {
    SQTable *t;
    const void *nodes;
    SQInteger count, used, firstfree;
    std::string bytes;
    void take(SQTable *table) {
        t = table;
        nodes = t->NodeBytes();
        count = t->NodeCount();
        used = t->CountUsed();
        firstfree = t->FirstFree();
        bytes.assign((const char *)nodes, (size_t)t->NodeBytesLen());
    }
    bool holds() const {
        return t->NodeBytes() == nodes && t->NodeCount() == count && t->CountUsed() == used &&
               t->FirstFree() == firstfree && memcmp(nodes, bytes.data(), bytes.size()) == 0;
    }
};

/* What the digest reads of a class beside its members table: the member vectors, the
 * attributes, the instance size, which members table. */
struct ClassState {
    SQClass *c;
    const SQTable *members;
    const void *methods, *defaults;
    SQUnsignedInteger nmethods, ndefaults;
    SQInteger udsize;
    std::string bytes;
    void take(SQClass *cls) {
        c = cls;
        members = c->_members;
        methods = c->_methods._vals;
        defaults = c->_defaultvalues._vals;
        nmethods = c->_methods.size();
        ndefaults = c->_defaultvalues.size();
        udsize = c->_udsize;
        bytes.assign((const char *)methods, nmethods * sizeof(SQClassMember));
        bytes.append((const char *)defaults, ndefaults * sizeof(SQClassMember));
        bytes.append((const char *)&c->_attributes, sizeof(SQObject));
    }
    bool holds() const {
        if (c->_members != members || c->_methods._vals != methods || c->_defaultvalues._vals != defaults ||
            c->_methods.size() != nmethods || c->_defaultvalues.size() != ndefaults || c->_udsize != udsize)
            return false;
        size_t m = nmethods * sizeof(SQClassMember), d = ndefaults * sizeof(SQClassMember);
        return memcmp(methods, bytes.data(), m) == 0 && memcmp(defaults, bytes.data() + m, d) == 0 &&
               memcmp(&c->_attributes, bytes.data() + m + d, sizeof(SQObject)) == 0;
    }
};

/* One object the digest read, in the digest's order: a table, a class, the object a weak
 * reference points at, or a closure's root (which weak reference, and what it points at). */
struct Check {
    enum { TABLE, CLASS, WEAK, ROOT } kind;
    TableState table;
    ClassState cls;
    const void *at;  /* WEAK: the SQWeakRef; ROOT: the SQClosure */
    const void *root;  /* ROOT: its SQWeakRef */
    SQObject obj;  /* WEAK, ROOT: what the weak reference pointed at */
    bool holds() const {
        switch (kind) {
        case TABLE: return table.holds();
        case CLASS: return cls.holds();
        case WEAK: return memcmp(&((const SQWeakRef *)at)->_obj, &obj, sizeof obj) == 0;
        default: {
            const SQClosure *c = (const SQClosure *)at;
            return c->_root == root && memcmp(&c->_root->_obj, &obj, sizeof obj) == 0;
        }
        }
    }
};

/* A nested table's copy, made by the last full copy of the root table (see sqpy_snap_push_copy). */
struct Made {
    SQTable *orig;      /* the pristine table */
    SQTable *copy;
    SQInteger charge;   /* what copying it charged to the instruction budget */
    int parent;         /* the copy (index in made) whose slot first reached it; -1: the root's */
    SQUnsignedInteger inrefs;  /* references to it from the other copies' slots */
    TableState state;   /* the copy as it was made */
};

struct sqpy_snap_state {
    std::vector<Check> checks;  /* what the digest read when it was last taken */
    std::vector<Made> made;     /* the root's nested copies, in the order they were made */
    bool reusable;              /* made holds copies that may be kept (no cycle, no delegate) */
    sqpy_snap_state() : reusable(false) {}
};

sqpy_snap_state *sqpy_snap_new(void) { return new sqpy_snap_state(); }
void sqpy_snap_free(sqpy_snap_state *s) { delete s; }

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

typedef std::vector<Check> Checks;

static unsigned long long digest_value(const SQObject &o, int depth, int max_nesting, Seen &seen, Checks *rec);

/* What a weak reference in a slot points at is what the digest reads: the check follows it. */
static const SQObject &real(const SQObjectPtr &o, Checks *rec) {
    if (type(o) != OT_WEAKREF) return o;
    if (rec) {
        rec->push_back(Check());
        rec->back().kind = Check::WEAK;
        rec->back().at = _weakref(o);
        rec->back().obj = _weakref(o)->_obj;
    }
    return _weakref(o)->_obj;
}

static unsigned long long digest_table(SQTable *t, const SQObject &o, int depth, int max_nesting, Seen &seen,
                                       Checks *rec) {
    if (rec) {
        rec->push_back(Check());
        rec->back().kind = Check::TABLE;
        rec->back().table.take(t);
    }
    unsigned long long h = mix(word(o), (unsigned long long)t->CountUsed());
    for (SQInteger i = 0, n = t->NodeCount(); i < n; i++) {
        const SQObjectPtr &key = t->NodeKey(i);
        if (type(key) == OT_NULL) continue;
        h = mix(h, word(key));
        h = mix(h, digest_value(real(t->NodeVal(i), rec), depth + 1, max_nesting, seen, rec));
    }
    return h;
}

static unsigned long long digest_value(const SQObject &o, int depth, int max_nesting, Seen &seen, Checks *rec) {
    unsigned long long h = word(o);
    switch (type(o)) {
    case OT_TABLE:
        if (depth > max_nesting || !seen.insert(o._unVal.pRefCounted)) return h;
        return mix(h, digest_table(_table(o), o, depth, max_nesting, seen, rec));
    case OT_CLASS: {
        if (depth > max_nesting || !seen.insert(o._unVal.pRefCounted)) return h;
        SQClass *c = _class(o);
        SQTable *members = c->_members;
        if (rec) {
            rec->push_back(Check());
            rec->back().kind = Check::CLASS;
            rec->back().cls.take(c);
            rec->push_back(Check());
            rec->back().kind = Check::TABLE;
            rec->back().table.take(members);
        }
        unsigned long long s = mix(word(o), (unsigned long long)c->_udsize);
        for (SQInteger i = 0, n = members->NodeCount(); i < n; i++) {  /* as SQClass::Next */
            const SQObjectPtr &key = members->NodeKey(i);
            if (type(key) == OT_NULL) continue;
            const SQObjectPtr &idx = members->NodeVal(i);
            SQObject val = _ismethod(idx) ? (SQObject)c->_methods[_member_idx(idx)].val
                                          : real(c->_defaultvalues[_member_idx(idx)].val, rec);
            s = mix(s, word(key));
            s = mix(s, digest_value(val, depth + 1, max_nesting, seen, rec));
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
        if (rec) {
            rec->push_back(Check());
            rec->back().kind = Check::ROOT;
            rec->back().at = _closure(o);
            rec->back().root = _closure(o)->_root;
            rec->back().obj = _closure(o)->_root->_obj;
        }
        return mix(h, word(_closure(o)->_root->_obj));
    default:
        return h;
    }
}

unsigned long long sqpy_snap_digest(const HSQOBJECT *objects, int count, int max_nesting, sqpy_snap_state *record) {
    Seen seen;
    Checks *rec = NULL;
    if (record) {
        rec = &record->checks;
        rec->clear();
    }
    unsigned long long h = 0;
    for (int i = 0; i < count; i++) {
        unsigned long long d = digest_value(objects[i], 0, max_nesting, seen, rec);
        h = i ? mix(h, d) : d;
    }
    return h;
}

int sqpy_snap_unchanged(const sqpy_snap_state *s) {
    if (s->checks.empty()) return 0;
    for (size_t i = 0; i < s->checks.size(); i++)
        if (!s->checks[i].holds()) return 0;
    return 1;
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

/* What a full copy of the root table notes for the next restore (sqpy_snap_push_copy). */
struct Noting {
    std::vector<Made> made;
    std::vector<const void *> open;  /* the originals being copied (deep_copy's stack) */
    bool reusable;
};

/* The copy of `orig` (a table) whose nested tables are copies too; a table reached twice (or
 * through a cycle) is copied once. With `note`, each nested copy is noted (reached first from
 * the copy made[parent], -1 for the outermost). */
static bool deep_copy(HSQUIRRELVM v, const SQObjectPtr &orig, int depth, int max_nesting, Copies &copies,
                      bool &too_deep, SQObjectPtr &out, Noting *note, int parent) {
    if (!clone_table(v, orig, out)) return false;
    copies[orig._unVal.pRefCounted] = out;
    int self = -1;
    if (note) {
        SQTable *src = _table(orig);
        if (src->_delegate) note->reusable = false;
        if (depth > 0) {
            self = (int)note->made.size();
            note->made.push_back(Made());
            Made &m = note->made.back();
            m.orig = src;
            m.copy = _table(out);
            m.charge = src->CountUsed() / SQ_COST_ELEMENTS;
            m.parent = parent;
            m.inrefs = 0;
        }
        note->open.push_back(orig._unVal.pRefCounted);
    }
    if (depth >= max_nesting) { too_deep = true; return true; }
    SQTable *t = _table(out);
    SQObjectPtr made;
    for (SQInteger i = 0, n = t->NodeCount(); i < n; i++) {  /* as SQTable::Next */
        if (type(t->NodeKey(i)) == OT_NULL) continue;
        SQObject val = _realval(t->NodeVal(i));
        if (type(val) != OT_TABLE) continue;
        Copies::iterator it = copies.find(val._unVal.pRefCounted);
        if (it != copies.end()) {
            made = it->second;
            if (note)  /* a table that holds one it is nested in: its copies would outlive the root's */
                for (size_t k = 0; k < note->open.size(); k++)
                    if (note->open[k] == val._unVal.pRefCounted) note->reusable = false;
        } else if (!deep_copy(v, SQObjectPtr(val), depth + 1, max_nesting, copies, too_deep, made, note, self))
            return false;
        /* Set by key, as sq_rawset did (cloning may have run a _cloned metamethod: no slot
         * reference is held across it); the key is there, so nothing moves and the walk goes on. */
        SQObjectPtr key(t->NodeKey(i));
        t->NewSlot(key, made);
    }
    if (note) note->open.pop_back();
    return true;
}

/* ---- keeping the last script's nested copies ----
 * A nested copy the last script left exactly as it was made (its state bytes equal), with no
 * delegate and no weak reference, that nothing but the copies themselves, the dying root
 * table and the host's handles refers to, is what a fresh copy would be: the same slots in the
 * same places, the same allocations. When that holds for every nested copy (all or none), the
 * restore keeps them and copies only the root table; the instruction budget is charged as for
 * fresh copies. The copies must form no cycle: a fresh copy's predecessors are then all freed
 * when the root table dies, as the kept ones would have been. */

static bool is_table(const SQObjectPtr &o, const SQTable *t) {
    return type(o) == OT_TABLE && _table(o) == t;
}

/* References to t the restore lets go of besides the root table's: the host's handles, and
 * the VM's temporary register (sq_resetworkspace empties it; it may hold the `this` of the
 * last call). */
static SQUnsignedInteger held_refs(HSQUIRRELVM v, const SQTable *t, const HSQOBJECT *held, size_t nheld) {
    SQUnsignedInteger n = is_table(v->temp_reg, t) ? 1 : 0;
    for (size_t i = 0; i < nheld; i++)
        if (held[i]._type == OT_TABLE && held[i]._unVal.pTable == t) n++;
    return n;
}

/* Whether the last full copy's nested copies can be kept (see above). `root` is the pristine
 * root table; `held` the handles the host holds (released by the restore, with the root table
 * the VM has now, which must then die). */
static bool can_keep(HSQUIRRELVM v, const sqpy_snap_state *s, SQTable *root, const HSQOBJECT *held, size_t nheld) {
    const std::vector<Made> &made = s->made;
    if (!s->reusable || made.empty() || type(v->_roottable) != OT_TABLE) return false;
    SQTable *dying = _table(v->_roottable);
    if (dying->_uiRef != 1 + held_refs(v, dying, held, nheld)) return false;
    /* each table the pristine root holds has a copy to keep */
    for (SQInteger i = 0, n = root->NodeCount(); i < n; i++) {
        if (type(root->NodeKey(i)) == OT_NULL) continue;
        SQObject val = _realval(root->NodeVal(i));
        if (type(val) != OT_TABLE) continue;
        bool found = false;
        for (size_t k = 0; k < made.size() && !found; k++) found = made[k].orig == _table(val);
        if (!found) return false;
    }
    /* how often the dying root table refers to each copy (which also tells they are alive) */
    std::vector<SQUnsignedInteger> from_root(made.size(), 0);
    for (SQInteger i = 0, n = dying->NodeCount(); i < n; i++) {
        if (type(dying->NodeKey(i)) == OT_NULL) continue;
        const SQObjectPtr &val = dying->NodeVal(i);
        if (type(val) != OT_TABLE) continue;
        for (size_t k = 0; k < made.size(); k++)
            if (made[k].copy == _table(val)) from_root[k]++;
    }
    for (size_t k = 0; k < made.size(); k++) {
        const Made &m = made[k];
        /* reached through the dying root, or through a copy found unchanged before it */
        if (m.parent < 0 ? from_root[k] == 0 : m.parent >= (int)k) return false;
        SQTable *c = m.copy;
        if (!m.state.holds() || c->_delegate || c->_weakref ||
            c->_uiRef != m.inrefs + from_root[k] + held_refs(v, c, held, nheld))
            return false;
    }
    return true;
}

/* A copy of the pristine root table made fresh, its nested tables the kept copies: what
 * deep_copy would give, charged as deep_copy charges. */
static bool copy_keeping(HSQUIRRELVM v, const sqpy_snap_state *s, const SQObjectPtr &root, SQObjectPtr &out) {
    if (!clone_table(v, root, out)) return false;
    const std::vector<Made> &made = s->made;
    for (size_t k = 0; k < made.size(); k++)
        if (SQ_FAILED(sq_charge(v, made[k].charge))) return false;
    SQTable *t = _table(out);
    for (SQInteger i = 0, n = t->NodeCount(); i < n; i++) {
        if (type(t->NodeKey(i)) == OT_NULL) continue;
        SQObject val = _realval(t->NodeVal(i));
        if (type(val) != OT_TABLE) continue;
        for (size_t k = 0; k < made.size(); k++)
            if (made[k].orig == _table(val)) {
                t->NodeVal(i) = made[k].copy;  /* the slot's value, in place: as NewSlot on a present key */
                break;
            }
    }
    return true;
}

/* After a full copy: the copies as made, and who refers to whom among them. */
static void note_states(Noting &note) {
    std::vector<Made> &made = note.made;
    for (size_t k = 0; k < made.size(); k++) {
        SQTable *t = made[k].copy;
        for (SQInteger i = 0, n = t->NodeCount(); i < n; i++) {
            if (type(t->NodeKey(i)) == OT_NULL) continue;
            const SQObjectPtr &val = t->NodeVal(i);
            if (type(val) != OT_TABLE) continue;
            for (size_t j = 0; j < made.size(); j++)
                if (is_table(val, made[j].copy)) made[j].inrefs++;
        }
    }
    for (size_t k = 0; k < made.size(); k++) made[k].state.take(made[k].copy);
}

int sqpy_snap_push_copy(HSQUIRRELVM v, const HSQOBJECT *table, int max_nesting, sqpy_snap_state *keep,
                        const HSQOBJECT *held, size_t nheld, long long *kept_bytes, int *old_root_lives) {
    SQObjectPtr orig(*table), copy;
    if (kept_bytes) *kept_bytes = 0;
    if (keep && can_keep(v, keep, _table(orig), held, nheld)) {
        /* can_keep counted who holds it: one is the VM's root slot, which the copy replaces */
        *old_root_lives = _table(v->_roottable)->_uiRef > 1;
        if (!copy_keeping(v, keep, orig, copy)) return -1;
        long long bytes = 0;
        for (size_t k = 0; k < keep->made.size(); k++)
            bytes += (long long)sizeof(SQTable) + (long long)keep->made[k].copy->NodeBytesLen();
        *kept_bytes = bytes;
        v->Push(copy);
        return 0;
    }
    Copies copies;
    bool too_deep = false;
    Noting note;
    note.reusable = keep != NULL;
    if (keep) {
        keep->made.clear();
        keep->reusable = false;
    }
    if (!deep_copy(v, orig, 0, max_nesting, copies, too_deep, copy, keep ? &note : NULL, -1)) return -1;
    if (keep && !too_deep) {
        note_states(note);
        keep->made.swap(note.made);
        keep->reusable = note.reusable;
    }
    v->Push(copy);
    return too_deep ? 1 : 0;
}
