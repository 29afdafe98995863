// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// prom.c: a strict reader of the Prometheus text format 0.0.4 (see
// prom.h for what it checks).
#define _POSIX_C_SOURCE 200809L
#include "prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct prom_doc *d;
    const char *p, *end; // the line being read
    size_t line;
    char *err;
    size_t errlen;
    bool failed;
    bool *has_samples; // per family
    bool *has_help, *has_type;
    size_t cap_fam, cap_smp;
    long cur; // family of the last sample, -1: none
};

static void fail(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    int n = ps->line != 0
                ? snprintf(ps->err, ps->errlen, "line %zu: ", ps->line)
                : snprintf(ps->err, ps->errlen, "document: ");
    if (n < 0 || (size_t)n >= ps->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void *
xrealloc(struct parser *ps, void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL)
        fail(ps, "out of memory");
    return q;
}

static char *
xstrndup(struct parser *ps, const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void
skip_blanks(struct parser *ps)
{
    while (ps->p < ps->end && is_blank(*ps->p))
        ps->p++;
}

static bool
name_start(char c, bool metric)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (metric && c == ':');
}

static bool
name_char(char c, bool metric)
{
    return name_start(c, metric) || (c >= '0' && c <= '9');
}

// Reads a metric name (metric) or a label name into a new string.
static char *
read_name(struct parser *ps, bool metric)
{
    const char *s = ps->p;
    if (ps->p >= ps->end || !name_start(*ps->p, metric)) {
        fail(ps, "expected a %s name", metric ? "metric" : "label");
        return NULL;
    }
    while (ps->p < ps->end && name_char(*ps->p, metric))
        ps->p++;
    return xstrndup(ps, s, (size_t)(ps->p - s));
}

// Parses a float as the format writes it: decimal, NaN, +Inf, -Inf.
static bool
parse_float(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "Inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(buf, "-Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    // Only digits, one dot, an exponent and signs: no hex, no "inf".
    size_t i = 0;
    if (buf[i] == '+' || buf[i] == '-')
        i++;
    size_t digits = 0;
    while (buf[i] >= '0' && buf[i] <= '9')
        i++, digits++;
    if (buf[i] == '.') {
        i++;
        while (buf[i] >= '0' && buf[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (buf[i] == 'e' || buf[i] == 'E') {
        i++;
        if (buf[i] == '+' || buf[i] == '-')
            i++;
        size_t ed = 0;
        while (buf[i] >= '0' && buf[i] <= '9')
            i++, ed++;
        if (ed == 0)
            return false;
    }
    if (buf[i] != 0)
        return false;
    *out = strtod(buf, NULL);
    return true;
}

// Unescapes a HELP text (\\ and \n only) into a new string.
static char *
read_help(struct parser *ps)
{
    char *out = malloc((size_t)(ps->end - ps->p) + 1);
    if (out == NULL) {
        fail(ps, "out of memory");
        return NULL;
    }
    size_t n = 0;
    while (ps->p < ps->end) {
        char c = *ps->p++;
        if (c == '\\') {
            char e = ps->p < ps->end ? *ps->p++ : 0;
            if (e != '\\' && e != 'n') {
                fail(ps, "bad escape in HELP");
                free(out);
                return NULL;
            }
            c = e == 'n' ? '\n' : '\\';
        }
        out[n++] = c;
    }
    out[n] = 0;
    return out;
}

// The family for a sample named `name`: its histogram or summary by
// suffix, else the family of that exact name; -1 if none is declared.
static long
family_of(const struct prom_doc *d, const char *name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t n = strlen(name);
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n <= sl || strcmp(name + n - sl, suffixes[i]) != 0)
            continue;
        for (size_t f = 0; f < d->nfamilies; f++) {
            const struct prom_family *fam = &d->families[f];
            if (strlen(fam->name) == n - sl &&
                strncmp(fam->name, name, n - sl) == 0 &&
                (strcmp(fam->type, "histogram") == 0 ||
                 (i > 0 && strcmp(fam->type, "summary") == 0)))
                return (long)f;
        }
    }
    return prom_find(d, name);
}

static long
add_family(struct parser *ps, const char *name)
{
    struct prom_doc *d = ps->d;
    if (d->nfamilies == ps->cap_fam) {
        size_t cap = ps->cap_fam ? ps->cap_fam * 2 : 32;
        struct prom_family *f =
            xrealloc(ps, d->families, cap * sizeof *d->families);
        bool *a = xrealloc(ps, ps->has_samples, cap * sizeof(bool));
        if (a != NULL)
            ps->has_samples = a;
        bool *b = xrealloc(ps, ps->has_help, cap * sizeof(bool));
        if (b != NULL)
            ps->has_help = b;
        bool *c = xrealloc(ps, ps->has_type, cap * sizeof(bool));
        if (c != NULL)
            ps->has_type = c;
        if (f == NULL || a == NULL || b == NULL || c == NULL) {
            if (f != NULL)
                d->families = f;
            return -1;
        }
        d->families = f;
        ps->cap_fam = cap;
    }
    size_t i = d->nfamilies;
    d->families[i] =
        (struct prom_family){.name = xstrndup(ps, name, strlen(name)),
                             .type = xstrndup(ps, "untyped", 7)};
    ps->has_samples[i] = ps->has_help[i] = ps->has_type[i] = false;
    d->nfamilies++;
    return ps->failed ? -1 : (long)i;
}

static void
comment_line(struct parser *ps)
{
    ps->p++; // '#'
    skip_blanks(ps);
    bool help = ps->end - ps->p >= 4 && strncmp(ps->p, "HELP", 4) == 0;
    bool type = ps->end - ps->p >= 4 && strncmp(ps->p, "TYPE", 4) == 0;
    if ((!help && !type) || ps->end - ps->p == 4 || !is_blank(ps->p[4]))
        return; // a plain comment
    ps->p += 4;
    skip_blanks(ps);
    char *name = read_name(ps, true);
    if (name == NULL)
        return;
    long f = prom_find(ps->d, name);
    if (f < 0)
        f = add_family(ps, name);
    free(name);
    if (f < 0)
        return;
    if (ps->has_samples[f]) {
        fail(ps, "%s for %s after its samples", help ? "HELP" : "TYPE",
             ps->d->families[f].name);
        return;
    }
    if (ps->p < ps->end && !is_blank(*ps->p)) {
        fail(ps, "bad character after the metric name");
        return;
    }
    if (ps->p < ps->end)
        ps->p++; // one blank separates the name from the text
    if (help) {
        if (ps->has_help[f]) {
            fail(ps, "second HELP for %s", ps->d->families[f].name);
            return;
        }
        ps->has_help[f] = true;
        ps->d->families[f].help = read_help(ps);
        return;
    }
    if (ps->has_type[f]) {
        fail(ps, "second TYPE for %s", ps->d->families[f].name);
        return;
    }
    skip_blanks(ps);
    const char *t = ps->p;
    while (ps->p < ps->end && !is_blank(*ps->p))
        ps->p++;
    size_t tl = (size_t)(ps->p - t);
    skip_blanks(ps);
    static const char *const types[] = {"counter", "gauge", "histogram",
                                        "summary", "untyped"};
    bool ok = false;
    for (size_t i = 0; i < 5 && !ok; i++)
        ok = strlen(types[i]) == tl && strncmp(types[i], t, tl) == 0;
    if (!ok || ps->p != ps->end) {
        fail(ps, "bad TYPE");
        return;
    }
    ps->has_type[f] = true;
    free(ps->d->families[f].type);
    ps->d->families[f].type = xstrndup(ps, t, tl);
}

// Reads `{name="value",...}` into s's labels.
static void
read_labels(struct parser *ps, struct prom_sample *s)
{
    ps->p++; // '{'
    size_t cap = 0;
    for (;;) {
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return;
        }
        char *ln = read_name(ps, false);
        if (ln == NULL)
            return;
        for (size_t i = 0; i < s->nlabels; i++)
            if (strcmp(s->labels[i].name, ln) == 0) {
                fail(ps, "label %s twice", ln);
                free(ln);
                return;
            }
        if (s->nlabels == cap) {
            cap = cap ? cap * 2 : 4;
            struct prom_label *l =
                xrealloc(ps, s->labels, cap * sizeof *s->labels);
            if (l == NULL) {
                free(ln);
                return;
            }
            s->labels = l;
        }
        s->labels[s->nlabels++] = (struct prom_label){.name = ln};
        skip_blanks(ps);
        if (ps->p >= ps->end || *ps->p != '=') {
            fail(ps, "expected '=' after label %s", ln);
            return;
        }
        ps->p++;
        skip_blanks(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, "expected a quoted value for label %s", ln);
            return;
        }
        ps->p++;
        char *v = malloc((size_t)(ps->end - ps->p) + 1);
        if (v == NULL) {
            fail(ps, "out of memory");
            return;
        }
        s->labels[s->nlabels - 1].value = v;
        size_t n = 0;
        for (;;) {
            if (ps->p >= ps->end) {
                fail(ps, "unterminated value of label %s", ln);
                return;
            }
            char c = *ps->p++;
            if (c == '"')
                break;
            if (c == '\\') {
                char e = ps->p < ps->end ? *ps->p++ : 0;
                if (e != '\\' && e != '"' && e != 'n') {
                    fail(ps, "bad escape in label %s", ln);
                    return;
                }
                c = e == 'n' ? '\n' : e;
            }
            v[n++] = c;
        }
        v[n] = 0;
        skip_blanks(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return;
        }
        fail(ps, "expected ',' or '}' after label %s", ln);
        return;
    }
}

