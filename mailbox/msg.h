// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// msg.h: the message record. A header (type, sender, request id, deadline)
// and the payload bytes in one allocation. Every header field is a value
// (no pointers), so the same message can later cross a process boundary.
#ifndef TR_MAILBOX_MSG_H
#define TR_MAILBOX_MSG_H

#include "mpsc.h"

#include <troupe.h>

struct tr_msg {
    struct tr__node node; // mailbox link
    uint32_t type;
    uint32_t len;        // payload bytes
    tr_ref from;         // TR_REF_NONE from outside an actor
    uint64_t req_id;     // 0: not part of a request
    int64_t deadline_ns; // absolute, tr_now_ns(); 0: none
    alignas(16) unsigned char data[];
};

// tr__msg_alloc returns a message with room for `len` payload bytes and
// every header field but `len` zeroed, or NULL. Thread: any.
static inline struct tr_msg *
tr__msg_alloc(uint32_t type, size_t len)
{
    struct tr_msg *m = tr__alloc(sizeof *m + len);
    if (m == NULL)
        return NULL;
    m->type = type;
    m->len = (uint32_t)len;
    m->from = TR_REF_NONE;
    m->req_id = 0;
    m->deadline_ns = 0;
    return m;
}

// tr__msg_free frees `m`. Thread: any.
static inline void
tr__msg_free(struct tr_msg *m)
{
    tr__free(m, sizeof *m + m->len);
}

static inline struct tr_msg *
tr__msg_of(struct tr__node *n)
{
    return tr__container_of(n, struct tr_msg, node);
}

#endif // TR_MAILBOX_MSG_H
