#!/usr/bin/env bash
# Side-by-side throughput of mapper vs airbyte-cdk vs the serde_json floor (P1), then mapper's
# cost per record, peak RSS and state size (P4), using the read-only harness in
# ../shared/bench (beside this repository), and a compact summary table at the end.
#
# Usage: benches/compare.sh [options]
#   --sizes LIST       P1 sizes, comma separated          (env SIZES,     default 50000,200000)
#   --runs N           P1 rounds                           (env RUNS,      default 3)
#   --only LIST        P1 configurations only, e.g. mapper,floor,airbyte_notx   (env P1_ONLY)
#   --p4-sizes LIST    P4 sizes                            (env P4_SIZES,  default 10000,100000,1000000)
#   --p4-second LIST   P4 sizes that get a second, unchanged run (env P4_SECOND, default 100000)
#   --p4-runs N        P4 rounds                           (env P4_RUNS,   default: --runs)
#   --p4-spec FILE     connector for P4 (env P4_SPEC, default the harness's mapper_bench.yaml)
#   --work DIR         work dir: venv, floor build, results (env BENCH_WORK, default a mktemp dir)
#   --mapper BIN       use this mapper binary, do not build (env MAPPER)
#   --skip-p1 | --skip-p4
#   --bench-dir DIR    the harness folder (env BENCH_DIR, default $(dirname "$0")/../../shared/bench)
# Without --mapper it runs `cargo build --release --locked -p mapper` in the repository root.
# The venv (airbyte-cdk, via setup-airbyte.sh) and the floor are set up in the work dir if
# missing, so reusing a BENCH_WORK skips that. Results: $BENCH_WORK/p1, $BENCH_WORK/p4.
# Example: BENCH_WORK=~/bench benches/compare.sh --sizes 50000 --runs 1 --skip-p4
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bench="${BENCH_DIR:-$here/../../shared/bench}"
sizes="${SIZES:-50000,200000}"
runs="${RUNS:-3}"
only="${P1_ONLY:-}"
p4_sizes="${P4_SIZES:-10000,100000,1000000}"
p4_second="${P4_SECOND:-100000}"
p4_runs="${P4_RUNS:-}"
p4_spec="${P4_SPEC:-}"
work="${BENCH_WORK:-}"
mapper="${MAPPER:-}"
do_p1=1 do_p4=1
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --p4-sizes) p4_sizes="$2"; shift 2 ;;
    --p4-second) p4_second="$2"; shift 2 ;;
    --p4-runs) p4_runs="$2"; shift 2 ;;
    --p4-spec) p4_spec="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --mapper) mapper="$2"; shift 2 ;;
    --bench-dir) bench="$2"; shift 2 ;;
    --skip-p1) do_p1=0; shift ;;
    --skip-p4) do_p4=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
p4_runs="${p4_runs:-$runs}"
[ -f "$bench/bench_p1.py" ] || { echo "harness not found at $bench (set BENCH_DIR or --bench-dir)" >&2; exit 2; }
bench="$(cd "$bench" && pwd)"
[ -n "$work" ] || work="$(mktemp -d "${TMPDIR:-/tmp}/mapper-compare.XXXXXX")"
mkdir -p "$work"; work="$(cd "$work" && pwd)"
echo "harness: $bench"; echo "work:    $work"

# (a) mapper
if [ -z "$mapper" ]; then
  (cd "$repo" && cargo build --release --locked -p mapper)
  mapper="${CARGO_TARGET_DIR:-$repo/target}/release/mapper"
fi
[ -x "$mapper" ] || { echo "no mapper binary at $mapper" >&2; exit 2; }
mapper="$(cd "$(dirname "$mapper")" && pwd)/$(basename "$mapper")"
echo "mapper:  $mapper"

# (b) venv and floor, only if missing
venv="$work/venv"
floor="$work/floor-target/release/floor"
if [ "$do_p1" = 1 ]; then
  if [ ! -x "$venv/bin/source-declarative-manifest" ]; then
    echo "setting up airbyte-cdk in $venv (a few minutes)"
    "$bench/setup-airbyte.sh" "$venv"
  fi
  if [ ! -x "$floor" ]; then
    echo "building the floor"
    rm -rf "$work/floor-src"; cp -R "$bench/floor" "$work/floor-src"; chmod -R u+w "$work/floor-src"
    cargo build --release --locked --manifest-path "$work/floor-src/Cargo.toml" --target-dir "$work/floor-target"
  fi
fi

