// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// A program built against the installed troupe, the way a user's would be.
#include <troupe.h>

#include <stdio.h>

static int
hello_receive(tr_ctx *ctx, const tr_msg *m)
{
    return tr_reply(ctx, m, 2, "hi", 2);
}

static const tr_behavior hello = {.name = "hello", .receive = hello_receive};

int
main(void)
{
    tr_system *sys;
    tr_inbox *ib;
    tr_ref r;
    tr_msg *m;
    if (tr_system_open(&sys, NULL) != 0 || tr_inbox_alloc(&ib, sys) != 0 ||
        tr_system_spawn(&r, sys, &hello, NULL, 0, NULL) != 0 ||
        tr_inbox_send(ib, r, 1, NULL, 0) != 0 ||
        tr_inbox_recv(ib, &m, 5000) != 0)
        return 1;
    printf("consumer: got %.*s\n", (int)tr_msg_size(m),
           (const char *)tr_msg_data(m));
    tr_msg_free(m);
    tr_inbox_free(ib);
    return tr_system_close(sys, 5000, NULL) == 0 ? 0 : 1;
}
