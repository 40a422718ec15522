#!/usr/bin/env bash
# Median wall time of `mapper validate` on a connector (default: the example fixture).
# Usage: benches/validate.sh [SPEC] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
spec="${1:-tests/fixtures/example.yaml}"
runs="${2:-31}"
cargo build --release --locked -q
bin=target/release/mapper
"$bin" validate "$spec" >/dev/null
python3 - "$bin" "$spec" "$runs" <<'PY'
import statistics, subprocess, sys, time
bin_, spec, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run([bin_, "validate", spec], check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
print(f"mapper validate {spec}: median {statistics.median(times):.2f} ms over {runs} runs (min {min(times):.2f}, max {max(times):.2f})")
PY