static void
sample_line(struct parser *ps)
{
    struct prom_doc *d = ps->d;
    if (d->nsamples == ps->cap_smp) {
        size_t cap = ps->cap_smp ? ps->cap_smp * 2 : 256;
        struct prom_sample *v =
            xrealloc(ps, d->samples, cap * sizeof *d->samples);
        if (v == NULL)
            return;
        d->samples = v;
        ps->cap_smp = cap;
    }
    struct prom_sample *s = &d->samples[d->nsamples++];
    *s = (struct prom_sample){0};
    s->name = read_name(ps, true);
    if (s->name == NULL)
        return;
    if (ps->p < ps->end && *ps->p == '{')
        read_labels(ps, s);
    if (ps->failed)
        return;
    if (ps->p >= ps->end || !is_blank(*ps->p)) {
        fail(ps, "expected a blank before the value");
        return;
    }
    skip_blanks(ps);
    const char *v = ps->p;
    while (ps->p < ps->end && !is_blank(*ps->p))
        ps->p++;
    if (!parse_float(v, (size_t)(ps->p - v), &s->value)) {
        fail(ps, "bad value");
        return;
    }
    skip_blanks(ps);
    if (ps->p < ps->end) { // a timestamp: an integer (ms)
        const char *t = ps->p;
        if (*ps->p == '-')
            ps->p++;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
        if (ps->p == t || (ps->p == t + 1 && *t == '-')) {
            fail(ps, "bad timestamp");
            return;
        }
        skip_blanks(ps);
        if (ps->p != ps->end) {
            fail(ps, "trailing characters");
            return;
        }
    }
    long f = family_of(d, s->name);
    if (f < 0)
        f = add_family(ps, s->name);
    if (f < 0)
        return;
    s->family = (size_t)f;
    if (f != ps->cur && ps->has_samples[f]) {
        fail(ps, "samples of %s are not together", d->families[f].name);
        return;
    }
    ps->has_samples[f] = true;
    ps->cur = f;
    const struct prom_family *fam = &d->families[f];
    bool bucket = strcmp(fam->type, "histogram") == 0 &&
                  strcmp(s->name + strlen(fam->name), "_bucket") == 0;
    const char *le = prom_label_get(s, "le");
    double lev;
    if (bucket &&
        (le == NULL || !parse_float(le, strlen(le), &lev) || isnan(lev)))
        fail(ps, "a bucket of %s without a valid le", fam->name);
    if (strcmp(fam->type, "histogram") == 0 && !bucket && le != NULL)
        fail(ps, "le on %s, which is not a bucket", s->name);
    if (strcmp(fam->type, "histogram") == 0 && strcmp(s->name, fam->name) == 0)
        fail(ps, "histogram %s has a sample without a suffix", fam->name);
    if (strcmp(fam->type, "summary") == 0 && strcmp(s->name, fam->name) == 0 &&
        prom_label_get(s, "quantile") == NULL)
        fail(ps, "summary %s sample without quantile", fam->name);
    if (strcmp(fam->type, "counter") == 0 && !(s->value >= 0))
        fail(ps, "counter %s is negative or NaN", s->name);
}

