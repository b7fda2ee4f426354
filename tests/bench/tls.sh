#!/usr/bin/env bash
# Makes a throw-away CA and a server certificate it signed, for `stepgate serve` on loopback
# in the fleet-mode benchmarks: DIR/ca.pem (what hosts trust, ca=), DIR/server.pem and
# DIR/server.key ([server] tls_cert / tls_key). ECDSA P-256, valid for two days, for
# 127.0.0.1 and localhost.
#
#   tests/bench/tls.sh DIR
set -euo pipefail
dir=${1:?usage: tls.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=Stepgate bench CA" -keyout ca.key -out ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=critical,CA:FALSE' \
  'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.ext -out server.pem 2>/dev/null
chmod 0644 ca.pem server.pem
rm -f server.csr server.ext ca.srl
