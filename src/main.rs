//! The `mapper` command line: `run`, `check`, `describe`, `validate`, `new`, `coverage`,
//! `schema` and `completions`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mapper::compile::{self, CompileError};
use mapper::run::{self, RunError, RunOptions, output::Status};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: records are allocated by the stream tasks and freed by the state writer's
/// thread, which glibc's allocator handles poorly (a third of a run's time in profiles).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes (documented in the README).
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_INVALID_RECORDS: u8 = 2;
const EXIT_SPEC: u8 = 3;
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Parser)]
#[command(
    name = "mapper",
    version,
    about = "Turns vendor ATS APIs into one unified data model, driven by declarative connector files."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output: -v info, -vv debug (RUST_LOG, when set, decides instead).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a connector and writes <out>/<model>.ndjson and <out>/report.json.
    Run(RunArgs),
    /// Makes one cheap request per auth alternative: are the credentials (and the host) right?
    Check(CheckArgs),
    /// Prints a connector's inputs, auth, streams (requests, pagination, dependencies) and
    /// models with the fields each maps.
    Describe {
        /// The connector file.
        spec: PathBuf,
        /// Stable JSON (`describe_version` 1) for other tools.
        #[arg(long)]
        json: bool,
    },
    /// Writes a commented connector skeleton that validates: connectors/<NAME>.yaml.
    New {
        /// Connector name (`[a-z0-9_]+`).
        name: String,
        /// Where to write it (default: connectors/<NAME>.yaml, or ./<NAME>.yaml without a
        /// connectors folder).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Compiles connectors and prints every problem with file:line:column.
    Validate {
        /// Connector files.
        #[arg(required = true)]
        specs: Vec<PathBuf>,
    },
    /// Writes coverage docs: a page per connector and a models × connectors matrix.
    Coverage {
        /// Connector files (default: every connectors/*.yaml).
        specs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = "docs/coverage")]
        out: PathBuf,
        /// A run's output folder: adds the share of records where each field has a value.
        #[arg(long, value_name = "OUT_DIR")]
        observed: Vec<PathBuf>,
    },
    /// Writes the editor schema of connector files (for yaml-language-server).
    Schema {
        /// Where to write it.
        #[arg(long, default_value = "schemas/connector.schema.json")]
        out: PathBuf,
    },
    /// Prints a shell completion script, e.g. `mapper completions bash > /etc/bash_completion.d/mapper`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The connector file, e.g. connectors/acme.yaml.
    spec: PathBuf,
    /// Replaces the scheme, host and port of the request.
    #[arg(long)]
    base_url: Option<String>,
    /// Input values per integration from a TOML or YAML file (the environment wins).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Which integration's values of --config to use.
    #[arg(long, default_value = "default")]
    integration: String,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The connector file, e.g. connectors/acme.yaml.
    spec: PathBuf,
    /// Replaces the scheme, host and port of every request (paths stay the vendor's).
    #[arg(long)]
    base_url: Option<String>,
    /// Output folder (default: out/<connector name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only these models, comma-separated (and the streams they need).
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Replays the connector's bundled sample data: no credentials, no network.
    #[arg(long)]
    sandbox: bool,
    /// Namespace of ids (two tenants of one vendor never share ids).
    #[arg(long, default_value = "default")]
    integration: String,
    /// Records every HTTP exchange into this cassette file (for sandbox data and tests).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// The sync state database (default: <out>/state.db).
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// Asks only for what changed since the last successful sync (streams that declare a
    /// delta filter); upserts, never deletes. A full sync is the default.
    #[arg(long)]
    delta: bool,
    /// At most N records per stream, and only the requests they need (a development run:
    /// nothing is marked deleted, no stream counts as synced).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Logs every request: method, redacted URL, status, duration, records in the page and
    /// what comes next (also `RUST_LOG=mapper::http=debug`).
    #[arg(long)]
    show_http: bool,
    /// Runs on a copy of the sync state: output files as usual, but the state is not
    /// changed, nothing is marked deleted and no stream counts as synced.
    #[arg(long)]
    dry_run: bool,
    /// Input values per integration from a TOML or YAML file (`[<integration>]` tables of
    /// `<input name> = value`); an environment variable that is set wins.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// stderr for log lines: each line is written with the progress bars hidden, so logs appear
/// above the bars instead of breaking them.
struct AboveBars;

