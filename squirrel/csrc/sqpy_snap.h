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
 * table; *kept_bytes is what kept copies take, which fresh copies would have allocated, and
 * *old_root_lives whether the VM's root table (holding the copies fresh ones would replace)
 * outlives sq_setroottable. */
int sqpy_snap_push_copy(HSQUIRRELVM v, const HSQOBJECT *table, int max_nesting, struct sqpy_snap_state *keep,
                        int pristine_same, const HSQOBJECT *held, size_t nheld, long long *kept_bytes,
                        int *old_root_lives);

#endif
