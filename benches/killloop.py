#!/usr/bin/env python3
"""Kill loop for the sync state's atomicity (see README "Sync state": a run killed at any
moment leaves the previous consistent state).

  1. mutable_server.py serves dataset A (N records) and dataset B (some dropped, some edited,
     a few added); mapper runs once against A: that out dir (state.db + NDJSON) is "before".
  2. "after" = one uninterrupted run against B on a copy of "before" (its wall time is T).
  3. K times: restore "before", run mapper against B, SIGKILL it at a uniformly random moment
     in [0, SLACK x T] (a few land after the run ended), then on a copy of the out dir check
     PRAGMA integrity_check == ok and that the logical state, the sorted list of
     (model, id, hash, remote_deleted_at IS NOT NULL) from `records`, equals "before" or
     "after"; every <model>.ndjson present must parse line by line (its content is compared
     with before/after too, ignoring changed_at/remote_deleted_at: reported, not fatal).
     --rerun also reruns mapper on the killed state to completion and expects "after".
Exit status 1 if any state is inconsistent (or a check fails), 2 on setup errors.

usage: killloop.py --mapper BIN [--records 20000] [--kills 25] [--seed S] [--slack 1.1]
                   [--work DIR] [--spec benches/bench.yaml] [--rerun]
                   [--drop-every 50] [--edit-every 20] [--add 50]
Python 3 standard library only (sqlite3).
"""
import argparse, json, os, random, shutil, signal, socket, sqlite3, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                             formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
ap.add_argument("--mapper", default=os.environ.get("MAPPER"), help="mapper binary (env MAPPER)")
ap.add_argument("--records", type=int, default=int(os.environ.get("RECORDS", 20000)))
ap.add_argument("--kills", type=int, default=int(os.environ.get("KILLS", 25)))
ap.add_argument("--seed", type=int, default=None, help="random seed (printed; default from time)")
ap.add_argument("--slack", type=float, default=1.1, help="kill window = [0, SLACK x reference wall]")
ap.add_argument("--work", default=os.environ.get("KILL_WORK"), help="scratch dir (default mktemp)")
ap.add_argument("--spec", default=os.path.join(HERE, "bench.yaml"))
ap.add_argument("--state-file", default="state.db", help="state database name inside the out dir")
ap.add_argument("--rerun", action="store_true", help="after each check, rerun to completion and expect 'after'")
ap.add_argument("--drop-every", type=int, default=50)
ap.add_argument("--edit-every", type=int, default=20)
ap.add_argument("--add", type=int, default=50)
a = ap.parse_args()
def die(msg):
    print(msg, file=sys.stderr); sys.exit(2)


seed = a.seed if a.seed is not None else int(time.time() * 1000) % 1_000_000
rng = random.Random(seed)
if not a.mapper or not os.access(a.mapper, os.X_OK):
    die(f"killloop: no executable mapper binary (--mapper / MAPPER): {a.mapper!r}")