# (c) P1 throughput
if [ "$do_p1" = 1 ]; then
  p1_args=(--mapper "$mapper" --venv "$venv" --floor "$floor" --sizes "$sizes" --runs "$runs" --work "$work/p1")
  [ -n "$only" ] && p1_args+=(--only "$only")
  python3 "$bench/bench_p1.py" "${p1_args[@]}"
  python3 "$bench/analyze_p1.py" "$work/p1/p1_results.json"
fi

# (d) P4 cost per record, peak RSS, state size, second unchanged run
if [ "$do_p4" = 1 ]; then
  p4_args=(--mapper "$mapper" --sizes "$p4_sizes" --second "$p4_second" --runs "$p4_runs" --work "$work/p4")
  [ -n "$p4_spec" ] && p4_args+=(--spec "$(cd "$(dirname "$p4_spec")" && pwd)/$(basename "$p4_spec")")
  python3 "$bench/bench_p4.py" "${p4_args[@]}"
fi

# summary
python3 - "$bench" "$work" "$do_p1" "$do_p4" <<'PY'
import json, os, statistics as st, sys, urllib.request
bench, work, do_p1, do_p4 = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
sys.path.insert(0, bench)
from benchlib import start_server, stop
med = st.median

def raw_record_bytes(n=10000):
    """Average bytes per record of the `content` array as server.py serves it (every page)."""
    srv, port = start_server(n)
    try:
        tot = cnt = 0; page = None
        while True:
            q = "/candidates?limit=100" + (f"&pageId={page}" if page else "")
            body = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}{q}", timeout=30).read())
            for r in body["content"]:
                tot += len(json.dumps(r).encode()); cnt += 1   # server.py's own json.dumps form
            page = body.get("nextPageId")
            if not page: break
        return tot / cnt
    finally:
        stop(srv)

print("\n================ summary ================")
p1f = os.path.join(work, "p1", "p1_results.json")
if do_p1 and os.path.exists(p1f):
    res = json.load(open(p1f))
    print(f"P1 throughput (median over runs; rec/s by wall and by CPU time)")
    print(f"{'size':>8} {'configuration':16} {'runs':>4} {'wall rec/s':>10} {'cpu rec/s':>10} {'RSS MB':>7} {'vs floor':>8} {'vs ab_notx':>10}")
    for size, per in res.items():
        n = int(size)
        w = {k: med(x["rec_s"] for x in v) for k, v in per.items()}
        for k, v in per.items():
            c = med(n / (x["user"] + x["sys"]) for x in v)
            fl = f"{w[k]/w['floor']:.3f}" if "floor" in w else "-"
            ab = f"{w[k]/w['airbyte_notx']:.2f}" if "airbyte_notx" in w else "-"
            print(f"{n:8d} {k:16} {len(v):4d} {w[k]:10.0f} {c:10.0f} {med(x['maxrss_mb'] for x in v):7.0f} {fl:>8} {ab:>10}")
p4f = os.path.join(work, "p4", "p4_results.json")
if do_p4 and os.path.exists(p4f):
    res = json.load(open(p4f))
    raw = raw_record_bytes()
    print(f"\nP4 mapper scaling (median over runs); raw record = {raw:.0f} B (server.py content[] item, avg over a 10k dataset)")
    print(f"{'size':>8} {'run':6} {'runs':>4} {'wall s':>8} {'rec/s':>8} {'cpu us/rec':>10} {'RSS MB':>7} {'state B/rec':>11} {'state/raw':>9} {'ndjson B/rec':>12} {'unch/first':>10}")
    for key, v in res.items():
        size, kind = key.split("/"); n = int(size)
        wall = med(x["wall"] for x in v)
        ratio = "-"
        if kind == "second" and f"{size}/first" in res:
            ratio = f"{wall / med(x['wall'] for x in res[f'{size}/first']):.2f}"
        sb = med(x["state_bytes"] for x in v) / n
        bad = sum(1 for x in v if x.get("status") != "success" or x.get("rc") != 0)
        print(f"{n:8d} {kind:6} {len(v):4d} {wall:8.2f} {n/wall:8.0f} {med((x['user']+x['sys'])/n*1e6 for x in v):10.1f} "
              f"{med(x['maxrss_mb'] for x in v):7.1f} {sb:11.0f} {sb/raw:9.2f} {med(x['ndjson_bytes'] for x in v)/n:12.0f} {ratio:>10}"
              + (f"  !! {bad} run(s) not success" if bad else ""))
print(f"\nresults: {work}")
PY
