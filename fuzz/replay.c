// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// replay.c: a main() for a fuzz target without libFuzzer, so the corpus
// runs as an ordinary test under every compiler and sanitizer CI uses.
// Each argument is a file or a directory of files; each file is one
// input, copied into a buffer of exactly its size so that AddressSanitizer
// sees a read past its end.
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

static size_t inputs;

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (nb == NULL)
                free(buf);
            buf = nb;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (buf == NULL || err) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    // An exact-size copy: the slack in `buf` would hide an overread.
    unsigned char *in = malloc(len != 0 ? len : 1);
    if (in == NULL) {
        free(buf);
        return 1;
    }
    memcpy(in, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(in, len);
    free(in);
    inputs++;
    return 0;
}

static int
run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file or directory: %s\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot list %s\n", path);
        return 1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; // ., .., and hidden files such as .gitattributes
        size_t need = strlen(path) + strlen(e->d_name) + 2;
        char *sub = malloc(need);
        if (sub == NULL) {
            rc = 1;
            break;
        }
        snprintf(sub, need, "%s/%s", path, e->d_name);
        rc = run_path(sub);
        free(sub);
    }
    closedir(d);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s file-or-dir...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i]) != 0)
            return 1;
    if (inputs == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replay: %zu inputs, no finding\n", inputs);
    return 0;
}
