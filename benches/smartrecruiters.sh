#!/usr/bin/env bash
# Wall time of a full SmartRecruiters run against its simulator with the simulator's limits
# on (10/s, 8 in flight, 1 concurrent GET /candidates) and off, and of the sandbox run.
# The connector's own declared limit (10 requests/s) applies in both live runs.
# Usage: benches/smartrecruiters.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"
cargo build --release --locked -q -p mapper -p mapper-sim
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
on=$(free_port); off=$(free_port)
target/release/mapper-sim smartrecruiters --port "$on" --key bench-key --limits on >/dev/null &
p1=$!
target/release/mapper-sim smartrecruiters --port "$off" --key bench-key --limits off >/dev/null &
p2=$!
trap 'kill $p1 $p2 2>/dev/null || true' EXIT
sleep 0.5
out=$(mktemp -d)
python3 - "$on" "$off" "$runs" "$out" <<'PY'
import json, os, statistics, subprocess, sys, time
on, off, runs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
env = dict(os.environ, SMARTRECRUITERS_API_KEY="bench-key")
def timed(args, tag):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)
spec = "connectors/smartrecruiters.yaml"
t_on = timed(["target/release/mapper", "run", spec, "--base-url", f"http://127.0.0.1:{on}", "--out", f"{out}/on"], "on")
t_off = timed(["target/release/mapper", "run", spec, "--base-url", f"http://127.0.0.1:{off}", "--out", f"{out}/off"], "off")
t_sb = timed(["target/release/mapper", "run", spec, "--sandbox", "--out", f"{out}/sb"], "sandbox")
r_on = json.load(open(f"{out}/on/report.json")); r_off = json.load(open(f"{out}/off/report.json"))
print(f"smartrecruiters full run, simulator limits on:  {t_on:.1f} s ({r_on['requests']} requests, {r_on['retries']} retries)")
print(f"smartrecruiters full run, simulator limits off: {t_off:.1f} s ({r_off['requests']} requests, {r_off['retries']} retries)")
print(f"smartrecruiters sandbox run: {t_sb*1000:.0f} ms")
print("records per model: " + ", ".join(f"{m} {v['written']}" for m, v in r_on["models"].items()))
PY
