//! A mutation fuzzer over the loader and compiler: any bytes in, a diagnostic or a plan
//! out, never a panic. Run by `benches/fuzz_compile.sh` (not in CI).
//!
//! Seeds are the connectors and the test fixtures; each round mutates one (byte flips,
//! deletions, duplications, splices, interesting tokens and numbers) and compiles it. A
//! panicking input is saved to `<out>/crash-<n>.yaml`; the input being compiled is always in
//! `<out>/current.yaml`, so an abort (stack overflow) leaves it behind too.
//!
//! Usage: `cargo run --example fuzz_compile -- [SECONDS] [OUT_DIR]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1e20",
    "1e-300",
    "-0.0",
    ".nan",
    ".inf",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "99999999999999999999999",
    "2.5",
    "null",
    "~",
    "true",
    "{{",
    "}}",
    "{{ record.a | uper }}",
    "{{ x is truthy }}",
    "{{ f() }}",
    "{%",
    "|",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!tag ",
    "\t",
    "\u{feff}",
    "\0",
    ":",
    ": ",
    "- ",
    "---\n",
    "...\n",
    "#",
    "'",
    "\"",
    "\\",
    "$",
    "$[?(@.a",
    "$..",
    "$[*]",
    "((((((((",
    "))))))))",
    "[[[[[[[[",
    "]]]]]]]]",
    "type: any_of\n  options: [ { type: any_of, options: [] } ]",
    "max_attempts: 0",
    "timeout_secs: 1e20",
    "requests_per_second: 1e-300",
    "max_pages: 0",
    "concurrency: 0",
    "size: 0",
    "overlap_secs: 18446744073709551615",
    "for_each: ",
    "from: ",
    "explode: ",
    "records: ",
    "lookup: ",
    "ref: ",
    "each: ",
    "then: ",
    "as: ",
    "model: ",
];

/// Values put in place of a `key: value` line's value.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1e20",
    "1e-300",
    "-1e308",
    "1.7976931348623157e308",
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "4294967296",
    "0.0000001",
    "nan",
    ".nan",
    ".inf",
    "-.inf",
    "~",
    "[]",
    "{}",
    "[[]]",
    "{ type: any_of, options: [ { type: any_of, options: [] } ] }",
    "\"{{ record.a | nope }}\"",
    "\"{{ record.a is nope }}\"",
    "\"{{ nope() }}\"",
    "\"{{ range(99999999999) }}\"",
    "\"$[?(@.a == 1)]\"",
    "\"$..*\"",
    "$",
    "\"\"",
    "\"{{\"",
    "\"}}\"",
    "&x 1",
    "*x",
    "!!binary aGVsbG8=",
    "\"\\u0000\"",
];

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["connectors", "tests/fixtures", "tests/fixtures/broken"] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_file() && p.extension().is_some_and(|x| x == "yaml") {
                if let Ok(b) = std::fs::read(&p) {
                    out.push(b);
                }
            }
        }
    }
    if out.is_empty() {
        out.push(b"name: x\nbase_url: https://x.test\nstreams: {}\n".to_vec());
    }
    out
}

