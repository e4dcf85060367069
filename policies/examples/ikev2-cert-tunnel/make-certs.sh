#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Makes this example's test CA and the two gateways' certificates and keys with openssl, in
# this folder (or in the folder given): ca.pem, left.pem + left.key, right.pem + right.key.
# ECDSA P-256; the keys are 0600. For trying the example only: the CA key is thrown away
# unless KEEP_CA_KEY=1 (then ca.key, 0600, beside them: to sign CRLs).
#   [KEEP_CA_KEY=1] sh make-certs.sh [FOLDER]
set -eu
dir=${1:-$(dirname "$0")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/C=DE/O=Example/CN=Example CA" -keyout "$tmp/ca.key" -out "$dir/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
serial=1
for side in left right; do
  serial=$((serial + 1))
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/C=DE/O=Example/CN=$side.example" -keyout "$dir/$side.key" -out "$tmp/$side.csr" \
    2>/dev/null
  printf 'subjectAltName=DNS:%s.example\nkeyUsage=critical,digitalSignature\n' "$side" \
    >"$tmp/$side.ext"
  openssl x509 -req -in "$tmp/$side.csr" -CA "$dir/ca.pem" -CAkey "$tmp/ca.key" \
    -set_serial "$serial" -days 365 -extfile "$tmp/$side.ext" -out "$dir/$side.pem" 2>/dev/null
done
chmod 644 "$dir/ca.pem" "$dir/left.pem" "$dir/right.pem"
if [ "${KEEP_CA_KEY:-0}" = 1 ]; then cp "$tmp/ca.key" "$dir/ca.key" && chmod 600 "$dir/ca.key"; fi
chmod 600 "$dir/left.key" "$dir/right.key"
echo "made ca.pem, left.pem, left.key, right.pem, right.key in $dir"
