// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// peer.h: the message types cluster-peer (tests/cluster/peer.c) and the
// multi-process tests share.
#ifndef TR_TESTS_CLUSTER_PEER_H
#define TR_TESTS_CLUSTER_PEER_H

enum {
    PEER_ECHO = 1, // to "echo": a request, answered with the same payload
    PEER_ASK,      // to "sink": a request it never answers
    PEER_GOT,      // from "sink" to the requester: your request arrived
};

#endif // TR_TESTS_CLUSTER_PEER_H