work = a.work or tempfile.mkdtemp(prefix="mapper-killloop.")
os.makedirs(work, exist_ok=True)
log = open(os.path.join(work, "mapper.log"), "ab")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def start_server(extra):
    port = free_port()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "mutable_server.py"), str(port), str(a.records)]
                         + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError("mutable_server.py exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return p, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    p.kill(); raise RuntimeError("mutable_server.py did not start")


def mapper_cmd(url, out):
    return [a.mapper, "run", a.spec, "--base-url", url, "--out", out]


def run_to_end(url, out):
    t = time.perf_counter()
    rc = subprocess.run(mapper_cmd(url, out), stdout=log, stderr=log).returncode
    return rc, time.perf_counter() - t


def copy(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)


def logical_state(d):
    """(integrity result, sorted rows) of the state db in out dir d; opens it as is (recovers a WAL)."""
    path = os.path.join(d, a.state_file)
    if not os.path.exists(path):
        return "missing state db", None
    con = sqlite3.connect(path)
    try:
        ic = [r[0] for r in con.execute("PRAGMA integrity_check")]
        rows = con.execute("SELECT model, id, hash, remote_deleted_at IS NOT NULL FROM records").fetchall()
    except sqlite3.Error as e:
        return f"sqlite error: {e}", None
    finally:
        con.close()
    return ("ok" if ic == ["ok"] else "; ".join(map(str, ic))[:300]), sorted(rows, key=repr)


def logical_ndjson(d):
    """{model: sorted lines minus run timestamps} for every <model>.ndjson in d; raises on a bad line."""
    res = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".ndjson"):
            continue
        items = []
        with open(os.path.join(d, f), "rb") as fh:
            for no, line in enumerate(fh, 1):
                try:
                    r = json.loads(line)
                except ValueError as e:
                    raise ValueError(f"{f}:{no}: {e}") from None
                deleted = r.pop("remote_deleted_at", None) is not None
                r.pop("changed_at", None)
                items.append((r.get("id"), deleted, json.dumps(r, sort_keys=True)))
        res[f[:-len(".ndjson")]] = sorted(items)
    return res


def classify(x, before, after):
    return "before" if x == before else "after" if x == after else "other"


