#!/usr/bin/env bash
# Wall time of a full-size Gem run against the Gem simulator (release builds, loopback),
# and of the offline sandbox run. Usage: benches/gem.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-9}"
cargo build --release --locked -q -p mapper -p mapper-sim
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/mapper-sim gem --port "$port" --key bench-key >/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
sleep 0.5
out=$(mktemp -d)
python3 - "$port" "$runs" "$out" <<'PY'
import json, os, statistics, subprocess, sys, time
port, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
env = dict(os.environ, GEM_API_KEY="bench-key")
def timed(args):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)
live = timed(["target/release/mapper", "run", "connectors/gem.yaml", "--base-url", f"http://127.0.0.1:{port}", "--out", f"{out}/live"])
sandbox = timed(["target/release/mapper", "run", "connectors/gem.yaml", "--sandbox", "--out", f"{out}/sandbox"])
rep = json.load(open(f"{out}/live/report.json"))
print(f"gem full-size simulator run: median {live[0]*1000:.0f} ms over {runs} runs (min {live[1]*1000:.0f}, max {live[2]*1000:.0f}); {rep['requests']} requests")
print(f"gem sandbox run:             median {sandbox[0]*1000:.0f} ms over {runs} runs (min {sandbox[1]*1000:.0f}, max {sandbox[2]*1000:.0f})")
print("records per model: " + ", ".join(f"{m} {v['written']}" for m, v in rep["models"].items()))
PY
