#!/usr/bin/env bash
# Runs the whole test suite: typecheck, then every *.test.ts under tests/
# with Node's test runner (its closing lines report pass/fail counts).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit
mapfile -t files < <(find tests -name '*.test.ts' | sort)
exec node --import tsx --test --test-reporter=spec "${files[@]}"
