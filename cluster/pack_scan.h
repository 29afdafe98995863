// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// pack_scan.h: the length check that runs before msgpack-c parses bytes
// from outside (see pack.c).
#ifndef TR_CLUSTER_PACK_SCAN_H
#define TR_CLUSTER_PACK_SCAN_H

#include <stddef.h>

// tr__mp_scan checks that `len` bytes of `data` are a sequence of whole
// MessagePack objects whose containers declare no more items than the
// bytes left could hold, and sets *objects (if not NULL) to the number of
// top-level objects. Returns 0 or TR_EPROTO. Reads only. Thread: any.
int tr__mp_scan(const void *data, size_t len, size_t *objects);

#endif // TR_CLUSTER_PACK_SCAN_H
