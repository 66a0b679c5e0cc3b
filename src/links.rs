//! Injected network faults between this node and its cluster peers: the in-process cluster's
//! "cut the cable" for tests and fault schedules.
//!
//! Contract: while a node's `PeerLinks` is cut, every inter-node exchange of that node fails as
//! if the network dropped it, in both directions, and client traffic is untouched:
//! - outbound (replica fetches, controller RPCs, Raft messages): connecting and every exchange
//!   fail at once with `ConnectionRefused`, and the connection in hand is dropped;
//! - inbound (the controller listener's connections, Raft frames, replica fetches arriving on a
//!   client listener): the connection is closed at its next frame, new ones at accept;
//! - one way (`set`): outbound alone fails only the exchanges this node starts (its own
//!   connections, as above) while its peers' connections to it work both ways; inbound alone
//!   is the mirror.
//!   That is what a firewall dropping one side's new connections does. Dropping every packet
//!   one way is not a separate case over TCP: no connection survives it in either direction,
//!   which is both cut.
//!
//! Healing restores nothing by itself: every peer path already reconnects after a failure. The
//! check is one atomic load, and nothing is cut unless a test asks.

use std::sync::atomic::{AtomicU8, Ordering};

const OUTBOUND: u8 = 1;
const INBOUND: u8 = 2;

/// One node's links to its peers (see the module doc).
#[derive(Debug, Default)]
pub struct PeerLinks {
    /// `OUTBOUND` | `INBOUND` bits of the directions cut.
    cut: AtomicU8,
}

impl PeerLinks {
    /// Sets exactly which directions are cut: `outbound`, the exchanges this node starts;
    /// `inbound`, those its peers start.
    pub fn set(&self, outbound: bool, inbound: bool) {
        let bits = if outbound { OUTBOUND } else { 0 } | if inbound { INBOUND } else { 0 };
        if self.cut.swap(bits, Ordering::AcqRel) != bits {
            tracing::warn!(
                outbound,
                inbound,
                "links to the peers changed (fault injection)"
            );
        }
    }

    /// Whether the peers' exchanges with this node are dropped (checked on the serving side).
    pub fn inbound_cut(&self) -> bool {
        self.cut.load(Ordering::Acquire) & INBOUND != 0
    }

    /// `Err(ConnectionRefused)` while this node's own exchanges are cut (checked by the side
    /// that connects, before and after each exchange).
    pub fn check(&self) -> std::io::Result<()> {
        if self.cut.load(Ordering::Acquire) & OUTBOUND != 0 {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "link to the peers cut (fault injection)",
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_direction_cuts_alone_and_both_restore_together() {
        let l = PeerLinks::default();
        assert!(l.check().is_ok() && !l.inbound_cut());
        l.set(true, false);
        assert!(l.check().is_err() && !l.inbound_cut());
        l.set(false, true);
        assert!(l.check().is_ok() && l.inbound_cut());
        l.set(true, true);
        assert!(l.check().is_err() && l.inbound_cut());
        l.set(false, false);
        assert!(l.check().is_ok() && !l.inbound_cut());
    }
}
