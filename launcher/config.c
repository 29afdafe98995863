// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// config.c: the launcher's config file (format: docs/design/launcher.md).
//
// Design notes
// - The text is copied once and tokenized in place (unquoting never makes
//   a token longer), so tokens are pointers into that copy. Each line's
//   tokens go into one vector, followed by a NULL: a node's command is
//   the tail of its line and needs no array of its own.
// - One pass checks every line, in order, so the first error reported is
//   the first in the file. Nothing is applied until the whole text is
//   valid; an add that still fails (out of memory) is undone.
#define _GNU_SOURCE // strerror_r returning char *
#include "launcher.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (1 << 20)           // bytes
#define MAX_MS   INT64_C(1000000000) // about 11.5 days

struct node {
    int line;
    size_t name;       // token index
    size_t argv;       // token index of argv[0]
    size_t env0, nenv; // range in cfg_parse.env
    enum tr_launch_restart restart;
    int64_t shutdown_ms;
};

struct cfg_parse {
    char *buf; // copy of the text, tokenized in place
    char **tok;
    size_t ntok, captok;
    size_t *env; // token indices of env= options (value at +4)
    size_t nenv, capenv;
    struct node *nodes;
    size_t nnodes, capnodes;
    tr_launch_config cfg;
    int min_line, max_line; // where backoff_min_ms / _max_ms were set
    tr_launch_diag *diag;
    int line;
};

static int fail(struct cfg_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct cfg_parse *p, const char *fmt, ...)
{
    if (p->diag != NULL) {
        va_list ap;
        va_start(ap, fmt);
        p->diag->line = p->line;
        vsnprintf(p->diag->text, sizeof p->diag->text, fmt, ap);
        va_end(ap);
    }
    return TR_EINVAL;
}

static int
grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    void *n = realloc(*v, cap2 * size);
    if (n == NULL)
        return TR_ENOMEM;
    *v = n;
    *cap = cap2;
    return 0;
}

static int
push_tok(struct cfg_parse *p, char *t)
{
    if (grow((void **)&p->tok, &p->captok, p->ntok + 1, sizeof *p->tok))
        return TR_ENOMEM;
    p->tok[p->ntok++] = t;
    return 0;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// tokenize splits [s, end) into tokens, shell-like: whitespace separates,
// '#' at the start of a token begins a comment, 'single quotes' keep
// everything, "double quotes" and a bare backslash escape the next
// character. The tokens (in place) and a NULL go onto p->tok.
static int
tokenize(struct cfg_parse *p, char *s, char *end)
{
    char *w = s;
    for (;;) {
        while (s < end && is_space(*s))
            s++;
        if (s == end || *s == '#')
            break;
        char *t = w;
        while (s < end && !is_space(*s)) {
            char c = *s++;
            if (c == '\'') {
                while (s < end && *s != '\'')
                    *w++ = *s++;
                if (s == end)
                    return fail(p, "unterminated single quote");
                s++;
            } else if (c == '"') {
                while (s < end && *s != '"') {
                    if (*s == '\\' && s + 1 < end)
                        s++;
                    *w++ = *s++;
                }
                if (s == end)
                    return fail(p, "unterminated double quote");
                s++;
            } else if (c == '\\') {
                if (s == end)
                    return fail(p, "backslash at the end of the line "
                                   "(lines do not continue)");
                *w++ = *s++;
            } else {
                *w++ = c;
            }
        }
        if (s < end)
            s++; // the separator: w now trails s, so the NUL fits
        *w++ = '\0';
        if (push_tok(p, t))
            return TR_ENOMEM;
    }
    return push_tok(p, NULL);
}

// parse_int reads a whole decimal number in [min, max].
static bool
parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (v < min)
        return false;
    *out = v;
    return true;
}

// parse_intensity reads "R/Ns", "R/Nms" or "none".
static int
parse_intensity(struct cfg_parse *p, const char *v)
{
    if (strcmp(v, "none") == 0) {
        p->cfg.intensity = -1;
        return 0;
    }
    char r[24], t[24];
    const char *slash = strchr(v, '/');
    size_t rl = slash != NULL ? (size_t)(slash - v) : 0;
    size_t tl = slash != NULL ? strlen(slash + 1) : 0;
    int64_t n, period, unit = 0;
    if (slash != NULL && rl < sizeof r && tl < sizeof t && tl > 0) {
        memcpy(r, v, rl);
        r[rl] = '\0';
        memcpy(t, slash + 1, tl + 1);
        if (tl > 2 && strcmp(t + tl - 2, "ms") == 0) {
            unit = 1;
            t[tl - 2] = '\0';
        } else if (t[tl - 1] == 's') {
            unit = 1000;
            t[tl - 1] = '\0';
        }
    }
    if (unit == 0 || !parse_int(r, 1, INT_MAX, &n) ||
        !parse_int(t, 1, MAX_MS / unit, &period))
        return fail(p,
                    "intensity=%s: expected R/Ts or R/Tms (at most R "
                    "restarts in T), R and T at least 1, or none",
                    v);
    p->cfg.intensity = (int)n;
    p->cfg.period_ms = period * unit;
    return 0;
}

