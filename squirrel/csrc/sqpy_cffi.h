/* Included by cffi's generated module after its own definitions, before the wrappers it
 * generates for the functions of sqpy.h (build.py, set_source). Two things every wrapper does
 * that this binding does not need, redefined here to nothing:
 *
 * - It releases the GIL around the call. Most calls are short (reading the work counter, a
 *   memory figure, restoring a snapshot, a short script) and a release and retake costs ~400
 *   machine instructions, more than many of the calls themselves; Squirrel code that runs a
 *   while, and a compile, let it go themselves ("The GIL" in sqpy.cpp), so VMs in different
 *   threads still run in parallel.
 * - It saves and restores C's errno for ffi.errno, which nothing here reads (the functions report
 *   through their results).
 *
 * Measured with callgrind on a reused VM booting a sleepy app (~27 calls a boot): ~11,800
 * instructions a boot less (about 2.5 %). */
#ifndef SQPY_CFFI_H
#define SQPY_CFFI_H

#undef Py_BEGIN_ALLOW_THREADS
#undef Py_END_ALLOW_THREADS
#define Py_BEGIN_ALLOW_THREADS {
#define Py_END_ALLOW_THREADS }

#undef _cffi_restore_errno
#undef _cffi_save_errno
#define _cffi_restore_errno() ((void)0)
#define _cffi_save_errno() ((void)0)

#endif
