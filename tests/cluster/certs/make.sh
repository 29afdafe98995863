#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright 2026 the troupe authors
#
# Makes the test certificates (run once; the PEM files are committed):
# a CA, a node certificate it signs (CN and SAN for 127.0.0.1/localhost),
# and a second, unrelated CA with its own node certificate, for the test
# that a node with a certificate from the wrong CA is refused. Test-only
# keys: never use them for anything else.
set -eu
cd "$(dirname "$0")"
days=36500
mk() { # mk NAME: a CA
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$1-key.pem" -out "$1.pem" -days $days \
        -subj "/CN=troupe test $1" 2>/dev/null
}
node() { # node NAME CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=127.0.0.1" 2>/dev/null
    printf 'subjectAltName=DNS:127.0.0.1,DNS:localhost,IP:127.0.0.1\n' >ext
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" \
        -CAcreateserial -out "$1.pem" -days $days -extfile ext 2>/dev/null
    rm -f "$1.csr" ext "$2.srl"
}
mk ca
node node ca
mk other-ca
node other other-ca
rm -f ca-key.pem other-ca-key.pem
