//! `gregor-chaos`: seeded fault schedules against 3-node in-process Gregor clusters, each checked
//! for lost, duplicated and reordered acknowledged writes (see `checker`).
//!
//! `cargo run --release --bin gregor-chaos -- --schedules 20 --seed 1` runs the schedules of
//! seeds 1..=20, one fresh cluster each, and prints a line per schedule and a final
//! `N passed, M failed`; a failed schedule also prints its timeline of faults. Any seed re-runs
//! alone with `--seed S --schedules 1`: the same faults, targets and durations (see `schedule`).
//! Exits 1 when any schedule failed.

mod checker;
mod run;
mod schedule;

use std::time::Instant;

use clap::Parser;

use crate::checker::Promise;
use crate::run::{Limits, Outcome};
use crate::schedule::Shape;

#[derive(Debug, Parser)]
#[command(about = "Seeded fault schedules against in-process Gregor clusters")]
struct Args {
    /// How many schedules to run (seeds `seed`, `seed`+1, ...).
    #[arg(long, default_value_t = 20)]
    schedules: u64,
    /// The first schedule's seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Partitions of each stream's topic (replication factor 3, min.insync.replicas 2).
    #[arg(long, default_value_t = 3)]
    partitions: i32,
    /// How long each schedule's workload runs, faults included.
    #[arg(long, default_value_t = 10_000)]
    workload_ms: u64,
    /// Faults per schedule, at least and at most.
    #[arg(long, default_value_t = 2)]
    faults_min: usize,
    #[arg(long, default_value_t = 4)]
    faults_max: usize,
    /// Print every schedule's timeline, not only the failed ones'.
    #[arg(long)]
    verbose: bool,
}

const NODES: usize = 3;

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // The nodes' own logs, to stderr, only when RUST_LOG asks for them (the report is stdout).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    let shape = Shape {
        nodes: NODES as i32,
        partitions: args.partitions,
        workload_ms: args.workload_ms,
        faults_min: args.faults_min,
        faults_max: args.faults_max,
        fault_ms_min: 500,
        fault_ms_max: (args.workload_ms / 3).max(500),
    };
    let limits = Limits {
        nodes: NODES,
        partitions: args.partitions,
        workload_ms: args.workload_ms,
        in_flight_max: 32,
        message_timeout_ms: 30_000,
        settle_ms: 60_000,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gregor-chaos: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let (mut passed, mut failed) = (0u64, Vec::new());
    let mut totals = Totals::default();
    for seed in args.seed..args.seed.saturating_add(args.schedules) {
        let schedule = schedule::generate(seed, shape);
        let outcome = runtime.block_on(run::run(&schedule, limits));
        report(&schedule, &outcome, args.verbose);
        totals.add(&outcome);
        if outcome.passed() {
            passed += 1;
        } else {
            failed.push(seed);
        }
    }
    totals.print();
    println!(
        "{passed} passed, {} failed ({} s){}",
        failed.len(),
        started.elapsed().as_secs(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed seeds: {failed:?}")
        }
    );
    if failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Sums over the schedules of a run, printed before its last line.
#[derive(Default)]
struct Totals {
    /// Faults applied, by kind, in first-seen order.
    faults: Vec<(&'static str, u64)>,
    /// Per stream: (topic, promise name, acked, failed, lost, duplicated, reordered).
    streams: Vec<(&'static str, &'static str, [u64; 5])>,
    consumed: u64,
    vanished: u64,
    divergent: u64,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        for f in &o.applied {
            let kind = f.name();
            match self.faults.iter_mut().find(|k| k.0 == kind) {
                Some(k) => k.1 += 1,
                None => self.faults.push((kind, 1)),
            }
        }
        for (topic, promise, v, failed) in &o.streams {
            let counts = [
                v.acked as u64,
                *failed,
                v.lost.len() as u64,
                v.duplicated,
                v.reordered,
            ];
            match self.streams.iter_mut().find(|s| s.0 == *topic) {
                Some(s) => s.2.iter_mut().zip(counts).for_each(|(a, b)| *a += b),
                None => self.streams.push((topic, promise_name(*promise), counts)),
            }
        }
        self.consumed += o.consumed as u64;
        self.vanished += o.vanished.len() as u64;
        self.divergent += o.divergent.len() as u64;
    }

    fn print(&self) {
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        println!("totals: faults {}", faults.join(", "));
        for (topic, promise, [acked, failed, lost, duplicated, reordered]) in &self.streams {
            println!(
                "totals: {topic} ({promise}): acked {acked}, failed {failed}, lost {lost}, duplicated {duplicated}, reordered {reordered}"
            );
        }
        println!(
            "totals: consumed {} (vanished {}), divergent replicas {}",
            self.consumed, self.vanished, self.divergent
        );
    }
}

fn promise_name(p: Promise) -> &'static str {
    match p {
        Promise::ExactlyOnceInOrder => "idempotent acks=all",
        Promise::NoLoss => "acks=all",
        Promise::None => "acks=1",
    }
}

fn report(schedule: &schedule::Schedule, o: &Outcome, verbose: bool) {
    let faults: Vec<String> = schedule.faults.iter().map(|f| f.to_string()).collect();
    let streams: Vec<String> = o
        .streams
        .iter()
        .map(|(topic, promise, v, failed)| {
            let promise = promise_name(*promise);
            format!(
                "{topic} ({promise}): acked {}, failed {failed}, lost {}, duplicated {}, reordered {}, gaps {}",
                v.acked,
                v.lost.len(),
                v.duplicated,
                v.reordered,
                v.gaps.len()
            )
        })
        .collect();
    println!(
        "seed {} {} in {:.1} s | faults: {} | {} | consumed {} (vanished {}), commit samples {} (backwards {}), divergent replicas {}",
        o.seed,
        if o.passed() { "PASS" } else { "FAIL" },
        o.elapsed.as_secs_f64(),
        faults.join(", "),
        streams.join(" | "),
        o.consumed,
        o.vanished.len(),
        o.commit_samples,
        o.commits_backwards.len(),
        o.divergent.len(),
    );
    if verbose || !o.passed() {
        for (at, what) in &o.timeline {
            println!("  {at:>6} ms  {what}");
        }
        if let Some(e) = &o.error {
            println!("  error: {e}");
        }
        for (topic, _, v, _) in &o.streams {
            for a in v.lost.iter().take(10) {
                println!(
                    "  {topic}: send {} acknowledged at {}-{}@{} is not there",
                    a.seq, topic, a.partition, a.offset
                );
            }
            for g in v.gaps.iter().take(10) {
                println!("  {topic}-{}: offsets {}..{} missing", g.0, g.1, g.2);
            }
        }
        for v in o.vanished.iter().take(10) {
            println!(
                "  consumed {}-{}@{} (send {}) is not there now",
                run::consumed_topic(),
                v.0,
                v.1,
                v.2
            );
        }
        for b in o.commits_backwards.iter().take(10) {
            println!(
                "  committed offset of partition {} went from {} to {}",
                b.0, b.1, b.2
            );
        }
        for d in &o.divergent {
            println!("  {} differs between replicas {:?}", d.0, d.1);
        }
    }
}