static int
cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct prom_label *)a)->name,
                  ((const struct prom_label *)b)->name);
}

// A series' identity: its name and labels sorted by name, without `skip`
// (for grouping a histogram's buckets), as one string. NULL: no memory.
static char *
series_key(const struct prom_sample *s, const char *name, const char *skip)
{
    size_t len = strlen(name) + 3;
    for (size_t i = 0; i < s->nlabels; i++)
        len += strlen(s->labels[i].name) + 2 * strlen(s->labels[i].value) + 5;
    struct prom_label *l = malloc((s->nlabels + 1) * sizeof *l);
    char *k = malloc(len);
    if (l == NULL || k == NULL) {
        free(l);
        free(k);
        return NULL;
    }
    if (s->nlabels != 0)
        memcpy(l, s->labels, s->nlabels * sizeof *l);
    qsort(l, s->nlabels, sizeof *l, cmp_label);
    size_t n = (size_t)sprintf(k, "%s{", name);
    for (size_t i = 0; i < s->nlabels; i++) {
        if (skip != NULL && strcmp(l[i].name, skip) == 0)
            continue;
        n += (size_t)sprintf(k + n, "%s=\"", l[i].name);
        for (const char *v = l[i].value; *v != 0; v++) { // keep it unique
            if (*v == '"' || *v == '\\')
                k[n++] = '\\';
            k[n++] = *v;
        }
        n += (size_t)sprintf(k + n, "\",");
    }
    sprintf(k + n, "}");
    free(l);
    return k;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
check_duplicates(struct parser *ps)
{
    struct prom_doc *d = ps->d;
    char **keys = calloc(d->nsamples + 1, sizeof *keys);
    if (keys == NULL) {
        fail(ps, "out of memory");
        return;
    }
    for (size_t i = 0; i < d->nsamples && !ps->failed; i++)
        if ((keys[i] = series_key(&d->samples[i], d->samples[i].name, NULL)) ==
            NULL)
            fail(ps, "out of memory");
    if (!ps->failed) {
        qsort(keys, d->nsamples, sizeof *keys, cmp_str);
        for (size_t i = 1; i < d->nsamples && !ps->failed; i++)
            if (strcmp(keys[i - 1], keys[i]) == 0)
                fail(ps, "series %s twice", keys[i]);
    }
    for (size_t i = 0; i < d->nsamples; i++)
        free(keys[i]);
    free(keys);
}

// Checks one histogram series: the samples of family `f` whose key
// without le is `key`.
static void
check_series(struct parser *ps, size_t f, const char *key, const char *name)
{
    struct prom_doc *d = ps->d;
    size_t nl = strlen(name);
    double last_le = -INFINITY, last_v = 0, inf_v = NAN, count = NAN;
    bool sum = false, any = false;
    for (size_t i = 0; i < d->nsamples && !ps->failed; i++) {
        struct prom_sample *s = &d->samples[i];
        if (s->family != f)
            continue;
        char *k = series_key(s, name, "le");
        if (k == NULL) {
            fail(ps, "out of memory");
            return;
        }
        bool mine = strcmp(k, key) == 0;
        free(k);
        if (!mine)
            continue;
        const char *suffix = s->name + nl;
        if (strcmp(suffix, "_bucket") == 0) {
            const char *les = prom_label_get(s, "le");
            double le;
            (void)parse_float(les, strlen(les), &le);
            if (!isnan(inf_v))
                fail(ps, "%s: a bucket after le=\"+Inf\"", key);
            else if (any && !(le > last_le))
                fail(ps, "%s: le=\"%s\" is not above the bucket before", key,
                     les);
            else if (any && s->value < last_v)
                fail(ps, "%s: bucket le=\"%s\" is not cumulative", key, les);
            any = true;
            last_le = le;
            last_v = s->value;
            if (isinf(le) && le > 0)
                inf_v = s->value;
        } else if (strcmp(suffix, "_sum") == 0) {
            sum = true;
        } else if (strcmp(suffix, "_count") == 0) {
            count = s->value;
        }
    }
    if (ps->failed)
        return;
    if (isnan(inf_v))
        fail(ps, "%s: no le=\"+Inf\" bucket", key);
    else if (isnan(count) || count != inf_v)
        fail(ps, "%s: _count missing or not equal to the +Inf bucket", key);
    else if (!sum)
        fail(ps, "%s: no _sum", key);
}

static void
check_histograms(struct parser *ps)
{
    struct prom_doc *d = ps->d;
    for (size_t f = 0; f < d->nfamilies && !ps->failed; f++) {
        if (strcmp(d->families[f].type, "histogram") != 0)
            continue;
        const char *name = d->families[f].name;
        // Each distinct key (labels without le) is one series: check
        // it where it first appears.
        for (size_t i = 0; i < d->nsamples && !ps->failed; i++) {
            if (d->samples[i].family != f)
                continue;
            char *k = series_key(&d->samples[i], name, "le");
            bool first = true;
            for (size_t j = 0; j < i && first && k != NULL; j++) {
                if (d->samples[j].family != f)
                    continue;
                char *o = series_key(&d->samples[j], name, "le");
                first = o != NULL && strcmp(o, k) != 0;
                free(o);
            }
            if (k == NULL)
                fail(ps, "out of memory");
            else if (first)
                check_series(ps, f, k, name);
            free(k);
        }
    }
}

int
prom_parse(struct prom_doc *doc, const char *text, size_t len, char *err,
           size_t errlen)
{
    *doc = (struct prom_doc){0};
    struct parser ps = {.d = doc, .err = err, .errlen = errlen, .cur = -1};
    if (errlen != 0)
        err[0] = 0;
    const char *p = text, *end = text + len;
    if (len != 0 && text[len - 1] != '\n') {
        ps.line = 1;
        for (const char *c = text; c < end; c++)
            ps.line += *c == '\n';
        fail(&ps, "the last line does not end with a newline");
    }
    while (p < end && !ps.failed) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        ps.line++;
        ps.p = p;
        ps.end = nl;
        if (memchr(p, 0, (size_t)(nl - p)) != NULL)
            fail(&ps, "a NUL byte");
        skip_blanks(&ps);
        if (ps.failed || ps.p == ps.end)
            ; // an empty line
        else if (*ps.p == '#')
            comment_line(&ps);
        else
            sample_line(&ps);
        p = nl + 1;
    }
    ps.line = 0;
    if (!ps.failed)
        check_duplicates(&ps);
    if (!ps.failed)
        check_histograms(&ps);
    free(ps.has_samples);
    free(ps.has_help);
    free(ps.has_type);
    if (ps.failed) {
        prom_free(doc);
        return -1;
    }
    return 0;
}

void
prom_free(struct prom_doc *doc)
{
    for (size_t i = 0; i < doc->nfamilies; i++) {
        free(doc->families[i].name);
        free(doc->families[i].type);
        free(doc->families[i].help);
    }
    for (size_t i = 0; i < doc->nsamples; i++) {
        struct prom_sample *s = &doc->samples[i];
        for (size_t j = 0; j < s->nlabels; j++) {
            free(s->labels[j].name);
            free(s->labels[j].value);
        }
        free(s->labels);
        free(s->name);
    }
    free(doc->families);
    free(doc->samples);
    *doc = (struct prom_doc){0};
}

const char *
prom_label_get(const struct prom_sample *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}

long
prom_find(const struct prom_doc *doc, const char *name)
{
    for (size_t i = 0; i < doc->nfamilies; i++)
        if (strcmp(doc->families[i].name, name) == 0)
            return (long)i;
    return -1;
}
