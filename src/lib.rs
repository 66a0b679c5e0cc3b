//! Gregor: a broker that speaks the Apache Kafka wire protocol.
//!
//! Unmodified Kafka clients produce to and consume from it; partition logs are stored on disk in
//! Kafka's own layout. See DESIGN.md for the whole map; in short:
//!
//! | module | owns | may use |
//! |---|---|---|
//! | `config`, `model`, `clock`, `links` | leaf types (`links`: injected faults between nodes) | std, serde |
//! | `protocol` | bytes <-> typed requests/responses; the only user of `kafka_protocol` | model |
//! | `log` | durable partition storage, batches as opaque bytes plus a parsed header | model, config, clock |
//! | `replication` | partition roles, high watermark, waiting for data, durable acks | log, model, config, clock |
//! | `controller` | cluster metadata and its `MetadataImage` | model, config, clock, links |
//! | `group` | consumer groups and committed offsets, as state machines | model, clock, its storage trait |
//! | `server` | sockets, dispatch, handlers, error codes | everything above |
//! | `embedded` | a broker inside the calling process, for tests | server |
//!
//! `tests/tidy.rs` enforces the table.

pub mod clock;
pub mod config;
pub mod controller;
pub mod embedded;
pub mod group;
pub mod links;
pub mod log;
pub mod model;
pub mod protocol;
pub mod replication;
pub mod server;
