/* The walks of snapshot and restore over Squirrel's internals (sqpy_snap.cpp), for sqpy.cpp.
 * Not part of the cdef: Python never calls them. */
#ifndef SQPY_SNAP_H
#define SQPY_SNAP_H

#include <squirrel.h>

#include <stddef.h>

/* What the walks keep from one restore to the next (per VM; holds no references). */
struct sqpy_snap_state;
struct sqpy_snap_state *sqpy_snap_new(void);
void sqpy_snap_free(struct sqpy_snap_state *s);

/* A digest of `count` pristine objects and what the copies share with them: the slots of the
 * tables and classes reachable from them (keys and values by identity, nested no deeper than
 * max_nesting), the attributes of those classes and their members, the roots of closures.
 * With `record`, also keeps the state of every object the digest read, for
 * sqpy_snap_unchanged. */
unsigned long long sqpy_snap_digest(const HSQOBJECT *objects, int count, int max_nesting,
                                    struct sqpy_snap_state *record);

/* At the snapshot (after the digest recorded, `held` the host's handles): notes the pristine
 * classes that have no instance. At a restore's end, with nothing of the last script left:
 * unlocks those a script's instances locked, when none of their instances is left; 0 when one
 * is (nothing unlocked). */
void sqpy_snap_note_unlocked(struct sqpy_snap_state *s, const HSQOBJECT *held, size_t nheld);
int sqpy_snap_unlock(struct sqpy_snap_state *s);

/* Drops what the digest and the copies recorded: the next restore takes the digest, copies
 * everything afresh, and records again. */
void sqpy_snap_forget(struct sqpy_snap_state *s);

/* 1 when every object the digest read when it last recorded is byte for byte as it was then
 * (the digest would then be the same), 0 when that is not known (take the digest). */
int sqpy_snap_unchanged(const struct sqpy_snap_state *s);

/* Pushes a copy of the table whose nested tables are copies too (others are shared). Returns 0,
 * or 1 when tables nest deeper than max_nesting (those are shared, not copied), or -1 when
 * cloning failed (nothing pushed). With `keep` (the root table's copy) and `pristine_same`
 * (sqpy_snap_unchanged held at this restore), the nested copies the last script left as they
 * were made are kept rather than made again, and the root's copy laid out as the last one was
 * (what that needs is in sqpy_snap.cpp); without `pristine_same` all is copied and noted
 * afresh. `held` are the host's handles, released by the restore with the VM's root
 * table. The memory fresh copies would have allocated is counted as they would have allocated
 * it (sqpy_count_memory), so that the instruction budget's checks see what they would see: it
 * stays counted, *kept_bytes, until the caller gives it back once the copies they replace
 * would have been freed too (nothing is left counted when this fails). */
int sqpy_snap_push_copy(HSQUIRRELVM v, const HSQOBJECT *table, int max_nesting, struct sqpy_snap_state *keep,
                        int pristine_same, const HSQOBJECT *held, size_t nheld, long long *kept_bytes);

/* The sizes of the VM's value stack, call stack and stack of exception traps (they grow with
 * the calls and try blocks a script nests, and never shrink), and, between scripts, the same
 * stacks given back those sizes: what a script finds is then what a new VM set up the same way
 * has, not what the last script grew. Does nothing while anything is on them. */
#define SQPY_STACK_SIZES 3
void sqpy_snap_stacks(HSQUIRRELVM v, long long sizes[SQPY_STACK_SIZES]);
void sqpy_snap_reset_stacks(HSQUIRRELVM v, const long long sizes[SQPY_STACK_SIZES]);

/* Counts `bytes` of object overhead as allocated (negative: freed) by the VM running now
 * (sqpy.cpp's memory accounting), without allocating anything. */
void sqpy_count_memory(long long bytes);

#endif
