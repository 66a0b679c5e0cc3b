//! Gregor's compatibility scenarios through rdkafka 0.39 (librdkafka 2.12).
//!
//! Usage: `gregor-compat-rdkafka RESULTS_FILE`, with `GREGOR_BOOTSTRAP`, `GREGOR_PREFIX` and
//! `GREGOR_CTL` set (see `compat-tests/README.md`). Every scenario of `compat-tests/scenarios.txt`
//! is one async fn; each runs in its own tokio task (so a panic is caught as a `JoinError`),
//! bounded by `SCENARIO_LIMIT`, and appends one JSON line to the results file. Scenarios run one
//! after the other; a scenario that hangs is abandoned (its task keeps a worker thread) and the
//! process exits with `std::process::exit` once all are reported.

mod admin;
mod groups;
mod produce;
mod read;
mod topics;
mod util;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use util::{Ctx, Outcome};

/// The longest a single scenario may take.
const SCENARIO_LIMIT: Duration = Duration::from_secs(60);
/// The longest all scenarios together may take (the harness allows 420 s for the whole client,
/// the build included). Once spent, the remaining scenarios are reported failed, not run.
const TOTAL_LIMIT: Duration = Duration::from_secs(300);

type ScenarioFuture = Pin<Box<dyn Future<Output = Result<Outcome, String>> + Send>>;
type Scenario = fn(Arc<Ctx>) -> ScenarioFuture;

macro_rules! scenarios {
    ($($id:literal => $f:path),* $(,)?) => {
        vec![$(($id, (|c: Arc<Ctx>| Box::pin($f(c)) as ScenarioFuture) as Scenario)),*]
    };
}

fn all() -> Vec<(&'static str, Scenario)> {
    scenarios! {
        "metadata" => topics::metadata,
        "create_topic" => topics::create_topic,
        "delete_topic" => topics::delete_topic,
        "create_partitions" => topics::create_partitions,
        "produce_consume_none" => produce::produce_consume_none,
        "produce_consume_gzip" => produce::produce_consume_gzip,
        "produce_consume_snappy" => produce::produce_consume_snappy,
        "produce_consume_lz4" => produce::produce_consume_lz4,
        "produce_consume_zstd" => produce::produce_consume_zstd,
        "keys_headers_timestamps" => produce::keys_headers_timestamps,
        "log_append_time" => produce::log_append_time,
        "acks_0" => produce::acks_0,
        "acks_1" => produce::acks_1,
        "acks_all" => produce::acks_all,
        "partitioner" => produce::partitioner,
        "offsets_for_times" => read::offsets_for_times,
        "seek" => read::seek,
        "group_consume_commit" => groups::group_consume_commit,
        "group_rebalance" => groups::group_rebalance,
        "group_resume_after_restart" => groups::group_resume_after_restart,
        "admin_groups" => groups::admin_groups,
        "admin_configs" => admin::admin_configs,
        "idempotent_producer" => produce::idempotent_producer,
        "large_records" => produce::large_records,
        "empty_topic" => read::empty_topic,
        "nonexistent_topic" => topics::nonexistent_topic,
        "many_partitions" => topics::many_partitions,
        "commit_unknown_topic" => groups::commit_unknown_topic,
        "static_member_expiry" => groups::static_member_expiry,
        "describe_group_configs" => admin::describe_group_configs,
        "authorized_operations" => admin::authorized_operations,
    }
}

fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 600 {
        let mut end = 600;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

fn main() {
    let results = std::env::args()
        .nth(1)
        .expect("usage: gregor-compat-rdkafka RESULTS_FILE");
    let only: Vec<String> = std::env::args().skip(2).collect();
    let ctx = Arc::new(Ctx::from_env());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let total_deadline = Instant::now() + TOTAL_LIMIT;
    runtime.block_on(async {
        for (id, scenario) in all() {
            if !only.is_empty() && !only.iter().any(|o| o == id) {
                continue;
            }
            let started = Instant::now();
            let limit = SCENARIO_LIMIT.min(total_deadline.saturating_duration_since(started));
            let task = tokio::spawn(scenario(ctx.clone()));
            let abort = task.abort_handle();
            let (status, detail) = match tokio::time::timeout(limit, task).await {
                Ok(Ok(Ok(Outcome::Pass(d)))) => ("pass", d),
                Ok(Ok(Ok(Outcome::Unsupported(d)))) => ("unsupported", d),
                Ok(Ok(Err(e))) => ("fail", e),
                Ok(Err(join)) if join.is_panic() => {
                    let p = join.into_panic();
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "non-string panic".into());
                    ("fail", format!("panicked: {msg}"))
                }
                Ok(Err(join)) => ("fail", format!("task failed: {join}")),
                Err(_) => {
                    abort.abort();
                    if limit < SCENARIO_LIMIT {
                        let total = TOTAL_LIMIT.as_secs();
                        (
                            "fail",
                            format!("not finished: the run's {total} s budget was spent"),
                        )
                    } else {
                        ("fail", format!("timed out after {} s", limit.as_secs()))
                    }
                }
            };
            let detail = one_line(&detail);
            eprintln!(
                "rdkafka {id}: {status} ({:.1} s) {detail}",
                started.elapsed().as_secs_f64()
            );
            let line = serde_json::json!({
                "client": "rdkafka",
                "scenario": id,
                "status": status,
                "detail": detail,
            });
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&results)
                .expect("results file");
            writeln!(f, "{line}").expect("write result");
        }
    });
    // Abandoned scenario tasks or client threads must not keep the process alive.
    std::process::exit(0);
}
