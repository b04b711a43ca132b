/* Loading compiled code from memory (sqpy_load in sqpy.cpp), over Squirrel's internals.
 *
 * A VM reused for every boot loads the app's bytecode at every boot. sq_readclosure reads it
 * through a callback, one call per field (several hundred per app), copying each string into
 * the scratch pad first; that reading was about half of what a load cost. Here the same stream
 * is read from the bytes in place.
 *
 * What it builds, and how, is exactly what SQClosure::Load builds (sqobject.cpp): the same
 * allocations in the same order (each string interned when Load interned it, each prototype
 * made when Load made it, the scratch pad asked for each string's size as Load asks for it,
 * the closure over the root table's weak reference last), so memory figures, the peak, the
 * string table and the scratch pad are those of a load by Squirrel itself. Only the reading
 * differs. Like sqpy_snap.cpp it includes the VM's internal headers and nothing of Python's. */
#include "sqpcheader.h"
#include "sqvm.h"
#include "sqstring.h"
#include "sqtable.h"
#include "sqfuncproto.h"
#include "sqclosure.h"

#include <algorithm>
#include <cstring>

#include "sqpy_code.h"

namespace {

struct Reader {
    const char *p, *end;
    sqpy_code_note *note;  /* NULL: nothing noted */

    bool bytes(void *dest, SQInteger n) {
        if (n < 0 || end - p < n) return false;
        if (n) memcpy(dest, p, (size_t)n);
        p += n;
        return true;
    }
    template <class T> bool get(T &x) {  /* a copy of known size: inlined, no call */
        if (end - p < (SQInteger)sizeof x) return false;
        memcpy(&x, p, sizeof x);
        p += sizeof x;
        return true;
    }
    bool tag(SQUnsignedInteger32 expected) {
        SQUnsignedInteger32 t;
        return get(t) && t == expected;
    }
    /* A count of items that each take at least one byte of what is left: a damaged stream
     * cannot make a prototype allocate more than the stream could fill. */
    bool count(SQInteger &n) { return get(n) && n >= 0 && n <= end - p; }
};

/* ReadObject (sqobject.cpp). */
bool read_object(HSQUIRRELVM v, Reader &r, SQObjectPtr &o) {
    SQUnsignedInteger32 type;
    if (!r.get(type)) return false;
    switch ((SQObjectType)type) {
    case OT_STRING: {
        SQInteger len;
        if (!r.get(len) || len < 0 || r.end - r.p < sq_rsl(len)) return false;
        /* Load reads the characters into the scratch pad, which grows or shrinks for them:
         * the pad is asked for the same size (its size is part of the VM's memory), and the
         * string is made from the bytes in place. */
        _ss(v)->GetScratchPad(sq_rsl(len));
        if (!r.note) {
            o = SQString::Create(_ss(v), r.p, len);
        } else {
            /* A string the load makes (rather than finds) is the code's alone: its memory is
             * what Create counted, less the string table's growth if it grew. */
            SQStringTable *table = _ss(v)->_stringtable;
            SQInteger slots = table->GetSize();
            long long before = sqpy_counted();
            o = SQString::Create(_ss(v), r.p, len);
            long long made = sqpy_counted() - before;
            if (table->GetSize() != slots)
                made -= sqpy_overhead_units((long long)sizeof(SQString *) * (table->GetSize() - slots));
            if (made > 0) r.note->held += made;
            r.note->refs.push_back(std::make_pair((void *)_string(o), (SQUnsignedInteger)0));
        }
        r.p += sq_rsl(len);
        return true;
    }
    case OT_INTEGER: {
        SQInteger i;
        if (!r.get(i)) return false;
        o = i;
        return true;
    }
    case OT_BOOL: {
        SQInteger i;
        if (!r.get(i)) return false;
        o._type = OT_BOOL;  /* without releasing what o held, as Load does (no stream has one) */
        o._unVal.nInteger = i;
        return true;
    }
    case OT_FLOAT: {
        SQFloat f;
        if (!r.get(f)) return false;
        o = f;
        return true;
    }
    case OT_NULL:
        o.Null();
        return true;
    default:
        return false;
    }
}

/* SQFunctionProto::Load (sqobject.cpp), field by field in its order. */
bool read_proto(HSQUIRRELVM v, Reader &r, SQObjectPtr &ret) {
    const SQUnsignedInteger32 PART = SQ_CLOSURESTREAM_PART;
    SQInteger nliterals, nparameters, noutervalues, nlocalvarinfos;
    SQInteger nlineinfos, ninstructions, nfunctions, ndefaultparams;
    SQObjectPtr sourcename, name, o;
    if (!r.tag(PART) || !read_object(v, r, sourcename) || !read_object(v, r, name)) return false;
    if (!r.tag(PART) || !r.count(nliterals) || !r.count(nparameters) || !r.count(noutervalues)
        || !r.count(nlocalvarinfos) || !r.count(nlineinfos) || !r.count(ndefaultparams)
        || !r.count(ninstructions) || !r.count(nfunctions))
        return false;
    long long before = r.note ? sqpy_counted() : 0;
    SQFunctionProto *f = SQFunctionProto::Create(_ss(v), ninstructions, nliterals, nparameters,
                                                 nfunctions, noutervalues, nlineinfos,
                                                 nlocalvarinfos, ndefaultparams);
    SQObjectPtr proto = f;  /* frees it if the stream turns out damaged */
    if (r.note) {
        r.note->held += sqpy_counted() - before;
        r.note->refs.push_back(std::make_pair((void *)f, (SQUnsignedInteger)0));
    }
    f->_sourcename = sourcename;
    f->_name = name;
    if (!r.tag(PART)) return false;
    for (SQInteger i = 0; i < nliterals; i++) {
        if (!read_object(v, r, o)) return false;
        f->_literals[i] = o;
    }
    if (!r.tag(PART)) return false;
    for (SQInteger i = 0; i < nparameters; i++) {
        if (!read_object(v, r, o)) return false;
        f->_parameters[i] = o;
    }
    if (!r.tag(PART)) return false;
    for (SQInteger i = 0; i < noutervalues; i++) {
        SQUnsignedInteger type;
        SQObjectPtr outer;
        if (!r.get(type) || !read_object(v, r, o) || !read_object(v, r, outer)) return false;
        f->_outervalues[i] = SQOuterVar(outer, o, (SQOuterType)type);
    }
    if (!r.tag(PART)) return false;
    for (SQInteger i = 0; i < nlocalvarinfos; i++) {
        SQLocalVarInfo lvi;
        if (!read_object(v, r, lvi._name) || !r.get(lvi._pos) || !r.get(lvi._start_op)
            || !r.get(lvi._end_op))
            return false;
        f->_localvarinfos[i] = lvi;
    }
    if (!r.tag(PART) || !r.bytes(f->_lineinfos, (SQInteger)sizeof(SQLineInfo) * nlineinfos)) return false;
    if (!r.tag(PART) || !r.bytes(f->_defaultparams, (SQInteger)sizeof(SQInteger) * ndefaultparams)) return false;
    if (!r.tag(PART) || !r.bytes(f->_instructions, (SQInteger)sizeof(SQInstruction) * ninstructions)) return false;
    if (!r.tag(PART)) return false;
    for (SQInteger i = 0; i < nfunctions; i++) {
        if (!read_proto(v, r, o)) return false;
        f->_functions[i] = o;
    }
    if (!r.get(f->_stacksize) || !r.get(f->_bgenerator) || !r.get(f->_varparams)) return false;
    ret = proto;
    return true;
}

}  // namespace