impl std::io::Write for AboveBars {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        mapper::run::progress::suspend(|| std::io::stderr().write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn main() -> ExitCode {
    // usage errors exit 3 (the README keeps 2 for runs with invalid records); help and
    // version are no errors
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_SPEC } else { EXIT_OK });
        }
    };
    let mut level = match (cli.quiet, cli.verbose) {
        (true, _) => "error".to_owned(),
        (false, 0) => "warn".to_owned(),
        (false, 1) => "warn,mapper=info".to_owned(),
        (false, _) => "warn,mapper=debug".to_owned(),
    };
    if let Command::Run(a) = &cli.command
        && a.show_http
    {
        level.push_str(",mapper::http=debug");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(|| AboveBars)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Validate { specs } => validate(&specs),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "mapper", &mut std::io::stdout());
            ExitCode::from(EXIT_OK)
        }
        Command::Coverage {
            specs,
            out,
            observed,
        } => coverage(specs, &out, &observed),
        Command::Schema { out } => match write_schema(&out) {
            Ok(()) => {
                println!("wrote {}", out.display());
                ExitCode::from(EXIT_OK)
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(EXIT_FAILED)
            }
        },
        Command::Run(args) => run_cmd(args),
        Command::Check(args) => check_cmd(args),
        Command::Describe { spec, json } => describe_cmd(&spec, json),
        Command::New { name, out } => new_cmd(&name, out),
    }
}

fn validate(specs: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for s in specs {
        match compile::compile_file(s) {
            Ok(plan) => println!(
                "{}: ok ({} streams, {} models)",
                s.display(),
                plan.streams.len(),
                plan.models.len()
            ),
            Err(e) => {
                failed = true;
                for d in e.diagnostics() {
                    eprintln!("{d}");
                }
            }
        }
    }
    ExitCode::from(if failed { EXIT_SPEC } else { EXIT_OK })
}

fn coverage(specs: Vec<PathBuf>, out: &Path, observed: &[PathBuf]) -> ExitCode {
    let specs = if specs.is_empty() {
        let mut found: Vec<PathBuf> = std::fs::read_dir("connectors")
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    } else {
        specs
    };
    if specs.is_empty() {
        eprintln!("error: no connector files (give some, or run where connectors/*.yaml exist)");
        return ExitCode::from(EXIT_SPEC);
    }
    let mut all = Vec::new();
    for s in &specs {
        match compile::compile_file(s) {
            Ok(plan) => all.push(mapper::coverage::of(&plan, &s.display().to_string())),
            Err(e) => {
                report_compile_error(&e);
                return ExitCode::from(EXIT_SPEC);
            }
        }
    }
    let mut obs = Vec::new();
    for d in observed {
        match mapper::coverage::observe(d) {
            Ok(o) => obs.push(o),
            Err(e) => {
                eprintln!("error: --observed {}: {e}", d.display());
                return ExitCode::from(EXIT_SPEC);
            }
        }
    }
    let write = || -> anyhow::Result<()> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for c in &all {
            let o = obs.iter().find(|o| o.connector == c.name);
            let path = out.join(format!("{}.md", c.name));
            std::fs::write(&path, mapper::coverage::connector_page(c, o))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        std::fs::write(out.join("README.md"), mapper::coverage::index_page(&all))
            .context("writing README.md")?;
        std::fs::write(
            out.join("index.html"),
            mapper::coverage::index_html(&all, &obs),
        )
        .context("writing index.html")?;
        Ok(())
    };
    match write() {
        Ok(()) => {
            println!(
                "wrote coverage of {} connector(s) to {}",
                all.len(),
                out.display()
            );
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// `--out`: a folder (created if missing) that this user may write to.
fn check_out_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "--out {}: that is a file, not a folder",
            dir.display()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Err(match e.kind() {
            std::io::ErrorKind::PermissionDenied => format!(
                "--out {}: no permission to create that folder",
                dir.display()
            ),
            _ => format!("--out {}: cannot create that folder: {e}", dir.display()),
        });
    }
    let probe = dir.join(".mapper-write-check");
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
            "--out {}: no permission to write in that folder",
            dir.display()
        )),
        Err(e) => Err(format!("--out {}: cannot write there: {e}", dir.display())),
    }
}

/// `--base-url`: an absolute http(s) URL with a host; anything else is a usage error now,
/// not a transport error retried later.
fn parse_base_url_flag(b: &str) -> Result<url::Url, String> {
    let hint = |e: &str| {
        if !b.contains("://") {
            format!("--base-url {b}: {e}; did you mean http://{b} ?")
        } else {
            format!("--base-url {b}: {e}")
        }
    };
    match url::Url::parse(b) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(u),
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Err(hint("the URL has no host")),
        Ok(u) if !b.contains("://") => Err(hint(&format!("`{}` is not a scheme", u.scheme()))),
        Ok(u) => Err(format!(
            "--base-url {b}: the scheme must be http or https, not {}",
            u.scheme()
        )),
        Err(e) => Err(hint(&e.to_string())),
    }
}

