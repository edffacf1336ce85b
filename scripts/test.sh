#!/usr/bin/env bash
# Runs the whole test suite: installs the Debian tools the tests compare
# against (when root), typechecks, then runs every *.test.ts under tests/
# with Node's test runner (its closing lines report pass/fail counts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node.sh
hash -r
bash scripts/ensure-debian-packages.sh \
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross binutils-riscv64-linux-gnu \
  qemu-system-misc qemu-user qemu-utils opensbi device-tree-compiler e2fsprogs busybox golang-go gcc gdb-multiarch \
  tcpdump chromium fonts-dejavu-core openssh-client
[ -d node_modules ] || npm ci
npx tsc --noEmit
mapfile -t files < <(find tests -name '*.test.ts' | sort)
# --test-force-exit: a test file whose tests are done exits even if a failed
# test left a VM's worker or a socket open, so one failure cannot hang the run.
# --test-concurrency=2: two test files at a time (Node's default on 2 cores is
# one); many files spend their time waiting on a guest, a daemon or a browser,
# and no test asserts on speed, so the suite fits its time budget this way.
exec node --import tsx --test --test-force-exit --test-concurrency=2 --test-reporter=spec "${files[@]}"
