/* The walks of snapshot and restore over Squirrel's internals (sqpy_snap.cpp), for sqpy.cpp.
 * Not part of the cdef: Python never calls them. */
#ifndef SQPY_SNAP_H
#define SQPY_SNAP_H

#include <squirrel.h>

/* A digest of `count` pristine objects and what the copies share with them: the slots of the
 * tables and classes reachable from them (keys and values by identity, nested no deeper than
 * max_nesting), the attributes of those classes and their members, the roots of closures. */
unsigned long long sqpy_snap_digest(const HSQOBJECT *objects, int count, int max_nesting);

/* Pushes a copy of the table whose nested tables are copies too (others are shared). Returns 0,
 * or 1 when tables nest deeper than max_nesting (those are shared, not copied), or -1 when
 * cloning failed (nothing pushed). */
int sqpy_snap_push_copy(HSQUIRRELVM v, const HSQOBJECT *table, int max_nesting);

#endif