procs = []
try:
    srv_a, url_a = start_server([])
    procs.append(srv_a)
    srv_b, url_b = start_server(["--changed", "--drop-every", str(a.drop_every),
                                 "--edit-every", str(a.edit_every), "--add", str(a.add)])
    procs.append(srv_b)
    print(f"killloop: mapper={a.mapper} records={a.records} kills={a.kills} seed={seed} work={work}", flush=True)

    base = os.path.join(work, "before")
    shutil.rmtree(base, ignore_errors=True)
    rc, t_a = run_to_end(url_a, base)
    if rc != 0:
        die(f"killloop: run against dataset A failed (rc={rc}); see {log.name}")
    ref = os.path.join(work, "after")
    copy(base, ref)
    rc, t_ref = run_to_end(url_b, ref)
    if rc != 0:
        die(f"killloop: reference run against dataset B failed (rc={rc}); see {log.name}")
    snap = os.path.join(work, "check")
    copy(base, snap); ic_b, before = logical_state(snap); nd_before = logical_ndjson(snap)
    copy(ref, snap); ic_r, after = logical_state(snap); nd_after = logical_ndjson(snap)
    if ic_b != "ok" or ic_r != "ok" or before is None or after is None:
        die(f"killloop: reference states not ok: before={ic_b} after={ic_r}")
    if before == after:
        die("killloop: before and after states are identical; the change is not visible")
    bk, ak = {(r[0], r[1]): r for r in before}, {(r[0], r[1]): r for r in after}
    print(f"before: {len(before)} rows ({sum(r[3] for r in before)} deleted), run A {t_a:.2f}s; "
          f"after: {len(after)} rows ({sum(r[3] for r in after)} deleted), "
          f"{sum(1 for k in ak if k not in bk)} new, "
          f"{sum(1 for k in ak if k in bk and ak[k][2] != bk[k][2])} hash changed; reference run B {t_ref:.2f}s", flush=True)

    run = os.path.join(work, "run")
    window = a.slack * t_ref
    trials, failures = [], 0
    for k in range(a.kills):
        copy(base, run)
        at = rng.uniform(0, window)
        t0 = time.monotonic()
        p = subprocess.Popen(mapper_cmd(url_b, run), stdout=log, stderr=log)
        while True:
            left = at - (time.monotonic() - t0)
            if left <= 0 or p.poll() is not None:
                break
            time.sleep(min(left, 0.005))
        killed = p.poll() is None
        if killed:
            os.kill(p.pid, signal.SIGKILL)
        rc = p.wait()
        elapsed = time.monotonic() - t0
        copy(run, snap)                      # check a copy: opening the db may recover/checkpoint it
        ic, rows = logical_state(snap)
        state = classify(rows, before, after) if rows is not None else "unreadable"
        try:
            nd = classify(logical_ndjson(snap), nd_before, nd_after); nd_ok = True
        except (ValueError, OSError) as e:
            nd, nd_ok = f"unparsable ({e})", False
        leftovers = sorted(f for f in os.listdir(snap) if f.endswith(".partial"))
        bad = ic != "ok" or state not in ("before", "after") or not nd_ok or (not killed and (rc != 0 or state != "after"))
        rerun = ""
        if a.rerun:
            rrc, _ = run_to_end(url_b, run)
            copy(run, snap); ric, rrows = logical_state(snap)
            rerun = "after" if rrc == 0 and ric == "ok" and rrows == after else f"BAD(rc={rrc},{ric},{classify(rrows, before, after)})"
            bad = bad or rerun != "after"
        if bad:
            failures += 1
            copy(run, os.path.join(work, f"fail-{k:03d}"))
        trials.append(dict(k=k, at=at, frac=at / t_ref, killed=killed, rc=rc, elapsed=elapsed, integrity=ic,
                           state=state, ndjson=nd, partial=leftovers, rerun=rerun, bad=bad))
        print(f"kill {k+1:3d}/{a.kills} at {at:6.2f}s ({at/t_ref:4.2f}xT) "
              f"{'killed      ' if killed else f'ended rc={rc:<3d} '} integrity={ic} state={state:6s} ndjson={nd}"
              f"{' partial=' + ','.join(leftovers) if leftovers else ''}{' rerun=' + rerun if rerun else ''}"
              f"{'  !! INCONSISTENT (kept in fail-%03d)' % k if bad else ''}", flush=True)

    kd = [t for t in trials if t["killed"]]
    print("\nsummary")
    print(f"  reference wall T = {t_ref:.2f}s, kill window [0, {window:.2f}s], seed {seed}")
    print(f"  kills: {len(trials)}  landed before the run ended: {len(kd)}  after it ended: {len(trials) - len(kd)}")
    for label, sub in (("killed", kd), ("ended", [t for t in trials if not t["killed"]])):
        c = {}
        for t in sub:
            c[t["state"]] = c.get(t["state"], 0) + 1
        if sub:
            print(f"  {label:7s} state: " + ", ".join(f"{v} {k}" for k, v in sorted(c.items())))
    c = {}
    for t in trials:
        c[t["state"]] = c.get(t["state"], 0) + 1
    print(f"  states: before {c.get('before', 0)}, after {c.get('after', 0)}, "
          f"inconsistent {len(trials) - c.get('before', 0) - c.get('after', 0)}; integrity not ok: "
          f"{sum(1 for t in trials if t['integrity'] != 'ok')}; ndjson unparsable: {sum(1 for t in trials if t['ndjson'].startswith('unparsable'))}")
    pairs = {}
    for t in trials:
        pairs[(t["state"], t["ndjson"][:10])] = pairs.get((t["state"], t["ndjson"][:10]), 0) + 1
    print("  (state, ndjson) pairs: " + ", ".join(f"{s}/{n}: {v}" for (s, n), v in sorted(pairs.items())))
    if kd:
        fr = sorted((t["frac"], t["state"]) for t in kd)
        lb = [f for f, s in fr if s == "before"]; la = [f for f, s in fr if s == "after"]
        if lb: print(f"  killed -> before: at {min(lb):.2f}..{max(lb):.2f} x T")
        if la: print(f"  killed -> after:  at {min(la):.2f}..{max(la):.2f} x T")
    if a.rerun:
        print(f"  reruns ending in 'after': {sum(1 for t in trials if t['rerun'] == 'after')}/{len(trials)}")
    json.dump(dict(seed=seed, t_ref=t_ref, records=a.records, trials=trials), open(os.path.join(work, "killloop.json"), "w"), indent=1)
    print(f"  failures: {failures}  (details: {os.path.join(work, 'killloop.json')}, mapper output: {log.name})")
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try: p.wait(10)
            except subprocess.TimeoutExpired: p.kill(); p.wait()
sys.exit(1 if failures else 0)
