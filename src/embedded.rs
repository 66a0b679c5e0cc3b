//! A broker inside the calling process, for Rust tests: `EmbeddedBroker::start()` binds
//! 127.0.0.1 on a free port with a fresh temporary data directory (or one you give it) and
//! returns the bootstrap address; `shutdown` stops it cleanly; dropping the handle without
//! shutdown behaves like a crash of the process's broker (nothing is flushed or marked clean).
//!
//! Contract: the broker is the same code as the binary's; only where it listens and keeps its
//! data differ. Must not be used by anything in `src/` but tests and examples.

use std::path::{Path, PathBuf};

use crate::clock::{SharedClock, SystemClock};
use crate::config::BrokerConfig;
use crate::server::{self, BrokerHandle, StartError};

#[derive(Debug)]
pub struct EmbeddedBroker {
    handle: BrokerHandle,
    data_dir: PathBuf,
}

impl EmbeddedBroker {
    /// Starts a broker on 127.0.0.1:0 with its data in `data_dir` and extra `key=value` properties.
    pub async fn start_in(
        data_dir: &Path,
        properties: &[(&str, &str)],
    ) -> Result<EmbeddedBroker, StartError> {
        Self::start_with_clock(data_dir, properties, SystemClock::shared()).await
    }

    pub async fn start_with_clock(
        data_dir: &Path,
        properties: &[(&str, &str)],
        clock: SharedClock,
    ) -> Result<EmbeddedBroker, StartError> {
        let mut overrides = vec![
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            format!("log.dirs={}", data_dir.display()),
        ];
        overrides.extend(properties.iter().map(|(k, v)| format!("{k}={v}")));
        let config = BrokerConfig::load(None, &overrides, &[])
            .map_err(|e| StartError::Storage(server::BrokerError::Config(e)))?;
        let handle = server::start(config, clock).await?;
        Ok(EmbeddedBroker {
            handle,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// `host:port` for clients' `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.handle.bootstrap()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn handle(&self) -> &BrokerHandle {
        &self.handle
    }

    pub async fn shutdown(self) {
        self.handle.shutdown().await
    }
}
