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
 * (sqpy_snap_push_copy), the root table's copy then laid out as the last one was rather than
 * built slot by slot. Callgrind, event-free two-day sleeper: restore 88k -> ~28k instructions
 * per boot (a boot ~620k -> ~559k). */
#include "sqpcheader.h"
#include "sqvm.h"
#include "sqstring.h"
#include "sqtable.h"
#include "sqarray.h"
#include "sqfuncproto.h"
#include "sqclosure.h"
#include "sqclass.h"

#include <stddef.h>
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
 * metamethods (a closure given a metamethod's name goes there only, even to a class that has
 * instances), the attributes, the instance size, which members table. */
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
        bytes.append((const char *)c->_metamethods, TAIL);
    }
    /* The metamethods and, right after them, the attributes: one comparison. */
    static const size_t TAIL = sizeof(SQObjectPtr) * (MT_LAST + 1);
    bool holds() const {
        if (c->_members != members || c->_methods._vals != methods || c->_defaultvalues._vals != defaults ||
            c->_methods.size() != nmethods || c->_defaultvalues.size() != ndefaults || c->_udsize != udsize)
            return false;
        size_t m = nmethods * sizeof(SQClassMember), d = ndefaults * sizeof(SQClassMember);
        return memcmp(methods, bytes.data(), m) == 0 && (d == 0 || memcmp(defaults, bytes.data() + m, d) == 0) &&
               memcmp(c->_metamethods, bytes.data() + m + d, TAIL) == 0;
    }
};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  /* SQClass's layout is the compiler's own: asked of it */
static_assert(offsetof(SQClass, _attributes) == offsetof(SQClass, _metamethods) + sizeof(SQObjectPtr) * MT_LAST,
              "ClassState compares the metamethods and the attributes as one block");
#pragma GCC diagnostic pop

/* An instance: its class and field values (a script can set a field of a pristine instance, or
 * reach its class through getclass()). */
struct InstanceState {
    SQInstance *i;
    const SQClass *cls;
    std::string bytes;
    void take(SQInstance *inst) {
        i = inst;
        cls = inst->_class;
        bytes.assign((const char *)inst->_values, inst->_class->_defaultvalues.size() * sizeof(SQObjectPtr));
    }
    bool holds() const { return i->_class == cls && memcmp(i->_values, bytes.data(), bytes.size()) == 0; }
};

static inline bool same_object(const SQObject &a, const SQObject &b) {
    return a._type == b._type && a._unVal.raw == b._unVal.raw;
}

/* One object the digest read, in the digest's order: a table, a class, or the object a weak
 * reference points at (a table reached through it comes after). */
struct Check {
    enum { TABLE, CLASS, INSTANCE, WEAK } kind;
    TableState table;
    ClassState cls;
    InstanceState inst;
    const SQWeakRef *weak;
    SQObject obj;  /* what the weak reference pointed at */
    bool holds() const {
        switch (kind) {
        case TABLE: return table.holds();
        case CLASS: return cls.holds();
        case INSTANCE: return inst.holds();
        default: return same_object(weak->_obj, obj);
        }
    }
};

/* A closure's root as the digest read it: which weak reference, and what it pointed at. Nothing
 * is reached through a closure, so these are compared after the checks above (which keep every
 * closure they reach referenced, hence alive). */
struct RootCheck {
    const SQClosure *c;
    const SQWeakRef *root;
    SQObject obj;
    bool holds() const { return c->_root == root && same_object(root->_obj, obj); }
};