fn write_schema(out: &Path) -> anyhow::Result<()> {
    let text = mapper::spec::editor_schema();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

fn run_cmd(args: RunArgs) -> ExitCode {
    let RunArgs {
        spec,
        base_url,
        out,
        models,
        sandbox,
        integration,
        record,
        state,
        delta,
        limit,
        show_http: _,
        dry_run,
        config,
    } = args;
    let plan = match compile::compile_file(&spec) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            report_compile_error(&e);
            return ExitCode::from(EXIT_SPEC);
        }
    };
    let base_url = match base_url.as_deref().map(parse_base_url_flag).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_SPEC);
        }
    };
    let config = match load_config(config.as_deref(), &plan, &integration) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_SPEC);
        }
    };
    if sandbox && delta {
        eprintln!(
            "error: --delta asks the vendor for what changed since the last sync; a --sandbox cassette holds one recorded full sync, so the two cannot be combined"
        );
        return ExitCode::from(EXIT_SPEC);
    }
    if sandbox && record.is_some() {
        eprintln!(
            "error: --record records network exchanges; it cannot be combined with --sandbox"
        );
        return ExitCode::from(EXIT_SPEC);
    }
    // each integration gets its own default folder: tenants never replace each other's files
    let default_out = match integration.as_str() {
        "default" => PathBuf::from("out").join(&plan.name),
        i => PathBuf::from("out").join(&plan.name).join(i),
    };
    let out_dir = out.unwrap_or(default_out);
    if let Err(e) = check_out_dir(&out_dir) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_SPEC);
    }
    let mut opts = RunOptions::new(out_dir);
    opts.base_url = base_url;
    opts.models = models;
    opts.sandbox = sandbox;
    opts.integration = integration;
    opts.record = record;
    opts.state = state;
    opts.delta = delta;
    opts.limit = limit;
    opts.dry_run = dry_run;
    opts.config = config;
    opts.progress = std::io::stderr().is_terminal();
    let out_dir = opts.out_dir.clone();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match rt.block_on(run::run(plan.clone(), opts)) {
        Ok(report) => {
            print_summary(&report, &out_dir);
            match report.status {
                Status::Success => ExitCode::from(EXIT_OK),
                Status::CompletedWithInvalidRecords => ExitCode::from(EXIT_INVALID_RECORDS),
                Status::Failed => {
                    eprintln!(
                        "error: run failed: {}",
                        report.error.as_deref().unwrap_or("unknown error")
                    );
                    ExitCode::from(EXIT_FAILED)
                }
                Status::Interrupted => {
                    eprintln!("interrupted: nothing of this run was applied");
                    ExitCode::from(EXIT_INTERRUPTED)
                }
            }
        }
        Err(e @ (RunError::Usage(_) | RunError::Spec(_))) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_SPEC)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// `--config`: the integration's input values, each naming an input the connector declares.
fn load_config(
    file: Option<&Path>,
    plan: &compile::Plan,
    integration: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let Some(file) = file else {
        return Ok(Default::default());
    };
    let values = mapper::config::Config::load(file)
        .map_err(|e| e.to_string())?
        .inputs(integration);
    let known: Vec<&str> = plan.inputs.iter().map(|i| i.name.as_str()).collect();
    for name in values.keys() {
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "--config {}: [{integration}] sets `{name}`, which connector `{}` does not declare as an input{}",
                file.display(),
                plan.name,
                mapper::suggest::did_you_mean(name, known.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_else(|| format!(" (inputs: {})", known.join(", ")))
            ));
        }
    }
    Ok(values)
}

