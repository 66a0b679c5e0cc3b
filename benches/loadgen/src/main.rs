//! `gregor-loadgen`: end-to-end load generator for Gregor or any broker speaking the Kafka wire
//! protocol, in the spirit of librdkafka's `rdkafka_performance`, measuring the same figures as
//! `/work/shared/bench/kbench.py` (produce and consume throughput, broker CPU per MiB, fixed-rate
//! produce latency, time to first record, start-up time, idle and peak RSS).
//!
//! Units: MiB = 2^20 bytes of record values (no keys, headers or protocol overhead); times in
//! milliseconds unless the key says `_s`. Every phase is bounded, and a watchdog ends the whole
//! run after `--timeout-s`.

mod broker;
mod phases;
mod report;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};

use crate::broker::StartedBroker;
use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Phase {
    Produce,
    Consume,
    Latency,
    FirstRecord,
    Startup,
    Rss,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup with client-side assignment.
    Classic,
    /// KIP-848 (ConsumerGroupHeartbeat, server-side assignment).
    Consumer,
}

/// End-to-end load generator for a Kafka-wire broker (Gregor, or any other).
///
/// Either starts the broker itself (--broker-bin: free 127.0.0.1 port, fresh temp data dir,
/// start-up time measured to the first Metadata answer, SIGTERM at the end) or uses a running
/// one (--bootstrap, with --broker-pid to sample its CPU and memory). MiB = 2^20 bytes of record
/// values.
#[derive(Debug, Parser)]
#[command(name = "gregor-loadgen", version)]
pub struct Args {
    /// A running broker, HOST:PORT.
    #[arg(
        long,
        conflicts_with = "broker_bin",
        required_unless_present = "broker_bin"
    )]
    pub bootstrap: Option<String>,
    /// Start this broker binary (gregor) and stop it at the end.
    #[arg(long)]
    pub broker_bin: Option<PathBuf>,
    /// PID of a broker this tool did not start, for CPU and RSS figures.
    #[arg(long, conflicts_with = "broker_bin")]
    pub broker_pid: Option<i32>,
    /// Records in the produce phase (and read back by the consume phase).
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Bytes per record value (no key).
    #[arg(long, default_value_t = 100)]
    pub record_bytes: usize,
    /// Partitions of the topics this tool creates.
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
    /// Producer acks for the produce phase: 0, 1 or all (-1).
    #[arg(long, default_value = "1")]
    pub acks: String,
    /// Producer linger.ms for the produce phase.
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// Producer batch.size in bytes (default: librdkafka's, 1000000).
    #[arg(long)]
    pub batch_bytes: Option<u64>,
    /// Producer compression.type.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compression: Compression,
    /// Latency phase: records per second, sent in 1 ms slots, linger.ms=0.
    #[arg(long, default_value_t = 5000)]
    pub rate: u64,
    /// Latency phase: how long to send, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub latency_duration_s: f64,
    /// Latency phase acks (0 is refused: there is no delivery report to time).
    #[arg(long, default_value = "1")]
    pub latency_acks: String,
    /// Phases to run, in this order whatever the order given. startup needs --broker-bin; rss
    /// needs --broker-bin or --broker-pid.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "produce,consume,latency,first-record,startup,rss"
    )]
    pub phases: Vec<Phase>,
    /// Latency phase: write every record's send time and latency (ms) as CSV here.
    #[arg(long)]
    pub latency_dump: Option<PathBuf>,
    /// Group protocol of the first-record phase's subscribing consumer.
    #[arg(long, value_enum, default_value_t = GroupProtocol::Classic)]
    pub group_protocol: GroupProtocol,
    /// Idle time before the first-record phase subscribes, ms.
    #[arg(long, default_value_t = 1000)]
    pub first_record_idle_ms: u64,
    /// Topic name (default: loadgen-<pid>-<unix ms>); the latency and first-record phases use
    /// <topic>-lat and <topic>-first.
    #[arg(long)]
    pub topic: Option<String>,
    /// Don't create topics (they must exist, with --partitions partitions).
    #[arg(long)]
    pub no_create_topic: bool,
    /// Seed of the xorshift64 payload generator.
    #[arg(long, default_value_t = 0x9E37_79B9_7F4A_7C15)]
    pub seed: u64,
    /// Consumer fetch.queue.backoff.ms. librdkafka's default (1000) pauses fetching for 1 s each
    /// time its local queue passes queued.min.messages, capping a fast consumer whatever the
    /// broker; 10 lets the broker set the pace (kbench.py does the same).
    #[arg(long, default_value_t = 10)]
    pub fetch_queue_backoff_ms: u64,
    /// Extra producer property KEY=VALUE (repeatable).
    #[arg(short = 'X', long = "producer-config", value_name = "KEY=VALUE")]
    pub producer_config: Vec<String>,
    /// Extra consumer property KEY=VALUE (repeatable).
    #[arg(short = 'C', long = "consumer-config", value_name = "KEY=VALUE")]
    pub consumer_config: Vec<String>,
    /// Bound of each phase, seconds.
    #[arg(long, default_value_t = 300)]
    pub phase_timeout_s: u64,
    /// Bound of the whole run, seconds: then the broker (if started here) is stopped and the
    /// tool exits with status 3.
    #[arg(long, default_value_t = 1200)]
    pub timeout_s: u64,
    /// Keep the started broker's data dir and log (path printed at the end).
    #[arg(long)]
    pub keep_data: bool,
    /// Write every figure and the parameters as one JSON object here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the markdown table here (it is printed to stdout in any case).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    phases::init_clock();
    start_watchdog(Duration::from_secs(args.timeout_s));
    match run(&args) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("gregor-loadgen: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Ends the whole run after `limit`: SIGTERM to the broker started here (by its PID), then exit.
fn start_watchdog(limit: Duration) {
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            std::thread::sleep(limit);
            eprintln!("gregor-loadgen: run exceeded --timeout-s ({limit:?}); stopping");
            let pid = broker::STARTED_PID.load(Ordering::SeqCst);
            if pid > 0 {
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
                std::thread::sleep(Duration::from_secs(5));
                if broker::STARTED_PID.load(Ordering::SeqCst) == pid {
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
            std::process::exit(3);
        })
        .expect("watchdog thread");
}

fn run(args: &Args) -> Result<()> {
    if args.records == 0 || args.record_bytes == 0 || args.partitions < 1 {
        bail!("--records, --record-bytes and --partitions must be positive");
    }
    let wants = |p: Phase| args.phases.contains(&p);
    let mut rep = Report::new(args);
    let run_t0 = Instant::now();

    let mut started = None;
    let (bootstrap, pid) = match (&args.broker_bin, &args.bootstrap) {
        (Some(bin), _) => {
            let b = StartedBroker::start(bin, Duration::from_secs(30), args.keep_data)?;
            eprintln!(
                "started {} pid {} on {} (data {})",
                bin.display(),
                b.pid,
                b.bootstrap,
                b.data_dir.path().display()
            );
            if wants(Phase::Startup) {
                rep.ms(
                    "startup",
                    "startup_to_accept_ms",
                    b.startup_to_accept,
                    "spawn to first TCP accept",
                );
                rep.ms(
                    "startup",
                    "startup_to_metadata_ms",
                    b.startup_to_metadata,
                    "spawn to first Metadata v1 answer (1 ms polls)",
                );
            }
            let r = (b.bootstrap.clone(), Some(b.pid));
            started = Some(b);
            r
        }
        (None, Some(bs)) => {
            if wants(Phase::Startup) {
                rep.note("startup: skipped (needs --broker-bin)");
            }
            (bs.clone(), args.broker_pid)
        }
        (None, None) => bail!("give --bootstrap or --broker-bin"),
    };
    rep.set_param("bootstrap", bootstrap.clone().into());
    if let Some(p) = pid {
        rep.set_param("broker_pid", p.into());
    }

    if wants(Phase::Rss) {
        match pid {
            Some(p) => {
                // Let start-up allocations settle; nothing is sent yet.
                if started.is_some() {
                    std::thread::sleep(Duration::from_millis(500));
                }
                let kib = broker::status_kib(p, "VmRSS")?;
                rep.num(
                    "rss",
                    "idle_rss_mib",
                    kib as f64 / 1024.0,
                    "MiB",
                    "broker VmRSS before any load",
                );
            }
            None => rep.note("rss: skipped (needs --broker-bin or --broker-pid)"),
        }
    }

    let ctx = phases::Ctx::new(args, bootstrap, pid);
    let topic = ctx.topic.clone();
    let mut produced = None;
    if wants(Phase::Produce) {
        ctx.ensure_topic(&topic, args.partitions)?;
        produced = Some(phases::produce(&ctx, &topic, &mut rep)?);
    }
    if wants(Phase::Consume) {
        let expect = produced.unwrap_or(args.records);
        phases::consume(&ctx, &topic, expect, &mut rep)?;
    }
    if wants(Phase::Latency) {
        let t = format!("{topic}-lat");
        ctx.ensure_topic(&t, args.partitions)?;
        phases::latency(&ctx, &t, &mut rep)?;
    }
    if wants(Phase::FirstRecord) {
        let t = format!("{topic}-first");
        ctx.ensure_topic(&t, 1)?;
        phases::first_record(&ctx, &t, &mut rep)?;
    }

    if let Some(p) = pid {
        if wants(Phase::Rss) {
            let hwm = broker::status_kib(p, "VmHWM")?;
            let rss = broker::status_kib(p, "VmRSS")?;
            rep.num(
                "rss",
                "peak_rss_mib",
                hwm as f64 / 1024.0,
                "MiB",
                "broker VmHWM at the end of the run",
            );
            rep.num(
                "rss",
                "end_rss_mib",
                rss as f64 / 1024.0,
                "MiB",
                "broker VmRSS at the end of the run",
            );
        }
        if let Ok(cpu) = broker::cpu_seconds(p) {
            rep.num(
                "run",
                "broker_cpu_s_total",
                cpu,
                "s",
                "broker CPU (user+sys) since it started",
            );
        }
    }
    if let Some(mut b) = started.take() {
        let warns = b.warn_lines();
        match b.stop(Duration::from_secs(15)) {
            Some(d) => rep.ms("run", "broker_shutdown_ms", d, "SIGTERM to exit"),
            None => rep.note("broker did not exit within 15 s of SIGTERM; killed"),
        }
        rep.num(
            "run",
            "broker_log_warn_lines",
            warns.len() as f64,
            "",
            "WARN/ERROR lines in the broker log",
        );
        for w in warns.iter().take(5) {
            rep.note(&format!("broker log: {w}"));
        }
        if args.keep_data {
            rep.note(&format!(
                "broker data and log kept in {}",
                b.data_dir.path().display()
            ));
        }
    }
    rep.num(
        "run",
        "run_wall_s",
        run_t0.elapsed().as_secs_f64(),
        "s",
        "whole run",
    );
    rep.finish(args)
}
