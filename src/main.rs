//! The `gregor` binary: read the configuration, start the broker, run until SIGINT or SIGTERM,
//! then shut down cleanly (stop accepting, finish requests in hand, flush, mark the data clean).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gregor::clock::SystemClock;
use gregor::config::BrokerConfig;

/// A broker that speaks the Apache Kafka wire protocol.
///
/// Configuration, later sources winning: the properties file, then KAFKA_* environment variables
/// (KAFKA_NODE_ID -> node.id, KAFKA_LOG_DIRS -> log.dirs, as the apache/kafka image maps them),
/// then --override. Defaults: listeners=PLAINTEXT://127.0.0.1:9092, log.dirs=./gregor-data, node.id=1.
#[derive(Debug, Parser)]
#[command(name = "gregor", version)]
struct Args {
    /// A Kafka server.properties file.
    config: Option<PathBuf>,
    /// Set a property, as kafka-server-start.sh --override key=value.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

/// glibc's allocator returns freed blocks above its (adaptive, ~1 MiB) mmap threshold to the
/// kernel; fetch read buffers are about that size, so every fetch would fault its pages in again.
/// Pinning the thresholds keeps them in the heap for reuse (see benches/RESULTS.md).
const MALLOC_MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
const MALLOC_TRIM_THRESHOLD_BYTES: i32 = 256 << 20;

fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two allocator parameters; it is called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES);
    }
}

/// Without RUST_LOG: Gregor's own lines from info, openraft's (chatty at info) from warn.
const DEFAULT_LOG_FILTER: &str = "info,openraft=warn";

fn main() -> ExitCode {
    tune_allocator();
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let env: Vec<(String, String)> = std::env::vars().collect();
    let config = match BrokerConfig::load(args.config.as_deref(), &args.overrides, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gregor: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gregor: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let handle = match gregor::server::start(config, SystemClock::shared()).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("gregor: cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        tracing::info!("shutting down");
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