struct Record {
    std::vector<Check> checks;
    std::vector<RootCheck> roots;
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

/* A slot of the root table's copy holding a nested copy: slot index, index in made. */
typedef std::pair<SQInteger, size_t> Link;

struct sqpy_snap_state {
    Record digest;  /* what the digest read when it was last taken */
    /* The last full copy of the root table: the nested copies in the order they were made,
     * the root's copy as clone_table made it (before its nested tables were replaced), what
     * cloning it charged, and which of its slots hold which nested copy. */
    std::vector<Made> made;
    TableState root;
    SQInteger root_charge;
    std::vector<Link> links;
    bool reusable;              /* made holds copies that may be kept (no cycle, no delegate) */
    /* The pristine classes without an instance at the snapshot, and the references to each that
     * are not an instance's (sqpy_snap_note_unlocked). */
    std::vector<std::pair<SQClass *, SQUnsignedInteger> > unlocked;
    sqpy_snap_state() : root_charge(0), reusable(false) {}
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


static unsigned long long digest_value(const SQObject &o, int depth, int max_nesting, Seen &seen, Record *rec);

/* What a weak reference in a slot points at is what the digest reads: the check follows it. */
static const SQObject &real(const SQObjectPtr &o, Record *rec) {
    if (type(o) != OT_WEAKREF) return o;
    if (rec) {
        rec->checks.push_back(Check());
        rec->checks.back().kind = Check::WEAK;
        rec->checks.back().weak = _weakref(o);
        rec->checks.back().obj = _weakref(o)->_obj;
    }
    return _weakref(o)->_obj;
}

static unsigned long long digest_table(SQTable *t, const SQObject &o, int depth, int max_nesting, Seen &seen,
                                       Record *rec) {
    if (rec) {
        rec->checks.push_back(Check());
        rec->checks.back().kind = Check::TABLE;
        rec->checks.back().table.take(t);
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

static unsigned long long digest_value(const SQObject &o, int depth, int max_nesting, Seen &seen, Record *rec) {
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
            rec->checks.push_back(Check());
            rec->checks.back().kind = Check::CLASS;
            rec->checks.back().cls.take(c);
            rec->checks.push_back(Check());
            rec->checks.back().kind = Check::TABLE;
            rec->checks.back().table.take(members);
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
        for (int i = 0; i < MT_LAST; i++) h = mix(h, digest_value(c->_metamethods[i], depth + 1, max_nesting, seen, rec));
        for (SQInteger i = 0, n = members->NodeCount(); i < n; i++) {  /* and each member's */
            if (type(members->NodeKey(i)) == OT_NULL) continue;
            const SQObjectPtr &idx = members->NodeVal(i);
            h = mix(h, word(_isfield(idx) ? c->_defaultvalues[_member_idx(idx)].attrs
                                          : c->_methods[_member_idx(idx)].attrs));
        }
        return h;
    }
    case OT_INSTANCE: {
        if (depth > max_nesting || !seen.insert(o._unVal.pRefCounted)) return h;
        SQInstance *inst = _instance(o);
        /* An instance's class never changes: one without fields (the hardware objects) needs no
         * check of its own (~1,000 instructions less per restore of the sleepy app's device). */
        if (rec && inst->_class->_defaultvalues.size()) {
            rec->checks.push_back(Check());
            rec->checks.back().kind = Check::INSTANCE;
            rec->checks.back().inst.take(inst);
        }
        SQObject cls;
        cls._type = OT_CLASS;
        cls._unVal.pClass = inst->_class;
        h = mix(h, digest_value(cls, depth + 1, max_nesting, seen, rec));
        for (SQUnsignedInteger i = 0, n = inst->_class->_defaultvalues.size(); i < n; i++)
            h = mix(h, digest_value(real(inst->_values[i], rec), depth + 1, max_nesting, seen, rec));
        return h;
    }
    case OT_CLOSURE:
        if (rec) {
            RootCheck r = {_closure(o), _closure(o)->_root, _closure(o)->_root->_obj};
            rec->roots.push_back(r);
        }
        return mix(h, word(_closure(o)->_root->_obj));
    default:
        return h;
    }
}

unsigned long long sqpy_snap_digest(const HSQOBJECT *objects, int count, int max_nesting, sqpy_snap_state *record) {
    Seen seen;
    Record *rec = NULL;
    if (record) {
        rec = &record->digest;
        rec->checks.clear();
        rec->roots.clear();
    }
    unsigned long long h = 0;
    for (int i = 0; i < count; i++) {
        unsigned long long d = digest_value(objects[i], 0, max_nesting, seen, rec);
        h = i ? mix(h, d) : d;
    }
    return h;
}

/* A class locks itself at its first instance (members other than functions can no longer be
 * added: SQClass::NewSlot), and stays locked. A pristine class a script made an instance of
 * would so stay locked for every later script, where a new VM's is not: the restore unlocks it
 * once no instance is left. An instance holds a reference to its class; what else refers to a
 * pristine class (the pristine state, its copies) refers to it at every restore's end as at the
 * snapshot (checked unchanged), the host's handles excepted (all released by then). So a class
 * referred to exactly as often as at the snapshot, less the handles then held, has no
 * instance, and adding fields to it is safe. When any has more (an instance in a cycle the
 * script left, not yet collected) none is unlocked, and 0 says so. */
void sqpy_snap_note_unlocked(sqpy_snap_state *s, const HSQOBJECT *held, size_t nheld) {
    s->unlocked.clear();
    const std::vector<Check> &checks = s->digest.checks;
    for (size_t i = 0; i < checks.size(); i++) {
        if (checks[i].kind != Check::CLASS || checks[i].cls.c->_locked) continue;
        SQClass *c = checks[i].cls.c;
        SQUnsignedInteger refs = c->_uiRef;
        for (size_t j = 0; j < nheld; j++)
            if (held[j]._type == OT_CLASS && held[j]._unVal.pClass == c) refs--;
        s->unlocked.push_back(std::make_pair(c, refs));
    }
}

int sqpy_snap_unlock(sqpy_snap_state *s) {
    for (size_t i = 0; i < s->unlocked.size(); i++)
        if (s->unlocked[i].first->_locked && s->unlocked[i].first->_uiRef != s->unlocked[i].second) return 0;
    for (size_t i = 0; i < s->unlocked.size(); i++) s->unlocked[i].first->_locked = false;
    return 1;
}

void sqpy_snap_forget(sqpy_snap_state *s) {
    s->digest.checks.clear();
    s->digest.roots.clear();
    s->made.clear();
    s->links.clear();
    s->reusable = false;
}

int sqpy_snap_unchanged(const sqpy_snap_state *s) {
    const Record &r = s->digest;
    if (r.checks.empty()) return 0;
    for (size_t i = 0; i < r.checks.size(); i++)
        if (!r.checks[i].holds()) return 0;
    for (size_t i = 0; i < r.roots.size(); i++)
        if (!r.roots[i].holds()) return 0;
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

static bool is_table(const SQObjectPtr &o, const SQTable *t) {
    return type(o) == OT_TABLE && _table(o) == t;
}

/* What a full copy of the root table notes for the next restore (sqpy_snap_push_copy). */
struct Noting {
    std::vector<Made> made;
    TableState root;
    SQInteger root_charge;
    std::vector<Link> links;
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
        if (depth == 0) {
            note->root.take(_table(out));
            note->root_charge = src->CountUsed() / SQ_COST_ELEMENTS;
        } else {
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
        if (note && depth == 0)
            for (size_t k = 0; k < note->made.size(); k++)
                if (is_table(made, note->made[k].copy)) note->links.push_back(Link(i, k));
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

/* References to t the restore lets go of besides the root table's: the host's handles, and
 * the VM's temporary register (sq_resetworkspace empties it; it may hold the `this` of the
 * last call). */
static SQUnsignedInteger held_refs(HSQUIRRELVM v, const SQTable *t, const HSQOBJECT *held, size_t nheld) {
    SQUnsignedInteger n = is_table(v->temp_reg, t) ? 1 : 0;
    for (size_t i = 0; i < nheld; i++)
        if (held[i]._type == OT_TABLE && held[i]._unVal.pTable == t) n++;
    return n;
}

/* Whether the last full copy's nested copies can be kept (see above), the pristine state being
 * byte for byte the one that copy was made from. `held` are the handles the host holds
 * (released by the restore, with the root table the VM has now, which must then die). */
static bool can_keep(HSQUIRRELVM v, const sqpy_snap_state *s, const HSQOBJECT *held, size_t nheld) {
    const std::vector<Made> &made = s->made;
    if (!s->reusable || made.empty() || type(v->_roottable) != OT_TABLE) return false;
    /* The VM's root table dies when the restore lets go of it, and something it lets go of
     * later than sq_setroottable holds it (the binding's root proxy does): fresh copies'
     * predecessors would all live until then. */
    SQTable *dying = _table(v->_roottable);
    SQUnsignedInteger released = held_refs(v, dying, held, nheld);
    if (released == 0 || dying->_uiRef != 1 + released) return false;
    /* How often the dying root table refers to each copy in the slots where its copy was given
     * them (which also tells they are alive). A reference anywhere else (a global the script
     * made, a slot moved by a rehash) goes uncounted here, and the reference counts below then
     * differ: no copy is kept. */
    std::vector<SQUnsignedInteger> from_root(made.size(), 0);
    for (size_t j = 0; j < s->links.size(); j++) {
        SQInteger i = s->links[j].first;
        if (i >= dying->NodeCount()) continue;
        const SQObjectPtr &val = dying->NodeVal(i);
        for (size_t k = 0; k < made.size(); k++)
            if (is_table(val, made[k].copy)) from_root[k]++;
    }
    for (size_t k = 0; k < made.size(); k++) {
        const Made &m = made[k];
        /* reached through the dying root, or through a copy found unchanged before it */
        if (m.parent < 0 ? from_root[k] == 0 : m.parent >= (int)k) return false;
        SQTable *c = m.copy;
        if (!m.state.holds() || c->_delegate || c->WeakRef() ||
            c->_uiRef != m.inrefs + from_root[k] + held_refs(v, c, held, nheld))
            return false;
    }
    return true;
}

static long long table_bytes(SQTable *t) {  /* what SQTable::Create allocated for it */
    return (long long)sizeof(SQTable) + (long long)t->NodeBytesLen();
}

/* A new copy of the pristine root table, its nested tables the kept copies: what deep_copy
 * would give, charged as deep_copy charges. The pristine root being unchanged, clone_table
 * would lay the copy out as it did last time: the copy takes that layout (the keys and values
 * it holds are the pristine root's) rather than being built slot by slot. *counted: the
 * memory the fresh nested copies would have allocated, counted at the point each would have
 * been (after its charge: the budget's checks then see the memory they would). */
static bool copy_keeping(HSQUIRRELVM v, const sqpy_snap_state *s, const SQObjectPtr &root, SQObjectPtr &out,
                         long long *counted) {
    *counted = 0;
    if (SQ_FAILED(sq_charge(v, s->root_charge))) return false;
    SQTable *t = SQTable::CreateLaidOut(_opt_ss(_table(root)), s->root.count, s->root.bytes.data(), s->root.nodes,
                                        s->root.firstfree, s->root.used);
    out = t;
    const std::vector<Made> &made = s->made;
    for (size_t k = 0; k < made.size(); k++) {
        if (SQ_FAILED(sq_charge(v, made[k].charge))) return false;
        long long bytes = table_bytes(made[k].copy);
        sqpy_count_memory(bytes);
        *counted += bytes;
    }
    for (size_t j = 0; j < s->links.size(); j++)  /* in place: as NewSlot on a present key */
        t->NodeVal(s->links[j].first) = made[s->links[j].second].copy;
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
                        int pristine_same, const HSQOBJECT *held, size_t nheld, long long *kept_bytes) {
    SQObjectPtr orig(*table), copy;
    if (kept_bytes) *kept_bytes = 0;
    if (keep && pristine_same && can_keep(v, keep, held, nheld)) {
        long long counted;
        if (!copy_keeping(v, keep, orig, copy, &counted)) {
            sqpy_count_memory(-counted);
            return -1;
        }
        *kept_bytes = counted;
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
        keep->root = note.root;
        keep->root_charge = note.root_charge;
        keep->links.swap(note.links);
        keep->reusable = note.reusable;
    }
    v->Push(copy);
    return too_deep ? 1 : 0;
}

/* ---- the VM's own stacks ----
 * The value stack, the call stack and the stack of exception traps grow as a script calls
 * deeper or nests more try blocks, and never shrink. A VM reused for a new script kept what
 * the last script grew: the new script then skipped allocations a new VM makes (a new VM's
 * free memory drops by the call stack's growth at its first call four deep, a reused one's did
 * not). Between scripts nothing is on them, so they are given back their sizes at the snapshot. */

namespace {

/* `vec` (holding `size` entries, none of them live) with room for `capacity` exactly, as a
 * vector that grew to it from nothing (0: nothing allocated) would have it. */
template <class T> void set_capacity(sqvector<T> &vec, SQUnsignedInteger size, SQUnsignedInteger capacity) {
    vec.resize(size);
    if (vec.capacity() == capacity) return;
    if (capacity == 0) {
        vec.~sqvector<T>();
        new (&vec) sqvector<T>();
    } else {
        vec.reserve(capacity);
    }
}

}  // namespace

void sqpy_snap_stacks(HSQUIRRELVM v, long long sizes[SQPY_STACK_SIZES]) {
    sizes[0] = (long long)v->_stack.size();
    sizes[1] = (long long)v->_alloccallsstacksize;
    sizes[2] = (long long)v->_etraps.capacity();
}

void sqpy_snap_reset_stacks(HSQUIRRELVM v, const long long sizes[SQPY_STACK_SIZES]) {
    /* Only at rest: no frame, nothing above the stack's top, no open outer pointing into it. */
    if (v->_callsstacksize != 0 || v->_openouters || v->_etraps.size() != 0 || v->_top > sizes[0]) return;
    set_capacity(v->_stack, (SQUnsignedInteger)sizes[0], (SQUnsignedInteger)sizes[0]);
    set_capacity(v->_callstackdata, (SQUnsignedInteger)sizes[1], (SQUnsignedInteger)sizes[1]);
    v->_callsstack = &v->_callstackdata[0];
    v->_alloccallsstacksize = (SQInteger)sizes[1];
    v->ci = NULL;
    set_capacity(v->_etraps, 0, (SQUnsignedInteger)sizes[2]);
}