bool sqpy_code_push_closure(HSQUIRRELVM v, const char *data, long long len, sqpy_code_note *note) {
    if (note) {
        note->refs.clear();
        note->held = 0;
        sq_resetobject(&note->proto);
    }
    Reader r = {data, data + len, note};
    unsigned short head;
    if (!r.get(head) || head != SQ_BYTECODE_STREAM_TAG) return false;
    /* SQClosure::Load */
    if (!r.tag(SQ_CLOSURESTREAM_HEAD) || !r.tag(sizeof(SQChar)) || !r.tag(sizeof(SQInteger))
        || !r.tag(sizeof(SQFloat)))
        return false;
    SQObjectPtr func;
    if (!read_proto(v, r, func) || !r.tag(SQ_CLOSURESTREAM_TAIL)) return false;
    SQObjectPtr closure = SQClosure::Create(_ss(v), _funcproto(func),
                                            _table(v->_roottable)->GetWeakRef(OT_TABLE));
    v->Push(closure);
    if (note) note->proto = func;  /* the closure holds it */
    return true;
}

void sqpy_code_note_refs(sqpy_code_note *note) {
    std::vector<std::pair<void *, SQUnsignedInteger> > &refs = note->refs;
    std::sort(refs.begin(), refs.end());
    refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
    for (size_t i = 0; i < refs.size(); i++) refs[i].second = ((SQRefCounted *)refs[i].first)->_uiRef;
}

bool sqpy_code_same_refs(const sqpy_code_note *note) {
    const std::vector<std::pair<void *, SQUnsignedInteger> > &refs = note->refs;
    for (size_t i = 0; i < refs.size(); i++)
        if (((SQRefCounted *)refs[i].first)->_uiRef != refs[i].second) return false;
    return true;
}

void sqpy_code_push_closure_of(HSQUIRRELVM v, const sqpy_code_note *note) {
    SQObjectPtr closure = SQClosure::Create(_ss(v), _funcproto(note->proto),
                                            _table(v->_roottable)->GetWeakRef(OT_TABLE));
    v->Push(closure);
}

void sqpy_code_drop_temp(HSQUIRRELVM v) { v->temp_reg.Null(); }

void sqpy_code_workspace(HSQUIRRELVM v, SQInteger scratch, SQInteger strings) {
    _ss(v)->ResizeScratchPad(scratch);
    _ss(v)->_stringtable->Grow(strings);
}
