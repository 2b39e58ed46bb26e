#!/bin/sh
# Runs a check built with -fsanitize=thread (its command line: "$@"). GCC 12's ThreadSanitizer
# cannot map its shadow memory under a kernel that randomises addresses with 32 bits
# (vm.mmap_rnd_bits, newer kernels): it then stops with "unexpected memory mapping" before the
# check runs. The check is then run again with address randomisation off for it alone (setarch
# -R); where even that is not allowed, it is skipped (status 77), saying why.
out=$("$@" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q "unexpected memory mapping"; then
  out=$(setarch "$(uname -m)" -R "$@" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q -e "unexpected memory mapping" -e "setarch:"; then
    printf '%s\n' "$out"
    echo "SKIPPED: ThreadSanitizer cannot map its memory on this kernel, even with address randomisation off"
    exit 77
  fi
fi
printf '%s\n' "$out"
exit "$rc"
