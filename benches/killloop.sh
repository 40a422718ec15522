#!/usr/bin/env bash
# Kill loop for the sync state's atomicity: SIGKILLs `mapper run` at random moments of a sync
# that drops, edits and adds records, and checks that state.db passes integrity_check and is
# logically either the state before the run or the state after an uninterrupted run, and
# that every <model>.ndjson parses. Exits non-zero if any state is inconsistent.
#
# Usage: benches/killloop.sh [--mapper BIN] [killloop.py options]
#   --mapper BIN     use this binary (env MAPPER); otherwise builds it with
#                    `cargo build --release --locked -p mapper` in the repository root
#   --records N      records in dataset A (env RECORDS, default 20000)
#   --kills K        kills (env KILLS, default 25)
#   --seed S  --slack 1.1  --work DIR (env KILL_WORK)  --rerun  --drop-every/--edit-every/--add
#   --help           all options (benches/killloop.py --help)
# Example: MAPPER=target/release/mapper benches/killloop.sh --kills 8 --records 20000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
mapper="${MAPPER:-}"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mapper) mapper="$2"; shift 2 ;;
    --mapper=*) mapper="${1#--mapper=}"; shift ;;
    -h|--help) exec python3 "$here/killloop.py" --help ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$mapper" ]; then
  (cd "$repo" && cargo build --release --locked -p mapper)
  mapper="${CARGO_TARGET_DIR:-$repo/target}/release/mapper"
fi
exec python3 "$here/killloop.py" --mapper "$mapper" ${args[@]+"${args[@]}"}
