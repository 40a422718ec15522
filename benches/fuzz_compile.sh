#!/usr/bin/env bash
# Mutation fuzzing of the loader and compiler (not in CI): any bytes in, a diagnostic or a
# plan out, never a panic. Usage: benches/fuzz_compile.sh [SECONDS] [OUT_DIR]
# Crashing inputs are saved as OUT_DIR/crash-<n>.yaml (turn them into tests/fixtures/broken
# files); after an abort (stack overflow) the input is OUT_DIR/current.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-180}"
out="${2:-target/fuzz}"
# a debug build: overflow checks on, so arithmetic overflows show up as panics
cargo build --example fuzz_compile >&2
status=0
target/debug/examples/fuzz_compile "$secs" "$out" || status=$?
if [ "$status" -ne 0 ]; then
  if [ -f "$out/current.yaml" ]; then
    echo "aborted (status $status) on $out/current.yaml" >&2
  fi
  exit 1
fi
