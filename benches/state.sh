#!/usr/bin/env bash
# Wall time and database size of a first and a second (unchanged) full sync of the Gem
# sandbox. Usage: benches/state.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
cargo build --release --locked -q -p mapper
python3 - "$runs" <<'PY'
import os, shutil, statistics, subprocess, sys, tempfile, time
runs = int(sys.argv[1])
def size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith("state.db"))
first, second, s1, s2 = [], [], 0, 0
for _ in range(runs):
    d = tempfile.mkdtemp()
    for times in (first, second):
        t = time.perf_counter()
        subprocess.run(["target/release/mapper", "run", "connectors/gem.yaml", "--sandbox", "--out", d], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        if times is first: s1 = size(d)
        else: s2 = size(d)
    shutil.rmtree(d)
print(f"gem sandbox, first full sync:  median {statistics.median(first)*1000:.0f} ms, state {s1/1e6:.1f} MB")
print(f"gem sandbox, second (unchanged): median {statistics.median(second)*1000:.0f} ms, state {s2/1e6:.1f} MB")
print(f"ratio second/first: {statistics.median(second)/statistics.median(first):.2f}")
PY
