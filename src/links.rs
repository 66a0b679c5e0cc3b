//! Injected network faults between this node and its cluster peers: the in-process cluster's
//! "cut the cable" for tests and fault schedules.
//!
//! Contract: while a node's `PeerLinks` is cut, every inter-node exchange of that node fails as
//! if the network dropped it, in both directions, and client traffic is untouched:
//! - outbound (replica fetches, controller RPCs, Raft messages): connecting and every exchange
//!   fail at once with `ConnectionRefused`, and the connection in hand is dropped;
//! - inbound (the controller listener's connections, Raft frames, replica fetches arriving on a
//!   client listener): the connection is closed at its next frame, new ones at accept.
//!
//! Healing restores nothing by itself: every peer path already reconnects after a failure. A
//! one-way cut is not modelled (both directions fail together). The check is one atomic load,
//! and nothing is cut unless a test asks.

use std::sync::atomic::{AtomicBool, Ordering};

/// One node's links to its peers (see the module doc).
#[derive(Debug, Default)]
pub struct PeerLinks {
    cut: AtomicBool,
}

impl PeerLinks {
    /// Cuts this node off from every peer.
    pub fn cut(&self) {
        if !self.cut.swap(true, Ordering::AcqRel) {
            tracing::warn!("links to every peer cut (fault injection)");
        }
    }

    /// Restores the links.
    pub fn heal(&self) {
        if self.cut.swap(false, Ordering::AcqRel) {
            tracing::warn!("links to the peers healed (fault injection)");
        }
    }

    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::Acquire)
    }

    /// `Err(ConnectionRefused)` while cut.
    pub fn check(&self) -> std::io::Result<()> {
        if self.is_cut() {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "link to the peers cut (fault injection)",
            ))
        } else {
            Ok(())
        }
    }
}