static int
parse_setting(struct cfg_parse *p, const char *t)
{
    const char *eq = strchr(t, '=');
    size_t klen = eq != NULL ? (size_t)(eq - t) : strlen(t);
    const char *v = eq != NULL ? eq + 1 : "";
    int64_t n;
    if (eq != NULL && klen == 14 && strncmp(t, "backoff_min_ms", klen) == 0) {
        if (!parse_int(v, 0, MAX_MS, &n))
            return fail(p, "backoff_min_ms=%s: expected milliseconds", v);
        p->cfg.backoff_min_ms = n == 0 ? -1 : n; // the API's "at once"
        p->min_line = p->line;
        return 0;
    }
    if (eq != NULL && klen == 14 && strncmp(t, "backoff_max_ms", klen) == 0) {
        if (!parse_int(v, 1, MAX_MS, &n))
            return fail(p,
                        "backoff_max_ms=%s: expected milliseconds, "
                        "at least 1",
                        v);
        p->cfg.backoff_max_ms = n;
        p->max_line = p->line;
        return 0;
    }
    if (eq != NULL && klen == 9 && strncmp(t, "intensity", klen) == 0)
        return parse_intensity(p, v);
    return fail(p,
                "unknown setting '%.*s' (a line is 'node ...' or settings "
                "backoff_min_ms=, backoff_max_ms=, intensity=)",
                (int)(klen > 40 ? 40 : klen), t);
}

static int
parse_node_option(struct cfg_parse *p, struct node *nd, size_t i)
{
    const char *t = p->tok[i];
    const char *name = p->tok[nd->name];
    if (strncmp(t, "restart=", 8) == 0) {
        const char *v = t + 8;
        if (strcmp(v, "permanent") == 0)
            nd->restart = TR_LAUNCH_PERMANENT;
        else if (strcmp(v, "transient") == 0)
            nd->restart = TR_LAUNCH_TRANSIENT;
        else if (strcmp(v, "temporary") == 0)
            nd->restart = TR_LAUNCH_TEMPORARY;
        else
            return fail(p,
                        "node %s: restart=%.40s: expected permanent, "
                        "transient or temporary",
                        name, v);
        return 0;
    }
    if (strncmp(t, "shutdown_ms=", 12) == 0) {
        const char *v = t + 12;
        int64_t n;
        if (strcmp(v, "kill") == 0)
            nd->shutdown_ms = -1;
        else if (parse_int(v, 1, MAX_MS, &n))
            nd->shutdown_ms = n;
        else
            return fail(p,
                        "node %s: shutdown_ms=%.40s: expected "
                        "milliseconds (at least 1) or kill",
                        name, v);
        return 0;
    }
    if (strncmp(t, "env=", 4) == 0) {
        if (!tr__launch_env_ok(t + 4))
            return fail(p, "node %s: env=%.60s: expected env=KEY=VALUE", name,
                        t + 4);
        if (grow((void **)&p->env, &p->capenv, p->nenv + 1, sizeof *p->env))
            return TR_ENOMEM;
        p->env[p->nenv++] = i;
        nd->nenv++;
        return 0;
    }
    return fail(p,
                "node %s: unknown option '%.40s' (options: restart=, "
                "shutdown_ms=, env=; then -- and the command)",
                name, t);
}

// parse_node checks a node line whose tokens start at p->tok[s].
static int
parse_node(struct cfg_parse *p, size_t s)
{
    if (p->tok[s + 1] == NULL)
        return fail(p, "node: missing name");
    const char *name = p->tok[s + 1];
    if (!tr__launch_name_ok(name))
        return fail(p, "node '%.80s': a name is 1 to %d of A-Z a-z 0-9 _ . -",
                    name, TR__LAUNCH_NAME_MAX);
    for (size_t i = 0; i < p->nnodes; i++)
        if (strcmp(p->tok[p->nodes[i].name], name) == 0)
            return fail(p, "node %s: defined twice (first on line %d)", name,
                        p->nodes[i].line);
    if (grow((void **)&p->nodes, &p->capnodes, p->nnodes + 1, sizeof *p->nodes))
        return TR_ENOMEM;
    struct node *nd = &p->nodes[p->nnodes];
    *nd = (struct node){
        .line = p->line,
        .name = s + 1,
        .env0 = p->nenv,
        .restart = TR_LAUNCH_PERMANENT,
    };
    size_t i = s + 2;
    for (; p->tok[i] != NULL && strcmp(p->tok[i], "--") != 0; i++) {
        int rc = parse_node_option(p, nd, i);
        if (rc != 0)
            return rc;
    }
    if (p->tok[i] == NULL)
        return fail(p, "node %s: missing '--' before the command", name);
    if (p->tok[i + 1] == NULL || p->tok[i + 1][0] == '\0')
        return fail(p, "node %s: no command after '--'", name);
    nd->argv = i + 1;
    p->nnodes++;
    return 0;
}

