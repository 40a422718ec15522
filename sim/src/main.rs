//! `mapper-sim gem [--port N] [--size small|full] [--key KEY] [--rate-limit N]`: runs a
//! simulator on loopback until interrupted.

use mapper_sim::gem;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let vendor = args.first().cloned().unwrap_or_default();
    let port: u16 = get("--port").and_then(|p| p.parse().ok()).unwrap_or(0);
    let key = get("--key").unwrap_or_else(|| "sim-key".into());
    let rate: Option<usize> = get("--rate-limit").and_then(|r| r.parse().ok());
    let size = match get("--size").as_deref() {
        Some("small") => gem::Size::Small,
        _ => gem::Size::Full,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let running = match vendor.as_str() {
            "gem" => gem::start(size, &key, rate, port).await.expect("bind"),
            _ => {
                eprintln!("usage: mapper-sim gem [--port N] [--size small|full] [--key KEY] [--rate-limit N]");
                std::process::exit(2);
            }
        };
        println!("{vendor} simulator on {} (key {key})", running.url());
        let _ = tokio::signal::ctrl_c().await;
    });
}