fn mutate(rng: &mut fastrand::Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.usize(1..=4) {
        let len = b.len();
        let at = if len == 0 { 0 } else { rng.usize(0..=len) };
        match rng.u8(0..10) {
            8 | 9 => {
                // replace the value of one `key: value` line with an interesting one
                let starts: Vec<usize> = std::iter::once(0)
                    .chain(
                        b.iter()
                            .enumerate()
                            .filter(|(_, c)| **c == b'\n')
                            .map(|(i, _)| i + 1),
                    )
                    .filter(|&i| i < len)
                    .collect();
                if let Some(&start) = starts.get(rng.usize(0..starts.len().max(1))) {
                    let end = b[start..]
                        .iter()
                        .position(|c| *c == b'\n')
                        .map_or(len, |e| start + e);
                    if let Some(colon) = b[start..end].windows(2).position(|w| w == b": ") {
                        let v = start + colon + 2;
                        let t = VALUES[rng.usize(0..VALUES.len())];
                        b.splice(v..end, t.bytes());
                    }
                }
            }
            0 if len > 0 => {
                let i = rng.usize(0..len);
                b[i] ^= 1 << rng.u8(0..8);
            }
            1 if len > 0 => {
                let end = (at + rng.usize(1..64)).min(len);
                b.drain(at.min(end)..end);
            }
            2 if len > 0 => {
                let start = rng.usize(0..len);
                let end = (start + rng.usize(1..128)).min(len);
                let chunk = b[start..end].to_vec();
                b.splice(at..at, chunk);
            }
            3 => {
                let s = &seeds[rng.usize(0..seeds.len())];
                if !s.is_empty() {
                    let start = rng.usize(0..s.len());
                    let end = (start + rng.usize(1..256)).min(s.len());
                    b.splice(at..at, s[start..end].iter().copied());
                }
            }
            4 | 5 => {
                let t = TOKENS[rng.usize(0..TOKENS.len())];
                b.splice(at..at, t.bytes());
            }
            6 => {
                // replace a number in place with an extreme one
                if let Some(i) = (at..len).find(|&i| b[i].is_ascii_digit()) {
                    let end = (i..len)
                        .find(|&j| !b[j].is_ascii_digit() && b[j] != b'.')
                        .unwrap_or(len);
                    let t = [
                        "0",
                        "-1",
                        "1e20",
                        "1e-300",
                        "18446744073709551615",
                        "99999999999999999999",
                    ][rng.usize(0..6)];
                    b.splice(i..end, t.bytes());
                }
            }
            _ => {
                // repeat a bracket run (deep nesting)
                let c = [b'[', b'{', b'('][rng.usize(0..3)];
                let n = rng.usize(1..2000);
                b.splice(at..at, std::iter::repeat_n(c, n));
            }
        }
    }
    b
}

/// Loads and compiles; `Err` is a clean failure. Panics propagate.
fn compile_bytes(bytes: &[u8]) -> bool {
    match mapper::spec::load_bytes("fuzz.yaml", bytes.to_vec()) {
        Ok((spec, map)) => {
            let ok = mapper::compile::compile(&spec, &map, Path::new("fuzz.yaml")).is_ok();
            // the editor schema and messages are not under test; diagnostics must render
            ok
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(180);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "target/fuzz".into()));
    std::fs::create_dir_all(&out).expect("output folder");
    let seeds = seeds();
    let mut rng = fastrand::Rng::with_seed(
        std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed),
    );
    std::panic::set_hook(Box::new(|_| {})); // panics are reported below, with their input
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut compiled, mut crashes) = (0u64, 0u64, 0u64);
    let mut corpus: Vec<Vec<u8>> = seeds.clone();
    let current = out.join("current.yaml");
    while Instant::now() < deadline {
        let base = &corpus[rng.usize(0..corpus.len())];
        let input = mutate(&mut rng, base, &seeds);
        if input.len() > 1 << 20 {
            continue;
        }
        let _ = std::fs::write(&current, &input);
        runs += 1;
        match std::panic::catch_unwind(|| compile_bytes(&input)) {
            Ok(true) => {
                compiled += 1;
                // inputs that still compile are good bases for more mutations
                if corpus.len() < 5000 {
                    corpus.push(input);
                }
            }
            Ok(false) => {
                if rng.u8(0..20) == 0 && corpus.len() < 5000 {
                    corpus.push(input);
                }
            }
            Err(p) => {
                crashes += 1;
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let path = out.join(format!("crash-{crashes}.yaml"));
                let _ = std::fs::write(&path, &input);
                eprintln!("PANIC ({msg}) on {}", path.display());
            }
        }
    }
    let _ = std::fs::remove_file(&current);
    println!(
        "{runs} inputs in {secs}s: {compiled} compiled, {} refused with diagnostics, {crashes} panics",
        runs - compiled - crashes
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
