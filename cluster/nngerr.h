// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// nngerr.h: nng's error codes as troupe's, in one place (STYLE.md: each
// foreign code set is converted once). For the layers that call nng.
#ifndef TR_CLUSTER_NNGERR_H
#define TR_CLUSTER_NNGERR_H

#include <troupe.h>

#include <nng/nng.h>

// tr__nng_err maps an nng result (0 or a positive NNG_E*) to 0 or a
// TR_E* code; what has no better match is TR_ESYS. Thread: any.
static inline int
tr__nng_err(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case NNG_ENOMEM:
        return TR_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
        return TR_EINVAL;
    case NNG_ETIMEDOUT:
        return TR_ETIMEDOUT;
    case NNG_ECLOSED:
        return TR_ECLOSED;
    default:
        return TR_ESYS;
    }
}

#endif // TR_CLUSTER_NNGERR_H