fn check_cmd(args: CheckArgs) -> ExitCode {
    let plan = match compile::compile_file(&args.spec) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            report_compile_error(&e);
            return ExitCode::from(EXIT_SPEC);
        }
    };
    let base_url = match args
        .base_url
        .as_deref()
        .map(parse_base_url_flag)
        .transpose()
    {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_SPEC);
        }
    };
    let config = match load_config(args.config.as_deref(), &plan, &args.integration) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_SPEC);
        }
    };
    let mut opts = RunOptions::new(PathBuf::from("."));
    opts.base_url = base_url;
    opts.config = config;
    opts.integration = args.integration;
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    use mapper::run::check::CheckResult;
    match rt.block_on(mapper::run::check::check(plan, opts)) {
        Ok(outcomes) => {
            let mut failed = false;
            let mut tried = false;
            for o in &outcomes {
                match &o.result {
                    CheckResult::Ok(status) => {
                        tried = true;
                        println!(
                            "{}: credentials ok ({} answered {status})",
                            o.auth, o.request
                        );
                    }
                    CheckResult::Failed(_, why) => {
                        tried = true;
                        failed = true;
                        eprintln!("{}: {} failed: {why}", o.auth, o.request);
                    }
                    CheckResult::Skipped(missing) => {
                        println!("{}: skipped ({} not set)", o.auth, missing.join(", "));
                    }
                }
            }
            if !tried {
                eprintln!("error: no auth alternative has its inputs set");
                return ExitCode::from(EXIT_FAILED);
            }
            ExitCode::from(if failed { EXIT_FAILED } else { EXIT_OK })
        }
        Err(e @ (RunError::Usage(_) | RunError::Spec(_))) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_SPEC)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn describe_cmd(spec: &Path, json: bool) -> ExitCode {
    let plan = match compile::compile_file(spec) {
        Ok(p) => p,
        Err(e) => {
            report_compile_error(&e);
            return ExitCode::from(EXIT_SPEC);
        }
    };
    let d = mapper::describe::describe(&plan);
    if json {
        match serde_json::to_string_pretty(&d) {
            Ok(t) => println!("{t}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    } else {
        print!("{}", mapper::describe::text(&d));
    }
    ExitCode::from(EXIT_OK)
}

fn new_cmd(name: &str, out: Option<PathBuf>) -> ExitCode {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        eprintln!("error: connector names are lower-case letters, digits and `_` (got `{name}`)");
        return ExitCode::from(EXIT_SPEC);
    }
    let path = out.unwrap_or_else(|| {
        if Path::new("connectors").is_dir() {
            Path::new("connectors").join(format!("{name}.yaml"))
        } else {
            PathBuf::from(format!("{name}.yaml"))
        }
    });
    if path.exists() {
        eprintln!("error: {} exists; not overwriting it", path.display());
        return ExitCode::from(EXIT_SPEC);
    }
    let schema = if path.parent().is_some_and(|p| p.ends_with("connectors")) {
        "../schemas/connector.schema.json"
    } else {
        "schemas/connector.schema.json"
    };
    let text = mapper::spec::skeleton(name, schema);
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("error: writing {}: {e}", path.display());
        return ExitCode::from(EXIT_FAILED);
    }
    println!(
        "wrote {}: edit base_url, auth and the stream, then `mapper validate {}`",
        path.display(),
        path.display()
    );
    ExitCode::from(EXIT_OK)
}

fn report_compile_error(e: &CompileError) {
    for d in e.diagnostics() {
        eprintln!("{d}");
    }
}

/// One line per model and reason on stderr: how many invalid records, which remote ids
/// first, where (the samples of report.json, grouped).
fn print_invalid(report: &run::output::Report) {
    for (name, m) in &report.models {
        if m.invalid == 0 {
            continue;
        }
        let mut groups: indexmap::IndexMap<(&str, &str), Vec<&str>> = indexmap::IndexMap::new();
        for r in &m.invalid_records {
            groups
                .entry((r.pointer.as_str(), r.reason.as_str()))
                .or_default()
                .push(r.remote_id.as_deref().unwrap_or("?"));
        }
        eprintln!(
            "warning: {name}: {} invalid record(s) left out (details in report.json)",
            m.invalid
        );
        for ((pointer, reason), ids) in &groups {
            let first: Vec<&str> = ids.iter().take(3).copied().collect();
            eprintln!(
                "  {} × at {}: {reason} (remote ids {}{})",
                ids.len(),
                if pointer.is_empty() { "/" } else { pointer },
                first.join(", "),
                if ids.len() > 3 { ", …" } else { "" }
            );
        }
    }
}

fn print_summary(report: &run::output::Report, out_dir: &Path) {
    print_invalid(report);
    let width = report
        .models
        .keys()
        .map(|k| k.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:width$}  {:>9}  {:>7}  {:>8}  {:>7}",
        "model", "written", "invalid", "requests", "retries"
    );
    for (name, m) in &report.models {
        println!(
            "{name:width$}  {:>9}  {:>7}  {:>8}  {:>7}{}",
            m.written,
            m.invalid,
            m.requests,
            m.retries,
            if m.complete { "" } else { "  (incomplete)" }
        );
    }
    println!(
        "{} requests, {} retries in {:.1}s; status {}; output in {}",
        report.requests,
        report.retries,
        report.duration_ms as f64 / 1000.0,
        serde_json::to_value(report.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        out_dir.display()
    );
}
