//! The log layer's background I/O thread: reads ahead for consumers behind the drop-behind window
//! (`read_ahead`) and page-cache advice (`page_cache`), so neither runs on a request's thread.
//!
//! Contract: jobs run one at a time, in submission order, on one thread started on first use.
//! The queue is bounded (`QUEUE_LIMIT_JOBS`); `submit` hands the job back when the queue is full
//! or the thread could not be started, and the caller runs it itself or drops it. Jobs must not
//! panic (the log layer's no-panic rule) and must not block on anything but their own I/O.
//!
//! Lock order: the queue is a channel; no lock of the log layer is held while submitting.
//! Must not import: protocol, `kafka_protocol`, server, `tokio`.

use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, TrySendError};

/// Jobs waiting beyond this are refused (handed back to the caller).
const QUEUE_LIMIT_JOBS: usize = 256;

/// A unit of background work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

fn queue() -> Option<&'static SyncSender<Job>> {
    static QUEUE: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(QUEUE_LIMIT_JOBS);
            let spawned = std::thread::Builder::new()
                .name("gregor-log-io".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                });
            match spawned {
                Ok(_) => Some(tx),
                Err(e) => {
                    tracing::warn!("log I/O thread not started; its work runs inline: {e}");
                    None
                }
            }
        })
        .as_ref()
}

/// Queues `job` for the background thread; gives it back when it cannot be queued.
pub fn submit(job: Job) -> Result<(), Job> {
    let Some(queue) = queue() else {
        return Err(job);
    };
    match queue.try_send(job) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => Err(job),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_order() {
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            if let Err(job) = submit(Box::new(move || tx.send(i).unwrap())) {
                job();
            }
        }
        let got: Vec<i32> = (0..10)
            .map(|_| rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }
}
