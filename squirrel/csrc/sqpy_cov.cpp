/* Line coverage that the script cannot see.
 *
 * Squirrel's own line hook needs code compiled with debug info: the compiler then puts an
 * _OP_LINE instruction before each line's code. That instruction is executed and counted like
 * any other (the watchdog, the execution-time model), takes room in the prototype (memory the
 * script sees where code is in RAM) and stops the peephole merges across lines: an app would
 * see other times and other free memory with coverage on than without. Here code is compiled
 * the same way whether coverage is on or not; the patched Execute loop (patch
 * 19-coverage-from-ip) hands every instruction it is about to run to sq_vm_covered, which counts
 * it by its index in its prototype. The counts live on the C++ heap, outside the memory the
 * script is charged for. Only when coverage is read (or a prototype is freed) are indexes turned
 * into lines, through the prototype's line table (which is compiled with or without debug info).
 *
 * A line's hits: the times its first instruction ran (summed over the line's entries in the
 * line table: a line can start more than one run of code, as a `for` header does). A line with
 * no instruction of its own (a `const` declaration; a load the peephole merged into the
 * instruction before) counts the instruction before it (the first one, at a function's start).
 * Like the _OP_LINE counts it replaces, this counts the times execution
 * entered the line at its start; a jump back to a loop's condition now counts as an entry. Like
 * sqpy_code.cpp it includes the VM's internal headers and nothing of Python's. */
#include "sqpcheader.h"
#include "sqvm.h"
#include "sqstring.h"
#include "sqfuncproto.h"
#include "sqclosure.h"

#include <unordered_map>
#include <vector>

#include "sqpy_cov.h"

struct sqpy_cov {
    /* The prototype counted last and its counts: the next instruction is nearly always its. */
    const SQFunctionProto *last;
    SQUnsignedInteger *counts;
    std::unordered_map<const SQFunctionProto *, std::vector<SQUnsignedInteger> > protos;
    sqpy_cov_lines lines;
};

sqpy_cov *sqpy_cov_new(void) {
    sqpy_cov *c = new sqpy_cov();
    c->last = NULL;
    c->counts = NULL;
    return c;
}

void sqpy_cov_free(sqpy_cov *c) { delete c; }

void sqpy_cov_clear(sqpy_cov *c) {
    c->last = NULL;
    c->counts = NULL;
    c->protos.clear();
    c->lines.clear();
}

void sq_vm_covered(void *record, SQFunctionProto *f, const SQInstruction *ip) {
    sqpy_cov *c = (sqpy_cov *)record;
    if (f != c->last) {
        std::vector<SQUnsignedInteger> &v = c->protos[f];
        if (v.empty()) v.assign((size_t)f->_ninstructions + 1, 0);
        c->last = f;
        c->counts = v.data();
    }
    c->counts[ip - f->_instructions]++;
}

/* Adds f's counts to their lines and zeroes them. */
static void fold(sqpy_cov *c, const SQFunctionProto *f, std::vector<SQUnsignedInteger> &counts) {
    SQInteger n = f->_nlineinfos, ninstr = f->_ninstructions;
    const SQChar *src = sq_type(f->_sourcename) == OT_STRING ? _stringval(f->_sourcename) : "";
    std::string name;
    for (SQInteger i = 0; i < n; i++) {
        SQInteger op = f->_lineinfos[i]._op;
        SQInteger end = i + 1 < n ? f->_lineinfos[i + 1]._op : ninstr;
        /* No instruction of its own (a `const` line, or code the peephole merged into the
         * instruction before): the instruction before it, or the first when there is none. */
        SQInteger at = op < end ? op : op > 0 ? op - 1 : 0;
        if (at < 0 || at >= ninstr || !counts[(size_t)at]) continue;
        if (name.empty()) name = src;
        c->lines[std::make_pair(name, (long long)f->_lineinfos[i]._line)] += (long long)counts[(size_t)at];
    }
    /* Zeroed only once every entry has read: two entries can read the same instruction. */
    std::fill(counts.begin(), counts.end(), 0);
}

const sqpy_cov_lines &sqpy_cov_read(sqpy_cov *c) {
    for (auto &p : c->protos) fold(c, p.first, p.second);
    return c->lines;
}

void sqpy_cov_forget(sqpy_cov *c, SQFunctionProto *f) {
    auto it = c->protos.find(f);
    if (it == c->protos.end()) return;
    fold(c, f, it->second);
    c->protos.erase(it);
    if (c->last == f) {
        c->last = NULL;
        c->counts = NULL;
    }
}
