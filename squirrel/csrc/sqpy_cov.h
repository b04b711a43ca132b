/* Line coverage from the instruction pointer (sqpy_cov.cpp), for sqpy.cpp. Not part of the cdef. */
#ifndef SQPY_COV_H
#define SQPY_COV_H

#include <map>
#include <string>
#include <utility>

struct SQFunctionProto;
struct sqpy_cov;

/* {(source name, line): times the line was entered} */
typedef std::map<std::pair<std::string, long long>, long long> sqpy_cov_lines;

sqpy_cov *sqpy_cov_new(void);
void sqpy_cov_free(sqpy_cov *c);
/* Forget every count. */
void sqpy_cov_clear(sqpy_cov *c);
/* The counts so far by line (the counts of the prototypes still alive are mapped now). */
const sqpy_cov_lines &sqpy_cov_read(sqpy_cov *c);
/* `f` is about to be freed: its counts go to their lines now. */
void sqpy_cov_forget(sqpy_cov *c, SQFunctionProto *f);

#endif
