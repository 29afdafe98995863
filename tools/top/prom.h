// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// prom.h: a strict reader of the Prometheus text exposition format 0.0.4,
// for troupe-top and for the tests that check /metrics.
//
// It accepts only well-formed text and says where it is not: every line
// ends with a newline; HELP and TYPE at most once per family, TYPE before
// the family's first sample; a family's samples are contiguous; metric
// and label names match the format's grammar, label values use only the
// escapes \\ \" \n, HELP only \\ and \n; no duplicate label in a sample
// and no duplicate series; values are floats (NaN, +Inf, -Inf allowed),
// timestamps integers; counters are not negative; a histogram's series
// each have buckets in increasing `le` order with cumulative counts, a
// last bucket le="+Inf" equal to _count, and a _sum and a _count; a
// summary's samples carry a quantile label, except _sum and _count.
#ifndef TROUPE_TOOLS_PROM_H
#define TROUPE_TOOLS_PROM_H

#include <stddef.h>

struct prom_label {
    char *name, *value; // value unescaped
};

struct prom_family {
    char *name;
    char *type; // "counter", "gauge", "histogram", "summary", "untyped"
    char *help; // unescaped; NULL when there was no HELP line
};

struct prom_sample {
    char *name;    // as written: for a histogram, with _bucket, _sum, _count
    size_t family; // index in prom_doc.families
    struct prom_label *labels;
    size_t nlabels;
    double value;
};

struct prom_doc {
    struct prom_family *families;
    size_t nfamilies;
    struct prom_sample *samples;
    size_t nsamples;
};

// prom_parse reads `len` bytes of `text` into *doc. Returns 0, or -1 with
// a message ("line 12: ...") in err (NUL-terminated, truncated to
// errlen) and *doc empty. Ownership: *doc is the caller's, to prom_free.
int prom_parse(struct prom_doc *doc, const char *text, size_t len, char *err,
               size_t errlen);

// prom_free frees what prom_parse allocated and empties *doc.
void prom_free(struct prom_doc *doc);

// prom_label_get returns the value of label `name` of `s`, or NULL.
const char *prom_label_get(const struct prom_sample *s, const char *name);

// prom_find returns the index of family `name`, or -1.
long prom_find(const struct prom_doc *doc, const char *name);

#endif // TROUPE_TOOLS_PROM_H
