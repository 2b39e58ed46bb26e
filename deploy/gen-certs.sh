#!/usr/bin/env bash
# Certificates for an exoroute cluster: one cluster CA and one certificate per node.
#
#   deploy/gen-certs.sh DIR NODE_ID [NODE_ID ...]
#
# Writes DIR/ca.pem + DIR/ca.key (created once, reused on later runs) and, per node,
# DIR/<node>.pem + DIR/<node>.key: ECDSA P-256, valid 825 days, SAN DNS:<node> (the identity
# peers check), DNS:localhost and IP:127.0.0.1, usable as TLS server and client (mutual TLS).
# Keys are mode 0600. An existing node certificate is kept; delete it to re-issue (rotation:
# docs/cluster.md).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 DIR NODE_ID [NODE_ID ...]" >&2
  exit 2
fi
dir=$1
shift
mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 825 -subj "/CN=exoroute cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi
for node in "$@"; do
  if ! [[ $node =~ ^[A-Za-z0-9._-]{1,32}$ ]]; then
    echo "$0: node id '$node' must match [A-Za-z0-9._-]{1,32}" >&2
    exit 2
  fi
  [ -f "$dir/$node.pem" ] && continue
  ext=$(mktemp)
  cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$node,DNS:localhost,IP:127.0.0.1
EXT
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$dir/$node.key" -out "$dir/$node.csr" -subj "/CN=$node" 2>/dev/null
  openssl x509 -req -in "$dir/$node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/$node.pem" -days 825 -extfile "$ext" 2>/dev/null
  rm -f "$dir/$node.csr" "$ext"
  chmod 0644 "$dir/$node.pem"
done
chmod 0644 "$dir/ca.pem"
echo "cluster certificates in $dir: CA ca.pem, nodes: $*"
