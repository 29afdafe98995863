// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// launcher.h: what launch.c shares with config.c.
#ifndef TR_LAUNCHER_H
#define TR_LAUNCHER_H

#include <troupe/launch.h>

// tr__launch_config returns the launcher's config, for tr_launch_load to
// read and, through tr__launch_set_config, replace. Thread: the
// launcher's.
const tr_launch_config *tr__launch_config(const tr_launch *l);

// tr__launch_set_config replaces the launcher's config with `cfg` after
// checking it as tr_launch_open does. Returns 0, TR_EINVAL or TR_EBUSY.
int tr__launch_set_config(tr_launch *l, const tr_launch_config *cfg);

// tr__launch_has reports whether a child is called `name`.
bool tr__launch_has(const tr_launch *l, const char *name);

// tr__launch_truncate removes the children added after the first `n`
// (tr_launch_load's undo when an add fails). Before start only.
void tr__launch_truncate(tr_launch *l, size_t n);

// tr__launch_count returns how many children were added.
size_t tr__launch_count(const tr_launch *l);

// The defaults of tr_launch_config's backoff (ms).
#define TR__LAUNCH_BACKOFF_MIN 100
#define TR__LAUNCH_BACKOFF_MAX 10000

// tr__launch_name_ok checks a child's name: 1 to TR__LAUNCH_NAME_MAX of
// [A-Za-z0-9_.-].
#define TR__LAUNCH_NAME_MAX 64
bool tr__launch_name_ok(const char *name);

// tr__launch_env_ok checks an environment entry: KEY=VALUE with KEY of
// [A-Za-z_][A-Za-z0-9_]*.
bool tr__launch_env_ok(const char *entry);

#endif // TR_LAUNCHER_H