static int
parse_line(struct cfg_parse *p, char *s, char *end)
{
    size_t first = p->ntok;
    int rc = tokenize(p, s, end);
    if (rc != 0 || p->tok[first] == NULL)
        return rc;
    if (strcmp(p->tok[first], "node") == 0)
        return parse_node(p, first);
    for (size_t i = first; p->tok[i] != NULL; i++)
        if ((rc = parse_setting(p, p->tok[i])) != 0)
            return rc;
    return 0;
}

// apply adds the parsed nodes and the settings to `l`, or nothing.
static int
apply(struct cfg_parse *p, tr_launch *l)
{
    size_t before = tr__launch_count(l);
    tr_launch_config old = *tr__launch_config(l);
    int rc = tr__launch_set_config(l, &p->cfg);
    for (size_t i = 0; rc == 0 && i < p->nnodes; i++) {
        struct node *nd = &p->nodes[i];
        const char **env = calloc(nd->nenv + 1, sizeof *env);
        if (env == NULL) {
            rc = TR_ENOMEM;
            break;
        }
        for (size_t j = 0; j < nd->nenv; j++)
            env[j] = p->tok[p->env[nd->env0 + j]] + 4;
        tr_launch_child c = {
            .name = p->tok[nd->name],
            .argv = (const char *const *)&p->tok[nd->argv],
            .env = env,
            .restart = nd->restart,
            .shutdown_ms = nd->shutdown_ms,
        };
        rc = tr_launch_add(l, &c);
        free(env);
    }
    if (rc != 0) {
        tr__launch_truncate(l, before);
        (void)tr__launch_set_config(l, &old);
    }
    return rc;
}

int
tr_launch_load(tr_launch *l, const char *text, size_t len, tr_launch_diag *diag)
{
    if (diag != NULL) {
        diag->line = 0;
        diag->text[0] = '\0';
    }
    if (l == NULL || (text == NULL && len != 0))
        return TR_EINVAL;
    struct cfg_parse p = {.diag = diag, .cfg = *tr__launch_config(l)};
    int rc = 0;
    if ((p.buf = malloc(len + 1)) == NULL)
        return TR_ENOMEM;
    if (len != 0)
        memcpy(p.buf, text, len);
    p.buf[len] = '\0';
    char *s = p.buf, *end = p.buf + len;
    while (rc == 0 && s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *eol = nl != NULL ? nl : end;
        p.line++;
        if (memchr(s, '\0', (size_t)(eol - s)) != NULL)
            rc = fail(&p, "the line holds a NUL byte");
        else
            rc = parse_line(&p, s, eol);
        s = eol + 1;
    }
    // Cross-line checks, reported at the line that made them fail.
    for (size_t i = 0; rc == 0 && i < p.nnodes; i++) {
        const char *name = p.tok[p.nodes[i].name];
        if (tr__launch_has(l, name)) {
            p.line = p.nodes[i].line;
            rc = fail(&p, "node %s: a child of that name exists already", name);
        }
    }
    int64_t min = p.cfg.backoff_min_ms, max = p.cfg.backoff_max_ms;
    min = min > 0 ? min : min < 0 ? 0 : TR__LAUNCH_BACKOFF_MIN;
    max = max > 0 ? max : TR__LAUNCH_BACKOFF_MAX;
    if (rc == 0 && min > max) {
        p.line = p.min_line > p.max_line ? p.min_line : p.max_line;
        rc = fail(&p, "backoff_min_ms=%lld is more than backoff_max_ms=%lld",
                  (long long)min, (long long)max);
    }
    if (rc == 0) {
        p.line = 0;
        rc = apply(&p, l);
        if (rc == TR_EBUSY)
            (void)fail(&p, "the launcher has started already");
        else if (rc != 0)
            (void)fail(&p, "%s", tr_strerror(rc));
    }
    free(p.buf);
    free(p.tok);
    free(p.env);
    free(p.nodes);
    return rc;
}

int
tr_launch_load_file(tr_launch *l, const char *path, tr_launch_diag *diag)
{
    char ebuf[128];
    if (l == NULL || path == NULL)
        return TR_EINVAL;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (diag != NULL) {
            diag->line = 0;
            snprintf(diag->text, sizeof diag->text, "cannot open: %s",
                     strerror_r(errno, ebuf, sizeof ebuf));
        }
        return TR_ESYS;
    }
    char *text = malloc(MAX_FILE + 1);
    size_t len = text != NULL ? fread(text, 1, MAX_FILE + 1, f) : 0;
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (text == NULL)
        return TR_ENOMEM;
    int rc;
    if (err != 0 || len > MAX_FILE) {
        if (diag != NULL) {
            diag->line = 0;
            snprintf(diag->text, sizeof diag->text, "cannot read: %s",
                     err != 0 ? strerror_r(err, ebuf, sizeof ebuf)
                              : "larger than 1 MiB");
        }
        rc = TR_ESYS;
    } else {
        rc = tr_launch_load(l, text, len, diag);
    }
    free(text);
    return rc;
}
