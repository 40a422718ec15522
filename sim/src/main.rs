//! `mapper-sim gem|greenhouse|lever|smartrecruiters|ashby|teamtailor [--port N] [--size small|full]
//! [--key KEY] [--rate-limit N | --limits on|off]`: runs a simulator on loopback until
//! interrupted.

use mapper_sim::{ashby, gem, greenhouse, lever, smartrecruiters, teamtailor};

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
    let small = get("--size").as_deref() == Some("small");
    let limits = get("--limits").as_deref() != Some("off");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let url = match vendor.as_str() {
            "gem" => gem::start(if small { gem::Size::Small } else { gem::Size::Full }, &key, rate, port).await.expect("bind").url(),
            "smartrecruiters" => {
                let size = if small { smartrecruiters::Size::Small } else { smartrecruiters::Size::Full };
                smartrecruiters::start(size, &key, ("sim-client", "sim-secret"), limits, port).await.expect("bind").url()
            }
            "greenhouse" => {
                let size = if small { greenhouse::Size::Small } else { greenhouse::Size::Full };
                greenhouse::start(size, &key, limits, port).await.expect("bind").url()
            }
            "lever" => {
                let size = if small { lever::Size::Small } else { lever::Size::Full };
                lever::start(size, &key, limits, port).await.expect("bind").url()
            }
            "ashby" => {
                let size = if small { ashby::Size::Small } else { ashby::Size::Full };
                ashby::start(size, &key, limits, port).await.expect("bind").url()
            }
            "teamtailor" => {
                let size = if small { teamtailor::Size::Small } else { teamtailor::Size::Full };
                teamtailor::start(size, &key, limits, port).await.expect("bind").url()
            }
            _ => {
                eprintln!("usage: mapper-sim gem|greenhouse|lever|smartrecruiters|ashby|teamtailor [--port N] [--size small|full] [--key KEY] [--rate-limit N | --limits on|off]");
                std::process::exit(2);
            }
        };
        println!("{vendor} simulator on {url} (key {key})");
        let _ = tokio::signal::ctrl_c().await;
    });
}
