// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// stream.c: credit-based streams, on the public API only.
#include <troupe/flow.h>

#include <string.h>

int
tr_stream_send(tr_ctx *ctx, tr_stream_out *out, uint32_t type, const void *data,
               size_t len)
{
    if (out->credit == 0)
        return TR_EFULL;
    int rc = tr_send(ctx, out->to, type, data, len);
    if (rc == 0)
        out->credit--;
    return rc;
}

bool
tr_stream_credit(tr_stream_out *out, const tr_msg *msg)
{
    uint32_t n;
    if (tr_msg_type(msg) != TR_MSG_CREDIT || tr_msg_size(msg) != sizeof n ||
        !tr_ref_eq(tr_msg_sender(msg), out->to))
        return false;
    memcpy(&n, tr_msg_data(msg), sizeof n);
    out->credit += n;
    return true;
}

int
tr_stream_open(tr_ctx *ctx, tr_stream_in *in, tr_ref from, uint32_t window)
{
    if (window == 0)
        return TR_EINVAL;
    in->from = from;
    in->window = window;
    in->consumed = 0;
    return tr_send(ctx, from, TR_MSG_CREDIT, &window, sizeof window);
}

int
tr_stream_consumed(tr_ctx *ctx, tr_stream_in *in)
{
    // Grant in halves: the sender never waits for a whole window to drain,
    // and in flight never exceeds the window.
    uint32_t half = in->window / 2 ? in->window / 2 : 1;
    if (++in->consumed < half)
        return 0;
    uint32_t n = in->consumed;
    in->consumed = 0;
    return tr_send(ctx, in->from, TR_MSG_CREDIT, &n, sizeof n);
}
