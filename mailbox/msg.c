// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "msg.h"

uint32_t
tr_msg_type(const tr_msg *m)
{
    return m->type;
}

const void *
tr_msg_data(const tr_msg *m)
{
    return m->len ? m->data : NULL;
}

size_t
tr_msg_size(const tr_msg *m)
{
    return m->len;
}

tr_ref
tr_msg_sender(const tr_msg *m)
{
    return m->from;
}
