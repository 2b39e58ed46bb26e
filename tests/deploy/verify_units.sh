#!/bin/sh
# The systemd units of deploy/systemd, as systemd reads them: copied with the installed
# binaries' paths (/usr/local/bin/...) pointed at the built ones, then `systemd-analyze verify`
# (non-zero on any setting systemd refuses).
#   verify_units.sh SYSTEMD_ANALYZE UNIT_DIR EXOROUTED EXOROUTECTL
set -eu
analyze=$1 units=$2 exorouted=$3 exoroutectl=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$units"/*.service "$units"/*.timer; do
  sed -e "s|/usr/local/bin/exoroutectl|$exoroutectl|g" -e "s|/usr/local/bin/exorouted|$exorouted|g" "$f" > "$tmp/$(basename "$f")"
done
cd "$tmp"
exec "$analyze" verify ./*.service ./*.timer
