//! Broker and topic configuration under Apache Kafka's own property names.
//!
//! # Contract
//!
//! * [`BrokerConfig::load`] reads three sources, later ones winning per property:
//!   the properties file < the environment (`KAFKA_*` variables, mapped as the `apache/kafka`
//!   Docker image maps them) < `--override key=value` arguments. Every value is validated once,
//!   at start-up; an invalid value or an unknown property name is a [`ConfigError`] that names
//!   the property, the value and what is accepted, never a panic and never a silent default.
//! * A name is accepted when it is a property Gregor uses, a `gregor.`-prefixed property Gregor
//!   defines, or a real Kafka 4.1 broker property Gregor does not use. The last kind lands in
//!   [`BrokerConfig::ignored`] (the caller logs each once) and its value is dropped, so secrets
//!   such as `ssl.keystore.password` are never kept or printed. Broker defaults of topic configs
//!   (`log.cleanup.policy`, `compression.type`, ...) are validated even though Gregor does not
//!   act on them, because DescribeConfigs reports them.
//! * An empty value (`key=`) means "not set": the property takes its default.
//! * Topic configs ([`TopicConfigs`]) are validated at CreateTopics / AlterConfigs time;
//!   [`BrokerConfig::topic_settings`] turns broker defaults plus a topic's overrides into the
//!   [`TopicSettings`] the log layer consumes.
//! * Every limit carries its unit in its name (Kafka's names, so `socket_request_max_bytes`).
//! * Roles, listeners and the quorum are checked as KafkaConfig checks them in KRaft mode:
//!   with `process.roles` set and containing `controller`, `controller.listener.names` names a
//!   listener in `listeners` (a controller-only node has only controller listeners); with just
//!   `broker`, `controller.listener.names` is set, no listener in `listeners` is a controller
//!   listener, and `node.id` is not a voter; on a controller, `controller.quorum.voters` (when
//!   given) is `id@host:port` syntax with distinct ids and contains `node.id`; on a broker, no
//!   advertised listener is a controller listener and `inter.broker.listener.name` names an
//!   advertised, non-controller listener. `broker.heartbeat.interval.ms` is below
//!   `broker.session.timeout.ms`; `replica.fetch.wait.max.ms` is at most
//!   `replica.socket.timeout.ms` and `replica.lag.time.max.ms`.
//! * Every listener speaks PLAINTEXT until Gregor has TLS and SASL:
//!   `listener.security.protocol.map` accepts only `NAME:PLAINTEXT` pairs and, when given,
//!   must map every listener; without it a listener named SSL, SASL_PLAINTEXT or SASL_SSL
//!   (which Kafka's default map gives those protocols) is an error.
//!
//! # Deliberate differences from Kafka 4.1
//!
//! * Unknown property names are errors (Kafka only warns), with a "did you mean" suggestion.
//! * Defaults that differ: `node.id` = 1, `listeners` = `PLAINTEXT://127.0.0.1:9092`,
//!   `log.dir` = `./gregor-data`, `offsets.topic.replication.factor` = 1,
//!   `group.initial.rebalance.delay.ms` = 0 (tests should not wait 3 s for a first rebalance).
//! * `segment.bytes` / `log.segment.bytes` accept any value >= 1 (Kafka: >= 1 MiB) so tests can
//!   roll segments after a few batches; the log layer always puts at least one batch in a segment.
//! * Retention values below -1 are rejected (Kafka treats any negative value as "forever").
//! * An unspecified listener host (`PLAINTEXT://:9092`, `0.0.0.0`, `::`) advertised by default is
//!   advertised as `localhost` (Kafka uses the canonical host name, which needs a system call).
//!   Port 0 (ephemeral) in an advertised listener means "the port actually bound": the server
//!   substitutes it.
//! * `process.roles` unset means a combined broker and controller (Kafka 4 refuses to start
//!   without it), so a node configured with none of the KRaft properties keeps working; the
//!   role-dependent listener checks above apply only when `process.roles` is given, except the
//!   voter-membership check, which applies to every controller.
//! * Timeouts and intervals of the broker heartbeat, the controller quorum and the replica
//!   fetcher must be at least 1 (Kafka does not validate most of them).
//! * Environment: Kubernetes service-link variables (`KAFKA_PORT`, `KAFKA_SERVICE_HOST`, ...)
//!   are skipped, and `CLUSTER_ID` (what the `apache/kafka` image reads) sets `gregor.cluster.id`.
//!
//! # Imports
//!
//! std and thiserror only; nothing from the rest of the crate.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

mod docs;

/// The largest properties file we read; a config file is a few KiB, anything this big is a mistake.
pub const CONFIG_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Unknown names longer than this get no "did you mean" (edit distance is quadratic).
const SUGGESTION_NAME_CHARS_MAX: usize = 200;

/// The largest edit distance at which a known name is suggested for an unknown one.
const SUGGESTION_DISTANCE_MAX: usize = 2;

/// Prefix of Gregor's own properties.
pub const GREGOR_PREFIX: &str = "gregor.";

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a configuration was rejected. Every message is a sentence for the person starting Gregor.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "unknown property `{name}`: it is neither an Apache Kafka broker property nor a Gregor \
         (`gregor.`) property{}",
        did_you_mean(.suggestion)
    )]
    UnknownProperty {
        name: String,
        suggestion: Option<String>,
    },

    #[error("invalid value `{value}` for property `{name}`: expected {expected}")]
    InvalidValue {
        name: String,
        value: String,
        expected: String,
    },

    #[error("unknown topic config `{name}`: it is not a Kafka 4.1 topic-level config")]
    UnknownTopicConfig { name: String },

    #[error("invalid value `{value}` for topic config `{name}`: expected {expected}")]
    InvalidTopicConfig {
        name: String,
        value: String,
        expected: String,
    },

    #[error("unknown group config `{name}`: it is not a Kafka 4.1 group-level config")]
    UnknownGroupConfig { name: String },

    #[error("invalid value `{value}` for group config `{name}`: expected {expected}")]
    InvalidGroupConfig {
        name: String,
        value: String,
        expected: String,
    },

    #[error("cannot read the config file `{}`: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Topic-level types consumed by the log layer
// ---------------------------------------------------------------------------------------------

/// How a topic stamps its records (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

impl TimestampType {
    /// Kafka's spelling of the value.
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// The effective settings of one topic: broker defaults with the topic's overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    /// `segment.bytes`: roll the active segment before it would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once its first batch is this old.
    pub segment_ms: i64,
    /// `segment.index.bytes`: roll when the offset index would pass this many bytes.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes`: add a sparse index entry after this many bytes of batches.
    pub index_interval_bytes: u64,
    /// `retention.ms`: delete segments whose newest record is older; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while the log is larger; -1 is unbounded.
    pub retention_bytes: i64,
    /// `flush.messages`: fsync after this many messages; 1 means fsync before every ack.
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the oldest unflushed write is this old.
    pub flush_ms: i64,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `max.message.bytes`: the largest record batch the topic accepts.
    pub max_message_bytes: u32,
    /// Not a topic config: the broker's `gregor.log.drop.behind.bytes` (0 = off).
    pub drop_behind_bytes: u64,
    /// `min.insync.replicas`: an acks=all write needs this many in-sync replicas.
    pub min_insync_replicas: i32,
    /// `unclean.leader.election.enable`: may a replica outside the ISR become leader.
    pub unclean_leader_election_enable: bool,
}

impl Default for TopicSettings {
    /// Kafka 4.1's defaults.
    fn default() -> Self {
        TopicSettings {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            message_timestamp_type: TimestampType::CreateTime,
            max_message_bytes: 1_048_588,
            drop_behind_bytes: 0,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Listeners
// ---------------------------------------------------------------------------------------------

/// One `NAME://host:port` endpoint of `listeners` or `advertised.listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Listener name, upper-cased as Kafka normalises it (`PLAINTEXT`, `CONTROLLER`, ...).
    pub name: String,
    /// Host name or IP literal, without IPv6 brackets; `0.0.0.0` for "all interfaces".
    pub host: String,
    /// TCP port; 0 asks the OS for an ephemeral port (tests).
    pub port: u16,
}

impl Listener {
    /// `host:port` in a form `ToSocketAddrs` accepts (IPv6 literals in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.name, self.address())
    }
}

const LISTENERS_EXPECTED: &str = "a comma-separated list of NAME://host:port (host may be empty \
    for all interfaces, IPv6 in brackets, port 0 to 65535, each name once)";

/// Parses a comma-separated `NAME://host:port` list. An empty host becomes `0.0.0.0`.
pub fn parse_listeners(value: &str) -> Result<Vec<Listener>, String> {
    let mut listeners = parse_listeners_as_given(value)?;
    for l in &mut listeners {
        if l.host.is_empty() {
            l.host = "0.0.0.0".to_string();
        }
    }
    Ok(listeners)
}

/// As [`parse_listeners`], but an empty host stays empty.
fn parse_listeners_as_given(value: &str) -> Result<Vec<Listener>, String> {
    let mut out: Vec<Listener> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let listener = parse_listener(item).ok_or_else(|| LISTENERS_EXPECTED.to_string())?;
        if out.iter().any(|l| l.name == listener.name) {
            return Err(format!(
                "{LISTENERS_EXPECTED}; listener name {} appears twice",
                listener.name
            ));
        }
        out.push(listener);
    }
    if out.is_empty() {
        return Err(format!("{LISTENERS_EXPECTED}; at least one listener"));
    }
    Ok(out)
}

fn parse_listener(item: &str) -> Option<Listener> {
    let (name, rest) = item.split_once("://")?;
    let name = normalise_listener_name(name)?;
    let (host, port) = parse_host_port(rest)?;
    Some(Listener {
        name,
        host: host.to_string(),
        port,
    })
}

const LISTENER_NAME_EXPECTED: &str = "listener name (letters, digits, `_` and `-`)";

/// A listener name upper-cased, or None when it is empty or has other characters.
fn normalise_listener_name(name: &str) -> Option<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then(|| name.to_ascii_uppercase())
}

/// `host:port` or `[ipv6]:port`; the host may be empty (all interfaces), the brackets are dropped.
fn parse_host_port(rest: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(after_bracket) = rest.strip_prefix('[') {
        let (host, tail) = after_bracket.split_once(']')?;
        let port = tail.strip_prefix(':')?;
        if host.is_empty() || !host.contains(':') {
            return None;
        }
        (host, port)
    } else {
        let (host, port) = rest.rsplit_once(':')?;
        if host.contains(':') {
            return None; // an IPv6 literal must be bracketed
        }
        (host, port)
    };
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'))
    {
        return None;
    }
    if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    Some((host, port))
}

const VOTERS_EXPECTED: &str = "a comma-separated list of id@host:port (id a node id of at least \
    0, each id once, IPv6 hosts in brackets)";

/// A syntactic check of `controller.quorum.voters`, returning the voter ids in order. (The
/// controller parses the list into its own types; config stays a leaf module.)
fn parse_voters_syntax(value: &str) -> Result<Vec<i32>, String> {
    let mut ids: Vec<i32> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, address) = item
            .split_once('@')
            .ok_or_else(|| VOTERS_EXPECTED.to_string())?;
        let id: i32 = match id.trim().parse() {
            Ok(id) if id >= 0 => id,
            _ => return Err(VOTERS_EXPECTED.to_string()),
        };
        match parse_host_port(address.trim()) {
            Some((host, _)) if !host.is_empty() => {}
            _ => return Err(VOTERS_EXPECTED.to_string()),
        }
        if ids.contains(&id) {
            return Err(format!("{VOTERS_EXPECTED}; voter {id} appears twice"));
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(format!("{VOTERS_EXPECTED}; at least one voter"));
    }
    Ok(ids)
}

/// Kafka's security protocols; Gregor serves only the first.
const SECURITY_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// `listener.security.protocol.map` as (listener name, protocol) pairs, names and protocols
/// upper-cased. Only PLAINTEXT is accepted until Gregor speaks TLS and SASL.
fn parse_protocol_map(value: &str) -> Result<Vec<(String, String)>, String> {
    let expected = || {
        "a comma-separated list of LISTENER_NAME:PROTOCOL, each name once (for example \
         PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT)"
            .to_string()
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, protocol) = item.split_once(':').ok_or_else(expected)?;
        let name = normalise_listener_name(name).ok_or_else(expected)?;
        let protocol = protocol.trim().to_ascii_uppercase();
        if !SECURITY_PROTOCOLS.contains(&protocol.as_str()) {
            return Err(format!(
                "{}; the protocol is one of {}",
                expected(),
                SECURITY_PROTOCOLS.join(", ")
            ));
        }
        if protocol != "PLAINTEXT" {
            return Err(format!(
                "PLAINTEXT for every listener: Gregor does not speak TLS or SASL yet, so listener \
                 {name} cannot use {protocol}"
            ));
        }
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(format!("{}; listener {name} appears twice", expected()));
        }
        pairs.push((name, protocol));
    }
    if pairs.is_empty() {
        return Err(expected());
    }
    Ok(pairs)
}

fn is_unspecified_host(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

// ---------------------------------------------------------------------------------------------
// Value kinds: validation and normalisation shared by broker and topic properties
// ---------------------------------------------------------------------------------------------

const I32_MAX: i64 = i32::MAX as i64;
const I16_MAX: i64 = i16::MAX as i64;

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An integer within `[min, max]` (Kafka's int, long and short types differ only in range).
    Int { min: i64, max: i64 },
    /// `true` / `false`, any case.
    Bool,
    /// A finite number within `[min, max]`.
    Double { min: f64, max: f64 },
    /// Exactly one of these (case-sensitive, like Kafka's `in(...)` validator).
    OneOf(&'static [&'static str]),
    /// One of these in any case, spelled as listed (Kafka's `CaseInsensitiveValidString`).
    OneOfAnyCase(&'static [&'static str]),
    /// A non-empty comma-separated list of these.
    ListOf(&'static [&'static str]),
    /// `*`, empty, or a comma list of `partition:broker`.
    ThrottledReplicas,
    /// `-1` or 1..=9.
    GzipLevel,
    /// Any string.
    Text,
    /// `NAME://host:port` list.
    Listeners,
    /// Comma-separated directories.
    Paths,
    /// A cluster id: 1 to 64 characters of the base64url alphabet.
    ClusterId,
    /// One listener name (`INTERNAL`), upper-cased as Kafka normalises it.
    ListenerName,
    /// A non-empty comma-separated list of distinct listener names, upper-cased.
    ListenerNames,
    /// `controller.quorum.voters`: a comma-separated list of `id@host:port`.
    Voters,
    /// `listener.security.protocol.map`: a comma-separated list of `NAME:PROTOCOL`.
    ProtocolMap,
}

impl Kind {
    /// Checks `value` (already trimmed, non-empty) and returns its normalised spelling, or a
    /// description of what is accepted.
    fn check(self, value: &str) -> Result<String, String> {
        match self {
            Kind::Int { min, max } => match value.parse::<i64>() {
                Ok(v) if v >= min && v <= max => Ok(v.to_string()),
                _ => Err(int_expected(min, max)),
            },
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "true" => Ok("true".into()),
                "false" => Ok("false".into()),
                _ => Err("true or false".into()),
            },
            Kind::Double { min, max } => match value.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= min && v <= max => Ok(format!("{v:?}")),
                _ => Err(format!("a number from {min:?} to {max:?}")),
            },
            Kind::OneOf(allowed) => {
                if allowed.contains(&value) {
                    Ok(value.to_string())
                } else {
                    Err(format!("one of {}", allowed.join(", ")))
                }
            }
            Kind::OneOfAnyCase(allowed) => {
                match allowed.iter().find(|a| a.eq_ignore_ascii_case(value)) {
                    Some(a) => Ok(a.to_string()),
                    None => Err(format!("one of {} (any case)", allowed.join(", "))),
                }
            }
            Kind::ListOf(allowed) => {
                let mut items: Vec<&str> = Vec::new();
                for item in value.split(',').map(str::trim) {
                    if !allowed.contains(&item) {
                        return Err(format!("a comma-separated list of {}", allowed.join(", ")));
                    }
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                Ok(items.join(","))
            }
            Kind::ThrottledReplicas => {
                let expected =
                    || "`*` or a comma-separated list of partition:broker pairs".to_string();
                if value == "*" {
                    return Ok(value.to_string());
                }
                let mut items = Vec::new();
                for item in value.split(',').map(str::trim) {
                    let (p, b) = item.split_once(':').ok_or_else(expected)?;
                    let p: u32 = p.trim().parse().map_err(|_| expected())?;
                    let b: u32 = b.trim().parse().map_err(|_| expected())?;
                    items.push(format!("{p}:{b}"));
                }
                Ok(items.join(","))
            }
            Kind::GzipLevel => match value.parse::<i64>() {
                Ok(v) if v == -1 || (1..=9).contains(&v) => Ok(v.to_string()),
                _ => Err("-1 (the codec's default) or an integer from 1 to 9".into()),
            },
            Kind::Text => Ok(value.to_string()),
            Kind::Listeners => parse_listeners(value).map(|_| value.to_string()),
            Kind::Paths => {
                let paths = split_list(value);
                if paths.is_empty() {
                    return Err("a comma-separated list of directories".into());
                }
                let mut seen = BTreeSet::new();
                for p in &paths {
                    if !seen.insert(*p) {
                        return Err(format!(
                            "a comma-separated list of distinct directories; `{p}` appears twice"
                        ));
                    }
                }
                Ok(paths.join(","))
            }
            Kind::ListenerName => match normalise_listener_name(value) {
                Some(name) => Ok(name),
                None => Err(LISTENER_NAME_EXPECTED.into()),
            },
            Kind::ListenerNames => {
                let mut names: Vec<String> = Vec::new();
                for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let name = normalise_listener_name(item).ok_or_else(|| {
                        format!("a comma-separated list of {LISTENER_NAME_EXPECTED}s")
                    })?;
                    if names.contains(&name) {
                        return Err(format!(
                            "a comma-separated list of distinct listener names; {name} appears twice"
                        ));
                    }
                    names.push(name);
                }
                if names.is_empty() {
                    return Err(format!("at least one {LISTENER_NAME_EXPECTED}"));
                }
                Ok(names.join(","))
            }
            Kind::Voters => parse_voters_syntax(value).map(|_| value.to_string()),
            Kind::ProtocolMap => parse_protocol_map(value).map(|pairs| {
                pairs
                    .iter()
                    .map(|(name, protocol)| format!("{name}:{protocol}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            Kind::ClusterId => {
                let ok = (1..=64).contains(&value.len())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if ok {
                    Ok(value.to_string())
                } else {
                    Err(
                        "1 to 64 characters from A-Z, a-z, 0-9, `-` and `_` (Kafka's own ids are \
                         22-character base64url UUIDs)"
                            .into(),
                    )
                }
            }
        }
    }
}

fn int_expected(min: i64, max: i64) -> String {
    if max == i64::MAX {
        format!("an integer of at least {min}")
    } else {
        format!("an integer from {min} to {max}")
    }
}

fn split_list(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Kafka's `ConfigDef.Type` of a config, as DescribeConfigs v3+ reports it in `config_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    /// The wire code (DescribeConfigsResponse's `ConfigType`).
    pub fn kafka_code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Short => 4,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
            ConfigType::Password => 9,
        }
    }
}

/// Kafka's type of a config of this kind. Kafka's LONGs are exactly the integers whose range
/// reaches i64::MAX here; the few names whose Kafka type the kind cannot tell are listed.
fn kafka_type(name: &str, kind: Kind) -> ConfigType {
    match name {
        "offsets.topic.replication.factor" => return ConfigType::Short,
        "controller.quorum.bootstrap.servers" => return ConfigType::List,
        _ => {}
    }
    match kind {
        Kind::Int { max, .. } if max == i64::MAX => ConfigType::Long,
        Kind::Int { .. } | Kind::GzipLevel => ConfigType::Int,
        Kind::Bool => ConfigType::Boolean,
        Kind::Double { .. } => ConfigType::Double,
        Kind::ListOf(_) | Kind::ThrottledReplicas | Kind::ListenerNames | Kind::Voters => {
            ConfigType::List
        }
        Kind::OneOf(_)
        | Kind::OneOfAnyCase(_)
        | Kind::Text
        | Kind::Listeners
        | Kind::Paths
        | Kind::ClusterId
        | Kind::ListenerName
        | Kind::ProtocolMap => ConfigType::String,
    }
}

// ---------------------------------------------------------------------------------------------
// Topic configs
// ---------------------------------------------------------------------------------------------

/// A broker property that supplies a topic config's default (Kafka calls these synonyms).
struct Synonym {
    name: &'static str,
    kind: Kind,
    /// Multiply a non-negative value by this to get the topic config's unit (hours -> ms).
    scale: i64,
    /// The broker property's own default, as DescribeConfigs shows it; None is Kafka's null.
    default: Option<&'static str>,
    /// Whether Gregor acts on it (false: accepted into `ignored`, but validated and described).
    used: bool,
}

struct TopicDef {
    name: &'static str,
    kind: Kind,
    /// Kafka 4.1's default, used when no synonym is set.
    default: &'static str,
    /// Broker properties supplying the default, most specific first.
    synonyms: &'static [Synonym],
}

const fn syn(name: &'static str, kind: Kind, default: Option<&'static str>, used: bool) -> Synonym {
    Synonym {
        name,
        kind,
        scale: 1,
        default,
        used,
    }
}

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_HOUR: i64 = 3_600_000;
const LONG_MAX_STR: &str = "9223372036854775807";

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

const CLEANUP_POLICIES: &[&str] = &["delete", "compact"];
const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];

/// Every Kafka 4.1 topic-level config, sorted by name.
static TOPIC_DEFS: &[TopicDef] = &[
    TopicDef {
        name: "cleanup.policy",
        kind: Kind::ListOf(CLEANUP_POLICIES),
        default: "delete",
        synonyms: &[syn(
            "log.cleanup.policy",
            Kind::ListOf(CLEANUP_POLICIES),
            Some("delete"),
            false,
        )],
    },
    TopicDef {
        name: "compression.gzip.level",
        kind: Kind::GzipLevel,
        default: "-1",
        synonyms: &[syn(
            "compression.gzip.level",
            Kind::GzipLevel,
            Some("-1"),
            false,
        )],
    },
    TopicDef {
        name: "compression.lz4.level",
        kind: int(1, 17),
        default: "9",
        synonyms: &[syn("compression.lz4.level", int(1, 17), Some("9"), false)],
    },
    TopicDef {
        name: "compression.type",
        kind: Kind::OneOf(COMPRESSION_TYPES),
        default: "producer",
        synonyms: &[syn(
            "compression.type",
            Kind::OneOf(COMPRESSION_TYPES),
            Some("producer"),
            false,
        )],
    },
    TopicDef {
        name: "compression.zstd.level",
        kind: int(-131_072, 22),
        default: "3",
        synonyms: &[syn(
            "compression.zstd.level",
            int(-131_072, 22),
            Some("3"),
            false,
        )],
    },
    TopicDef {
        name: "delete.retention.ms",
        kind: int(0, i64::MAX),
        default: "86400000",
        synonyms: &[syn(
            "log.cleaner.delete.retention.ms",
            int(0, i64::MAX),
            Some("86400000"),
            false,
        )],
    },
    TopicDef {
        name: "file.delete.delay.ms",
        kind: int(0, i64::MAX),
        default: "60000",
        synonyms: &[syn(
            "log.segment.delete.delay.ms",
            int(0, i64::MAX),
            Some("60000"),
            false,
        )],
    },
    TopicDef {
        name: "flush.messages",
        kind: int(1, i64::MAX),
        default: LONG_MAX_STR,
        synonyms: &[syn(
            "log.flush.interval.messages",
            int(1, i64::MAX),
            Some(LONG_MAX_STR),
            true,
        )],
    },
    TopicDef {
        name: "flush.ms",
        kind: int(0, i64::MAX),
        default: LONG_MAX_STR,
        synonyms: &[
            syn("log.flush.interval.ms", int(0, i64::MAX), None, true),
            syn(
                "log.flush.scheduler.interval.ms",
                int(0, i64::MAX),
                Some(LONG_MAX_STR),
                true,
            ),
        ],
    },
    TopicDef {
        name: "follower.replication.throttled.replicas",
        kind: Kind::ThrottledReplicas,
        default: "",
        synonyms: &[],
    },
    TopicDef {
        name: "index.interval.bytes",
        kind: int(0, I32_MAX),
        default: "4096",
        synonyms: &[syn(
            "log.index.interval.bytes",
            int(0, I32_MAX),
            Some("4096"),
            true,
        )],
    },
    TopicDef {
        name: "leader.replication.throttled.replicas",
        kind: Kind::ThrottledReplicas,
        default: "",
        synonyms: &[],
    },
    TopicDef {
        name: "local.retention.bytes",
        kind: int(-2, i64::MAX),
        default: "-2",
        synonyms: &[syn(
            "log.local.retention.bytes",
            int(-2, i64::MAX),
            Some("-2"),
            false,
        )],
    },
    TopicDef {
        name: "local.retention.ms",
        kind: int(-2, i64::MAX),
        default: "-2",
        synonyms: &[syn(
            "log.local.retention.ms",
            int(-2, i64::MAX),
            Some("-2"),
            false,
        )],
    },
    TopicDef {
        name: "max.compaction.lag.ms",
        kind: int(1, i64::MAX),
        default: LONG_MAX_STR,
        synonyms: &[syn(
            "log.cleaner.max.compaction.lag.ms",
            int(1, i64::MAX),
            Some(LONG_MAX_STR),
            false,
        )],
    },
    TopicDef {
        name: "max.message.bytes",
        kind: int(0, I32_MAX),
        default: "1048588",
        synonyms: &[syn(
            "message.max.bytes",
            int(0, I32_MAX),
            Some("1048588"),
            true,
        )],
    },
    TopicDef {
        name: "message.timestamp.after.max.ms",
        kind: int(0, i64::MAX),
        default: "3600000",
        synonyms: &[syn(
            "log.message.timestamp.after.max.ms",
            int(0, i64::MAX),
            Some("3600000"),
            false,
        )],
    },
    TopicDef {
        name: "message.timestamp.before.max.ms",
        kind: int(0, i64::MAX),
        default: LONG_MAX_STR,
        synonyms: &[syn(
            "log.message.timestamp.before.max.ms",
            int(0, i64::MAX),
            Some(LONG_MAX_STR),
            false,
        )],
    },
    TopicDef {
        name: "message.timestamp.type",
        kind: Kind::OneOf(TIMESTAMP_TYPES),
        default: "CreateTime",
        synonyms: &[syn(
            "log.message.timestamp.type",
            Kind::OneOf(TIMESTAMP_TYPES),
            Some("CreateTime"),
            true,
        )],
    },
    TopicDef {
        name: "min.cleanable.dirty.ratio",
        kind: Kind::Double { min: 0.0, max: 1.0 },
        default: "0.5",
        synonyms: &[syn(
            "log.cleaner.min.cleanable.ratio",
            Kind::Double { min: 0.0, max: 1.0 },
            Some("0.5"),
            false,
        )],
    },
    TopicDef {
        name: "min.compaction.lag.ms",
        kind: int(0, i64::MAX),
        default: "0",
        synonyms: &[syn(
            "log.cleaner.min.compaction.lag.ms",
            int(0, i64::MAX),
            Some("0"),
            false,
        )],
    },
    TopicDef {
        name: "min.insync.replicas",
        kind: int(1, I32_MAX),
        default: "1",
        synonyms: &[syn("min.insync.replicas", int(1, I32_MAX), Some("1"), true)],
    },
    TopicDef {
        name: "preallocate",
        kind: Kind::Bool,
        default: "false",
        synonyms: &[syn("log.preallocate", Kind::Bool, Some("false"), false)],
    },
    TopicDef {
        name: "remote.log.copy.disable",
        kind: Kind::Bool,
        default: "false",
        synonyms: &[],
    },
    TopicDef {
        name: "remote.log.delete.on.disable",
        kind: Kind::Bool,
        default: "false",
        synonyms: &[],
    },
    TopicDef {
        name: "remote.storage.enable",
        kind: Kind::Bool,
        default: "false",
        synonyms: &[],
    },
    TopicDef {
        name: "retention.bytes",
        kind: int(-1, i64::MAX),
        default: "-1",
        synonyms: &[syn(
            "log.retention.bytes",
            int(-1, i64::MAX),
            Some("-1"),
            true,
        )],
    },
    TopicDef {
        name: "retention.ms",
        kind: int(-1, i64::MAX),
        default: "604800000",
        synonyms: &[
            syn("log.retention.ms", int(-1, i64::MAX), None, true),
            Synonym {
                name: "log.retention.minutes",
                kind: int(-1, I32_MAX),
                scale: MS_PER_MINUTE,
                default: None,
                used: true,
            },
            Synonym {
                name: "log.retention.hours",
                kind: int(-1, I32_MAX),
                scale: MS_PER_HOUR,
                default: Some("168"),
                used: true,
            },
        ],
    },
    TopicDef {
        name: "segment.bytes",
        kind: int(1, I32_MAX),
        default: "1073741824",
        synonyms: &[syn(
            "log.segment.bytes",
            int(1, I32_MAX),
            Some("1073741824"),
            true,
        )],
    },
    TopicDef {
        name: "segment.index.bytes",
        kind: int(4, I32_MAX),
        default: "10485760",
        synonyms: &[syn(
            "log.index.size.max.bytes",
            int(4, I32_MAX),
            Some("10485760"),
            true,
        )],
    },
    TopicDef {
        name: "segment.jitter.ms",
        kind: int(0, i64::MAX),
        default: "0",
        synonyms: &[
            syn("log.roll.jitter.ms", int(0, i64::MAX), None, false),
            Synonym {
                name: "log.roll.jitter.hours",
                kind: int(0, I32_MAX),
                scale: MS_PER_HOUR,
                default: Some("0"),
                used: false,
            },
        ],
    },
    TopicDef {
        name: "segment.ms",
        kind: int(1, i64::MAX),
        default: "604800000",
        synonyms: &[
            syn("log.roll.ms", int(1, i64::MAX), None, true),
            Synonym {
                name: "log.roll.hours",
                kind: int(1, I32_MAX),
                scale: MS_PER_HOUR,
                default: Some("168"),
                used: true,
            },
        ],
    },
    TopicDef {
        name: "unclean.leader.election.enable",
        kind: Kind::Bool,
        default: "false",
        synonyms: &[syn(
            "unclean.leader.election.enable",
            Kind::Bool,
            Some("false"),
            true,
        )],
    },
];

fn topic_def(name: &str) -> Option<&'static TopicDef> {
    TOPIC_DEFS.iter().find(|d| d.name == name)
}

fn synonym(name: &str) -> Option<&'static Synonym> {
    TOPIC_DEFS
        .iter()
        .flat_map(|d| d.synonyms.iter())
        .find(|s| s.name == name)
}

/// Names and validation of topic-level configs (CreateTopics, AlterConfigs, DescribeConfigs).
pub struct TopicConfigs;

impl TopicConfigs {
    /// Every Kafka 4.1 topic config name, sorted.
    pub fn names() -> impl Iterator<Item = &'static str> {
        TOPIC_DEFS.iter().map(|d| d.name)
    }

    /// Whether `name` is a topic config.
    pub fn is_known(name: &str) -> bool {
        topic_def(name).is_some()
    }

    /// Validates one topic config and returns its normalised value (an empty value is accepted
    /// only where Kafka's default is empty, i.e. the throttled-replica lists).
    pub fn validate(name: &str, value: &str) -> Result<String, ConfigError> {
        let def = topic_def(name).ok_or_else(|| ConfigError::UnknownTopicConfig {
            name: name.to_string(),
        })?;
        let trimmed = value.trim();
        if trimmed.is_empty() && def.default.is_empty() {
            return Ok(String::new());
        }
        def.kind
            .check(trimmed)
            .map_err(|expected| ConfigError::InvalidTopicConfig {
                name: name.to_string(),
                value: value.to_string(),
                expected,
            })
    }

    /// Validates every override and returns them normalised; the first bad one is the error.
    pub fn validate_all(
        overrides: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        overrides
            .iter()
            .map(|(k, v)| Ok((k.clone(), Self::validate(k, v)?)))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Group configs (KIP-848 / KIP-932 / KIP-1071 dynamic group configs)
// ---------------------------------------------------------------------------------------------

struct GroupDef {
    name: &'static str,
    kind: Kind,
    /// The broker property supplying the default.
    synonym: Option<&'static str>,
    /// Kafka 4.1's default when there is no synonym.
    default: &'static str,
    /// Broker properties bounding the value (Kafka's GroupConfig.validateValues).
    min_property: Option<&'static str>,
    max_property: Option<&'static str>,
}

const fn gd(
    name: &'static str,
    kind: Kind,
    synonym: Option<&'static str>,
    default: &'static str,
    bounds: Option<(&'static str, &'static str)>,
) -> GroupDef {
    let (min_property, max_property) = match bounds {
        Some((lo, hi)) => (Some(lo), Some(hi)),
        None => (None, None),
    };
    GroupDef {
        name,
        kind,
        synonym,
        default,
        min_property,
        max_property,
    }
}

const SHARE_ISOLATION_LEVELS: &[&str] = &["read_committed", "read_uncommitted"];

/// Every Kafka 4.1 group config, sorted by name.
static GROUP_DEFS: &[GroupDef] = &[
    gd(
        "consumer.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("group.consumer.heartbeat.interval.ms"),
        "5000",
        Some((
            "group.consumer.min.heartbeat.interval.ms",
            "group.consumer.max.heartbeat.interval.ms",
        )),
    ),
    gd(
        "consumer.session.timeout.ms",
        int(1, I32_MAX),
        Some("group.consumer.session.timeout.ms"),
        "45000",
        Some((
            "group.consumer.min.session.timeout.ms",
            "group.consumer.max.session.timeout.ms",
        )),
    ),
    gd("share.auto.offset.reset", Kind::Text, None, "latest", None),
    gd(
        "share.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("group.share.heartbeat.interval.ms"),
        "5000",
        Some((
            "group.share.min.heartbeat.interval.ms",
            "group.share.max.heartbeat.interval.ms",
        )),
    ),
    gd(
        "share.isolation.level",
        Kind::OneOf(SHARE_ISOLATION_LEVELS),
        None,
        "read_uncommitted",
        None,
    ),
    gd(
        "share.record.lock.duration.ms",
        int(1000, I32_MAX),
        Some("group.share.record.lock.duration.ms"),
        "30000",
        Some((
            "group.share.min.record.lock.duration.ms",
            "group.share.max.record.lock.duration.ms",
        )),
    ),
    gd(
        "share.session.timeout.ms",
        int(1, I32_MAX),
        Some("group.share.session.timeout.ms"),
        "45000",
        Some((
            "group.share.min.session.timeout.ms",
            "group.share.max.session.timeout.ms",
        )),
    ),
    gd(
        "streams.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("group.streams.heartbeat.interval.ms"),
        "5000",
        Some((
            "group.streams.min.heartbeat.interval.ms",
            "group.streams.max.heartbeat.interval.ms",
        )),
    ),
    gd(
        "streams.num.standby.replicas",
        int(0, I32_MAX),
        Some("group.streams.num.standby.replicas"),
        "0",
        None,
    ),
    gd(
        "streams.session.timeout.ms",
        int(1, I32_MAX),
        Some("group.streams.session.timeout.ms"),
        "45000",
        Some((
            "group.streams.min.session.timeout.ms",
            "group.streams.max.session.timeout.ms",
        )),
    ),
];

fn group_def(name: &str) -> Option<&'static GroupDef> {
    GROUP_DEFS.iter().find(|d| d.name == name)
}

/// `share.auto.offset.reset`: latest, earliest, or `by_duration:` and an ISO-8601 duration.
fn check_share_auto_offset_reset(value: &str) -> Result<String, String> {
    let ok = match value.strip_prefix("by_duration:") {
        Some(d) => d.starts_with('P') || d.starts_with("-P"),
        None => value == "latest" || value == "earliest",
    };
    if ok {
        Ok(value.to_string())
    } else {
        Err("latest, earliest or by_duration:<ISO-8601 duration>".into())
    }
}

// ---------------------------------------------------------------------------------------------
// Broker properties Gregor uses
// ---------------------------------------------------------------------------------------------

struct BrokerDef {
    name: &'static str,
    kind: Kind,
    /// Gregor's default (Kafka's unless the module doc says otherwise); None is Kafka's null.
    default: Option<&'static str>,
}

const fn bp(name: &'static str, kind: Kind, default: Option<&'static str>) -> BrokerDef {
    BrokerDef {
        name,
        kind,
        default,
    }
}

const PROCESS_ROLES: &[&str] = &["broker", "controller"];
/// `group.consumer.migration.policy` (KIP-848 online migration between the classic and the
/// consumer protocol).
const MIGRATION_POLICIES: &[&str] = &["disabled", "upgrade", "downgrade", "bidirectional"];

/// Broker properties Gregor uses that are not topic-config synonyms, sorted by name.
static BROKER_DEFS: &[BrokerDef] = &[
    bp("advertised.listeners", Kind::Listeners, None),
    bp("auto.create.topics.enable", Kind::Bool, Some("true")),
    bp("auto.leader.rebalance.enable", Kind::Bool, Some("true")),
    bp(
        "broker.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("2000"),
    ),
    bp("broker.id", int(0, I32_MAX), None),
    bp("broker.rack", Kind::Text, None),
    bp("broker.session.timeout.ms", int(1, I32_MAX), Some("9000")),
    bp("connections.max.idle.ms", int(1, i64::MAX), Some("600000")),
    bp("controlled.shutdown.enable", Kind::Bool, Some("true")),
    bp("controller.listener.names", Kind::ListenerNames, None),
    bp("controller.quorum.bootstrap.servers", Kind::Text, None),
    bp(
        "controller.quorum.election.timeout.ms",
        int(1, I32_MAX),
        Some("1000"),
    ),
    bp(
        "controller.quorum.fetch.timeout.ms",
        int(1, I32_MAX),
        Some("2000"),
    ),
    bp(
        "controller.quorum.request.timeout.ms",
        int(1, I32_MAX),
        Some("2000"),
    ),
    bp("controller.quorum.voters", Kind::Voters, None),
    bp("default.replication.factor", int(1, I16_MAX), Some("1")),
    bp("delete.topic.enable", Kind::Bool, Some("true")),
    bp("fetch.max.bytes", int(1024, I32_MAX), Some("57671680")),
    bp(
        "group.consumer.assignors",
        Kind::Text,
        Some("uniform,range"),
    ),
    bp(
        "group.consumer.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("5000"),
    ),
    bp(
        "group.consumer.max.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("15000"),
    ),
    bp(
        "group.consumer.max.session.timeout.ms",
        int(1, I32_MAX),
        Some("60000"),
    ),
    bp(
        "group.consumer.max.size",
        int(1, I32_MAX),
        Some("2147483647"),
    ),
    bp(
        "group.consumer.migration.policy",
        Kind::OneOfAnyCase(MIGRATION_POLICIES),
        Some("bidirectional"),
    ),
    bp(
        "group.consumer.min.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("5000"),
    ),
    bp(
        "group.consumer.min.session.timeout.ms",
        int(1, I32_MAX),
        Some("45000"),
    ),
    bp(
        "group.consumer.session.timeout.ms",
        int(1, I32_MAX),
        Some("45000"),
    ),
    bp(
        "group.initial.rebalance.delay.ms",
        int(0, I32_MAX),
        Some("0"),
    ),
    bp(
        "group.max.session.timeout.ms",
        int(0, I32_MAX),
        Some("1800000"),
    ),
    bp("group.max.size", int(1, I32_MAX), Some("2147483647")),
    bp(
        "group.min.session.timeout.ms",
        int(0, I32_MAX),
        Some("6000"),
    ),
    bp(
        "group.share.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("5000"),
    ),
    bp(
        "group.share.max.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("15000"),
    ),
    bp(
        "group.share.max.record.lock.duration.ms",
        int(1000, I32_MAX),
        Some("60000"),
    ),
    bp(
        "group.share.max.session.timeout.ms",
        int(1, I32_MAX),
        Some("60000"),
    ),
    bp(
        "group.share.min.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("5000"),
    ),
    bp(
        "group.share.min.record.lock.duration.ms",
        int(1000, I32_MAX),
        Some("15000"),
    ),
    bp(
        "group.share.min.session.timeout.ms",
        int(1, I32_MAX),
        Some("45000"),
    ),
    bp(
        "group.share.record.lock.duration.ms",
        int(1000, I32_MAX),
        Some("30000"),
    ),
    bp(
        "group.share.session.timeout.ms",
        int(1, I32_MAX),
        Some("45000"),
    ),
    bp(
        "group.streams.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("5000"),
    ),
    bp(
        "group.streams.max.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("15000"),
    ),
    bp(
        "group.streams.max.session.timeout.ms",
        int(1, I32_MAX),
        Some("60000"),
    ),
    bp(
        "group.streams.max.standby.replicas",
        int(0, I32_MAX),
        Some("2"),
    ),
    bp(
        "group.streams.min.heartbeat.interval.ms",
        int(1, I32_MAX),
        Some("5000"),
    ),
    bp(
        "group.streams.min.session.timeout.ms",
        int(1, I32_MAX),
        Some("45000"),
    ),
    bp(
        "group.streams.num.standby.replicas",
        int(0, I32_MAX),
        Some("0"),
    ),
    bp(
        "group.streams.session.timeout.ms",
        int(1, I32_MAX),
        Some("45000"),
    ),
    bp("inter.broker.listener.name", Kind::ListenerName, None),
    bp(
        "leader.imbalance.check.interval.seconds",
        int(1, i64::MAX),
        Some("300"),
    ),
    bp(
        "leader.imbalance.per.broker.percentage",
        int(0, 100),
        Some("10"),
    ),
    bp("listener.security.protocol.map", Kind::ProtocolMap, None),
    bp(
        "listeners",
        Kind::Listeners,
        Some("PLAINTEXT://127.0.0.1:9092"),
    ),
    bp("log.dir", Kind::Paths, Some("./gregor-data")),
    bp("log.dirs", Kind::Paths, None),
    bp(
        "log.retention.check.interval.ms",
        int(1, i64::MAX),
        Some("300000"),
    ),
    bp("max.connections", int(0, I32_MAX), Some("2147483647")),
    bp("node.id", int(0, I32_MAX), Some("1")),
    bp("num.partitions", int(1, I32_MAX), Some("1")),
    bp("offsets.retention.minutes", int(1, I32_MAX), Some("10080")),
    bp("offsets.topic.num.partitions", int(1, I32_MAX), Some("50")),
    bp(
        "offsets.topic.replication.factor",
        int(1, I16_MAX),
        Some("1"),
    ),
    bp("process.roles", Kind::ListOf(PROCESS_ROLES), None),
    bp(
        "producer.id.expiration.ms",
        int(1, I32_MAX),
        Some("86400000"),
    ),
    bp("queued.max.requests", int(1, I32_MAX), Some("500")),
    bp("replica.fetch.backoff.ms", int(0, I32_MAX), Some("1000")),
    bp("replica.fetch.max.bytes", int(0, I32_MAX), Some("1048576")),
    bp("replica.fetch.min.bytes", int(0, I32_MAX), Some("1")),
    bp(
        "replica.fetch.response.max.bytes",
        int(0, I32_MAX),
        Some("10485760"),
    ),
    bp("replica.fetch.wait.max.ms", int(0, I32_MAX), Some("500")),
    bp("replica.lag.time.max.ms", int(1, i64::MAX), Some("30000")),
    bp("replica.socket.timeout.ms", int(1, I32_MAX), Some("30000")),
    bp(
        "socket.request.max.bytes",
        int(1, I32_MAX),
        Some("104857600"),
    ),
    bp(
        "transaction.max.timeout.ms",
        int(1, I32_MAX),
        Some("900000"),
    ),
    bp(
        "transactional.id.expiration.ms",
        int(1, I32_MAX),
        Some("604800000"),
    ),
];

/// Gregor's own properties (all under `gregor.`).
static GREGOR_DEFS: &[BrokerDef] = &[
    bp("gregor.cluster.id", Kind::ClusterId, None),
    bp(
        "gregor.log.drop.behind.bytes",
        int(0, i64::MAX),
        Some("16777216"),
    ),
    bp(
        "gregor.legacy.api.versions.enable",
        Kind::Bool,
        Some("true"),
    ),
];

fn broker_def(name: &str) -> Option<&'static BrokerDef> {
    BROKER_DEFS
        .iter()
        .chain(GREGOR_DEFS.iter())
        .find(|d| d.name == name)
}

/// Apache Kafka 4.1 broker properties (KafkaConfig and the config classes it merges: server,
/// log, socket server, replication, group and share coordinators, transactions, KRaft and quorum,
/// remote log manager, quotas, metrics, security, SSL, SASL, delegation tokens), plus a few
/// removed in 4.0 that old config files still carry. Gregor accepts them and reports the ones it
/// does not use in [`BrokerConfig::ignored`].
#[rustfmt::skip]
static KAFKA_BROKER_PROPERTIES: &[&str] = &[
    "add.partitions.to.txn.retry.backoff.max.ms", "add.partitions.to.txn.retry.backoff.ms",
    "advertised.listeners", "allow.everyone.if.no.acl.found", "alter.config.policy.class.name",
    "alter.log.dirs.replication.quota.window.num",
    "alter.log.dirs.replication.quota.window.size.seconds", "authorizer.class.name",
    "auto.create.topics.enable", "auto.include.jmx.reporter", "auto.leader.rebalance.enable",
    "background.threads", "broker.heartbeat.interval.ms", "broker.id",
    "broker.id.generation.enable", "broker.rack", "broker.session.timeout.ms",
    "client.quota.callback.class", "compression.gzip.level", "compression.lz4.level",
    "compression.type", "compression.zstd.level", "config.providers",
    "connection.failed.authentication.delay.ms", "connections.max.idle.ms",
    "connections.max.reauth.ms", "controlled.shutdown.enable", "controlled.shutdown.max.retries",
    "controlled.shutdown.retry.backoff.ms", "controller.listener.names",
    "controller.performance.always.log.threshold.ms", "controller.performance.sample.period.ms",
    "controller.quorum.append.linger.ms", "controller.quorum.auto.join.enable",
    "controller.quorum.bootstrap.servers", "controller.quorum.election.backoff.max.ms",
    "controller.quorum.election.timeout.ms", "controller.quorum.fetch.max.bytes",
    "controller.quorum.fetch.snapshot.max.bytes", "controller.quorum.fetch.timeout.ms",
    "controller.quorum.request.timeout.ms", "controller.quorum.retry.backoff.ms",
    "controller.quorum.voters", "controller.quota.window.num",
    "controller.quota.window.size.seconds", "controller.socket.timeout.ms", "cordoned.log.dirs",
    "create.topic.policy.class.name", "default.replication.factor",
    "delegation.token.expiry.check.interval.ms", "delegation.token.expiry.time.ms",
    "delegation.token.master.key", "delegation.token.max.lifetime.ms",
    "delegation.token.secret.key", "delete.records.purgatory.purge.interval.requests",
    "delete.topic.enable", "early.start.listeners", "eligible.leader.replicas.enable",
    "fetch.max.bytes", "fetch.purgatory.purge.interval.requests",
    "follower.fetch.last.tiered.offset.enable", "group.consumer.assignment.interval.ms",
    "group.consumer.assignors", "group.consumer.heartbeat.interval.ms",
    "group.consumer.max.assignment.interval.ms", "group.consumer.max.heartbeat.interval.ms",
    "group.consumer.max.session.timeout.ms", "group.consumer.max.size",
    "group.consumer.migration.policy", "group.consumer.min.assignment.interval.ms",
    "group.consumer.min.heartbeat.interval.ms", "group.consumer.min.session.timeout.ms",
    "group.consumer.regex.refresh.interval.ms", "group.consumer.session.timeout.ms",
    "group.coordinator.append.linger.ms", "group.coordinator.background.threads",
    "group.coordinator.cached.buffer.max.bytes", "group.coordinator.new.enable",
    "group.coordinator.rebalance.protocols", "group.coordinator.threads",
    "group.initial.rebalance.delay.ms", "group.max.session.timeout.ms", "group.max.size",
    "group.min.session.timeout.ms", "group.share.assignment.interval.ms", "group.share.assignors",
    "group.share.delivery.count.limit", "group.share.enable", "group.share.heartbeat.interval.ms",
    "group.share.initialize.retry.interval.ms", "group.share.max.assignment.interval.ms",
    "group.share.max.delivery.count.limit", "group.share.max.groups",
    "group.share.max.heartbeat.interval.ms", "group.share.max.partition.max.record.locks",
    "group.share.max.record.lock.duration.ms", "group.share.max.session.timeout.ms",
    "group.share.max.share.sessions", "group.share.max.size",
    "group.share.min.assignment.interval.ms", "group.share.min.delivery.count.limit",
    "group.share.min.heartbeat.interval.ms", "group.share.min.partition.max.record.locks",
    "group.share.min.record.lock.duration.ms", "group.share.min.session.timeout.ms",
    "group.share.partition.max.record.locks", "group.share.persister.class.name",
    "group.share.record.lock.duration.ms", "group.share.session.timeout.ms",
    "group.streams.assignment.interval.ms", "group.streams.heartbeat.interval.ms",
    "group.streams.initial.rebalance.delay.ms", "group.streams.max.assignment.interval.ms",
    "group.streams.max.heartbeat.interval.ms", "group.streams.max.session.timeout.ms",
    "group.streams.max.size", "group.streams.max.standby.replicas",
    "group.streams.min.assignment.interval.ms", "group.streams.min.heartbeat.interval.ms",
    "group.streams.min.session.timeout.ms", "group.streams.num.standby.replicas",
    "group.streams.session.timeout.ms", "initial.broker.registration.timeout.ms",
    "inter.broker.listener.name", "inter.broker.protocol.version",
    "internal.metadata.delete.delay.millis", "internal.metadata.log.segment.bytes",
    "internal.metadata.max.batch.size.in.bytes", "kafka.metrics.polling.interval.secs",
    "kafka.metrics.reporters", "leader.imbalance.check.interval.seconds",
    "leader.imbalance.per.broker.percentage", "listener.security.protocol.map", "listeners",
    "log.cleaner.backoff.ms", "log.cleaner.dedupe.buffer.size", "log.cleaner.delete.retention.ms",
    "log.cleaner.enable", "log.cleaner.io.buffer.load.factor", "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second", "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.min.cleanable.ratio", "log.cleaner.min.compaction.lag.ms", "log.cleaner.threads",
    "log.cleanup.policy", "log.dir", "log.dir.failure.timeout.ms", "log.dirs",
    "log.flush.interval.messages", "log.flush.interval.ms",
    "log.flush.offset.checkpoint.interval.ms", "log.flush.scheduler.interval.ms",
    "log.flush.start.offset.checkpoint.interval.ms", "log.index.interval.bytes",
    "log.index.size.max.bytes", "log.initial.task.delay.ms", "log.local.retention.bytes",
    "log.local.retention.ms", "log.message.downconversion.enable", "log.message.format.version",
    "log.message.timestamp.after.max.ms", "log.message.timestamp.before.max.ms",
    "log.message.timestamp.difference.max.ms", "log.message.timestamp.type", "log.preallocate",
    "log.retention.bytes", "log.retention.check.interval.ms", "log.retention.hours",
    "log.retention.minutes", "log.retention.ms", "log.roll.hours", "log.roll.jitter.hours",
    "log.roll.jitter.ms", "log.roll.ms", "log.segment.bytes", "log.segment.delete.delay.ms",
    "max.connection.creation.rate", "max.connections", "max.connections.per.ip",
    "max.connections.per.ip.overrides", "max.incremental.fetch.session.cache.slots",
    "max.request.partition.size.limit", "message.max.bytes", "metadata.log.dir",
    "metadata.log.max.record.bytes.between.snapshots", "metadata.log.max.snapshot.interval.ms",
    "metadata.log.segment.bytes", "metadata.log.segment.min.bytes", "metadata.log.segment.ms",
    "metadata.max.idle.interval.ms", "metadata.max.retention.bytes", "metadata.max.retention.ms",
    "metric.reporters", "metrics.num.samples", "metrics.recording.level",
    "metrics.sample.window.ms", "min.insync.replicas", "node.id", "num.io.threads",
    "num.network.threads", "num.partitions", "num.recovery.threads.per.data.dir",
    "num.replica.alter.log.dirs.threads", "num.replica.fetchers", "offset.metadata.max.bytes",
    "offsets.commit.required.acks", "offsets.commit.timeout.ms", "offsets.load.buffer.size",
    "offsets.retention.check.interval.ms", "offsets.retention.minutes",
    "offsets.topic.compression.codec", "offsets.topic.num.partitions",
    "offsets.topic.replication.factor", "offsets.topic.segment.bytes",
    "password.encoder.cipher.algorithm", "password.encoder.iterations",
    "password.encoder.key.length", "password.encoder.keyfactory.algorithm",
    "password.encoder.old.secret", "password.encoder.secret", "principal.builder.class",
    "process.roles", "producer.id.expiration.check.interval.ms", "producer.id.expiration.ms",
    "producer.purgatory.purge.interval.requests", "queued.max.request.bytes", "queued.max.requests",
    "quota.window.num", "quota.window.size.seconds", "remote.fetch.max.wait.ms",
    "remote.list.offsets.request.timeout.ms", "remote.log.index.file.cache.total.size.bytes",
    "remote.log.index.file.cache.ttl.ms", "remote.log.manager.copier.thread.pool.size",
    "remote.log.manager.copy.max.bytes.per.second", "remote.log.manager.copy.quota.window.num",
    "remote.log.manager.copy.quota.window.size.seconds",
    "remote.log.manager.expiration.thread.pool.size",
    "remote.log.manager.fetch.max.bytes.per.second", "remote.log.manager.fetch.quota.window.num",
    "remote.log.manager.fetch.quota.window.size.seconds",
    "remote.log.manager.follower.thread.pool.size", "remote.log.manager.task.interval.ms",
    "remote.log.manager.task.retry.backoff.max.ms", "remote.log.manager.task.retry.backoff.ms",
    "remote.log.manager.task.retry.jitter", "remote.log.manager.thread.pool.size",
    "remote.log.metadata.custom.metadata.max.bytes", "remote.log.metadata.manager.class.name",
    "remote.log.metadata.manager.class.path", "remote.log.metadata.manager.impl.prefix",
    "remote.log.metadata.manager.listener.name", "remote.log.reader.max.pending.tasks",
    "remote.log.reader.threads", "remote.log.storage.manager.class.name",
    "remote.log.storage.manager.class.path", "remote.log.storage.manager.impl.prefix",
    "remote.log.storage.system.enable", "replica.fetch.backoff.ms", "replica.fetch.max.bytes",
    "replica.fetch.min.bytes", "replica.fetch.response.max.bytes", "replica.fetch.wait.max.ms",
    "replica.high.watermark.checkpoint.interval.ms", "replica.lag.time.max.ms",
    "replica.selector.class", "replica.socket.receive.buffer.bytes", "replica.socket.timeout.ms",
    "replication.quota.window.num", "replication.quota.window.size.seconds", "request.timeout.ms",
    "reserved.broker.max.id", "sasl.client.callback.handler.class", "sasl.enabled.mechanisms",
    "sasl.jaas.config", "sasl.kerberos.kinit.cmd", "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal.to.local.rules", "sasl.kerberos.service.name",
    "sasl.kerberos.ticket.renew.jitter", "sasl.kerberos.ticket.renew.window.factor",
    "sasl.login.callback.handler.class", "sasl.login.class", "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms", "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds", "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter", "sasl.login.retry.backoff.max.ms",
    "sasl.login.retry.backoff.ms", "sasl.mechanism.controller.protocol",
    "sasl.mechanism.inter.broker.protocol", "sasl.oauthbearer.assertion.algorithm",
    "sasl.oauthbearer.assertion.claim.aud", "sasl.oauthbearer.assertion.claim.exp.seconds",
    "sasl.oauthbearer.assertion.claim.iss", "sasl.oauthbearer.assertion.claim.jti.include",
    "sasl.oauthbearer.assertion.claim.nbf.seconds", "sasl.oauthbearer.assertion.claim.sub",
    "sasl.oauthbearer.assertion.file", "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.passphrase", "sasl.oauthbearer.assertion.template.file",
    "sasl.oauthbearer.client.credentials.client.id",
    "sasl.oauthbearer.client.credentials.client.secret", "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.expected.audience", "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.header.urlencode", "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwt.retriever.class", "sasl.oauthbearer.jwt.validator.class",
    "sasl.oauthbearer.scope", "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.sub.claim.name", "sasl.oauthbearer.token.endpoint.url",
    "sasl.server.callback.handler.class", "sasl.server.max.receive.size",
    "security.inter.broker.protocol", "security.providers", "server.max.startup.time.ms",
    "share.coordinator.append.linger.ms", "share.coordinator.cached.buffer.max.bytes",
    "share.coordinator.cold.partition.snapshot.interval.ms", "share.coordinator.load.buffer.size",
    "share.coordinator.snapshot.update.records.per.snapshot",
    "share.coordinator.state.topic.compression.codec", "share.coordinator.state.topic.min.isr",
    "share.coordinator.state.topic.num.partitions",
    "share.coordinator.state.topic.prune.interval.ms",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.segment.bytes", "share.coordinator.threads",
    "share.coordinator.write.timeout.ms", "share.fetch.purgatory.purge.interval.requests",
    "socket.connection.setup.timeout.max.ms", "socket.connection.setup.timeout.ms",
    "socket.listen.backlog.size", "socket.receive.buffer.bytes", "socket.request.max.bytes",
    "socket.send.buffer.bytes", "ssl.allow.dn.changes", "ssl.allow.san.changes",
    "ssl.cipher.suites", "ssl.client.auth", "ssl.enabled.protocols",
    "ssl.endpoint.identification.algorithm", "ssl.engine.factory.class", "ssl.key.password",
    "ssl.keymanager.algorithm", "ssl.keystore.certificate.chain", "ssl.keystore.key",
    "ssl.keystore.location", "ssl.keystore.password", "ssl.keystore.type",
    "ssl.principal.mapping.rules", "ssl.protocol", "ssl.provider",
    "ssl.secure.random.implementation", "ssl.trustmanager.algorithm", "ssl.truststore.certificates",
    "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.type", "super.users",
    "telemetry.max.bytes", "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    "transaction.max.timeout.ms", "transaction.partition.verification.enable",
    "transaction.remove.expired.transaction.cleanup.interval.ms",
    "transaction.state.log.load.buffer.size", "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions", "transaction.state.log.replication.factor",
    "transaction.state.log.segment.bytes", "transaction.two.phase.commit.enable",
    "transactional.id.expiration.ms", "unclean.leader.election.enable",
    "unclean.leader.election.interval.ms", "unstable.api.versions.enable",
    "unstable.feature.versions.enable",
];

/// Prefixes under which Kafka accepts open-ended names (per-listener overrides, plugin configs,
/// the ZooKeeper settings of pre-4.0 files). Accepted and ignored.
static KAFKA_BROKER_PREFIXES: &[&str] = &[
    "listener.name.",
    "zookeeper.",
    "config.providers.",
    "rlmm.config.",
    "rsm.config.",
    "metrics.context.",
];

/// How Gregor treats an accepted property name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Gregor reads it (a [`BROKER_DEFS`] / [`GREGOR_DEFS`] entry or a used synonym).
    Used,
    /// A topic config's broker default Gregor does not act on: validated, described, ignored.
    IgnoredValidated,
    /// A Kafka property Gregor does not use: value dropped.
    Ignored,
}

fn classify(name: &str) -> Option<Class> {
    if broker_def(name).is_some() {
        return Some(Class::Used);
    }
    if let Some(s) = synonym(name) {
        return Some(if s.used {
            Class::Used
        } else {
            Class::IgnoredValidated
        });
    }
    if name.starts_with(GREGOR_PREFIX) {
        return None;
    }
    if KAFKA_BROKER_PROPERTIES.contains(&name)
        || KAFKA_BROKER_PREFIXES.iter().any(|p| name.starts_with(p))
    {
        return Some(Class::Ignored);
    }
    None
}

/// The closest known property name within edit distance 2, or `gregor.<name>` when that exists.
fn suggest(name: &str) -> Option<String> {
    let prefixed = format!("{GREGOR_PREFIX}{name}");
    if broker_def(&prefixed).is_some() {
        return Some(prefixed);
    }
    if name.chars().count() > SUGGESTION_NAME_CHARS_MAX {
        return None;
    }
    let candidates = KAFKA_BROKER_PROPERTIES
        .iter()
        .copied()
        .chain(GREGOR_DEFS.iter().map(|d| d.name))
        .chain(BROKER_DEFS.iter().map(|d| d.name));
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = edit_distance(name, candidate);
        if d <= SUGGESTION_DISTANCE_MAX && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, s)| s.to_string())
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Sources: properties file, environment, overrides
// ---------------------------------------------------------------------------------------------

/// Parses Java `.properties` text: `#`/`!` comment lines, `key=value`, `key: value` or
/// `key value`, backslash line continuation, the usual backslash escapes (`\t`, `\n`, `\uXXXX`,
/// `\=` ...). Values are trimmed. Later duplicates are returned too (the caller lets them win).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut continuing = false;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = if continuing {
            line.trim_start()
        } else {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                continue;
            }
            t
        };
        let trailing_backslashes = line.chars().rev().take_while(|&c| c == '\\').count();
        if trailing_backslashes % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        continuing = false;
        if let Some(kv) = split_property_line(&logical) {
            out.push(kv);
        }
        logical.clear();
    }
    if continuing && let Some(kv) = split_property_line(&logical) {
        out.push(kv);
    }
    out
}

fn split_property_line(line: &str) -> Option<(String, String)> {
    let line = line.trim_start();
    if line.is_empty() {
        return None;
    }
    let mut key_end = line.len();
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '=' | ':' | ' ' | '\t' | '\x0c') {
            key_end = i;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    Some((unescape(key), unescape(rest).trim().to_string()))
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                {
                    Some(decoded) => {
                        out.push(decoded);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    // Malformed escape: keep it literally rather than guess.
                    None => out.push_str("\\u"),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Environment variables the `apache/kafka` image reserves for its launcher (JVM options, logging)
/// rather than broker properties, plus a few more launcher variables of `kafka-run-class.sh`.
const ENV_EXCLUDED: &[&str] = &[
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPT",
    "KAFKA_HEAP_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME",
    "KAFKA_JMX_PORT",
    "KAFKA_DEBUG",
    "KAFKA_HOME",
    "KAFKA_LOG_DIR_ENV",
    "KAFKA_CLASSPATH",
    "KAFKA_MODE",
];

/// Kubernetes service links for a Service named `kafka` (`KAFKA_PORT=tcp://...`,
/// `KAFKA_SERVICE_HOST`, `KAFKA_PORT_9092_TCP_ADDR` ...): never broker properties.
fn is_kubernetes_service_link(var: &str) -> bool {
    if var == "KAFKA_PORT" || var == "KAFKA_SERVICE_HOST" || var.starts_with("KAFKA_SERVICE_PORT") {
        return true;
    }
    match var.strip_prefix("KAFKA_PORT_") {
        Some(rest) => rest.chars().next().is_some_and(|c| c.is_ascii_digit()),
        None => false,
    }
}

/// Maps an environment variable to a property name the way the `apache/kafka` Docker image does:
/// strip `KAFKA_`, lowercase, `___` -> `-`, `__` -> `_`, `_` -> `.`. None for variables that are
/// not `KAFKA_*`, that the image reserves (`KAFKA_HEAP_OPTS` ...), or Kubernetes service links.
pub fn kafka_env_name_to_property(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KAFKA_")?;
    if rest.is_empty() || ENV_EXCLUDED.contains(&var) || is_kubernetes_service_link(var) {
        return None;
    }
    // The image's own order: every `_` to `.`, then `...` to `-`, then `..` to `_`.
    Some(
        rest.to_ascii_lowercase()
            .replace('_', ".")
            .replace("...", "-")
            .replace("..", "_"),
    )
}

/// Environment variable the `apache/kafka` image reads for the cluster id.
const ENV_CLUSTER_ID: &str = "CLUSTER_ID";

// ---------------------------------------------------------------------------------------------
// BrokerConfig
// ---------------------------------------------------------------------------------------------

/// The broker's validated settings. Field names are Kafka's property names with `_`.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    /// `node.id` (`broker.id` is accepted as a synonym and must agree).
    pub node_id: i32,
    /// `listeners`: the sockets to bind.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`; defaults to `listeners` minus `controller.listener.names`,
    /// unspecified hosts shown as `localhost`.
    pub advertised_listeners: Vec<Listener>,
    /// `log.dirs`, else `log.dir`.
    pub log_dirs: Vec<PathBuf>,
    /// `num.partitions`: partitions of an auto-created or partition-less CreateTopics topic.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`.
    pub auto_create_topics_enable: bool,
    /// `delete.topic.enable`.
    pub delete_topic_enable: bool,
    /// `socket.request.max.bytes`: the largest request frame, checked before allocating.
    pub socket_request_max_bytes: usize,
    /// `max.connections`: open client connections across all listeners.
    pub max_connections: usize,
    /// `queued.max.requests`: pipelined requests in flight per connection.
    pub queued_max_requests: usize,
    /// `connections.max.idle.ms`: close a connection idle this long.
    pub connections_max_idle_ms: i64,
    /// `message.max.bytes`: broker default of `max.message.bytes`.
    pub message_max_bytes: u32,
    /// `log.segment.bytes`.
    pub log_segment_bytes: u64,
    /// `log.roll.ms`, else `log.roll.hours`.
    pub log_roll_ms: i64,
    /// `log.index.size.max.bytes`.
    pub log_index_size_max_bytes: u64,
    /// `log.index.interval.bytes`.
    pub log_index_interval_bytes: u64,
    /// `log.retention.ms`, else `log.retention.minutes`, else `log.retention.hours`; -1 forever.
    pub log_retention_ms: i64,
    /// `log.retention.bytes`; -1 unbounded.
    pub log_retention_bytes: i64,
    /// `log.retention.check.interval.ms`: how often retention runs.
    pub log_retention_check_interval_ms: i64,
    /// `log.flush.interval.messages`.
    pub log_flush_interval_messages: i64,
    /// `log.flush.interval.ms`; None means `log.flush.scheduler.interval.ms` applies.
    pub log_flush_interval_ms: Option<i64>,
    /// `log.flush.scheduler.interval.ms`: how often the flusher checks (i64::MAX: never).
    pub log_flush_scheduler_interval_ms: i64,
    /// `log.message.timestamp.type`.
    pub log_message_timestamp_type: TimestampType,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.topic.replication.factor`.
    pub offsets_topic_replication_factor: i16,
    /// `offsets.retention.minutes`: keep committed offsets of an empty group this long.
    pub offsets_retention_minutes: i32,
    /// `group.initial.rebalance.delay.ms` (Gregor's default 0; Kafka's 3000).
    pub group_initial_rebalance_delay_ms: i32,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout_ms: i32,
    /// `group.max.size`: members of one classic group.
    pub group_max_size: i32,
    /// `group.consumer.session.timeout.ms`: KIP-848 members' session timeout.
    pub group_consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`: KIP-848 members' heartbeat interval.
    pub group_consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`: members of one KIP-848 group.
    pub group_consumer_max_size: i32,
    /// `group.consumer.assignors`: server-side assignors by short name ("uniform", "range"), the
    /// first the default; Kafka's class names are accepted and shortened.
    pub group_consumer_assignors: Vec<String>,
    /// `group.consumer.migration.policy`: "disabled", "upgrade", "downgrade" or "bidirectional".
    pub group_consumer_migration_policy: String,
    /// `transactional.id.expiration.ms`.
    pub transactional_id_expiration_ms: i32,
    /// `producer.id.expiration.ms`.
    pub producer_id_expiration_ms: i32,
    /// `transaction.max.timeout.ms`.
    pub transaction_max_timeout_ms: i32,
    /// `fetch.max.bytes`: the most bytes one Fetch response carries.
    pub fetch_max_bytes: i32,
    /// `broker.rack`.
    pub broker_rack: Option<String>,
    /// `process.roles`, normalised (`broker,controller`); None (unset) is a combined node.
    /// Read it through [`BrokerConfig::is_broker`] / [`BrokerConfig::is_controller`].
    pub process_roles: Option<String>,
    /// `controller.quorum.voters`, as given (checked for `id@host:port` syntax, distinct ids,
    /// and this node's id when it is a controller).
    pub controller_quorum_voters: Option<String>,
    /// `controller.quorum.bootstrap.servers`, as given.
    pub controller_quorum_bootstrap_servers: Option<String>,
    /// `controller.listener.names`, upper-cased and comma-joined (`CONTROLLER`).
    pub controller_listener_names: Option<String>,
    /// `inter.broker.listener.name`, upper-cased; None: the first advertised listener.
    /// Read it through [`BrokerConfig::inter_broker_listener`].
    pub inter_broker_listener_name: Option<String>,
    /// `broker.session.timeout.ms`: the controller fences a broker silent this long.
    pub broker_session_timeout_ms: i32,
    /// `broker.heartbeat.interval.ms`: how often a broker heartbeats the controller (below
    /// `broker.session.timeout.ms`).
    pub broker_heartbeat_interval_ms: i32,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub replica_lag_time_max_ms: i64,
    /// `replica.fetch.wait.max.ms`: how long a follower's fetch waits at the leader (at most
    /// `replica.lag.time.max.ms` and `replica.socket.timeout.ms`).
    pub replica_fetch_wait_max_ms: i32,
    /// `replica.fetch.min.bytes`: bytes a follower's fetch waits for.
    pub replica_fetch_min_bytes: i32,
    /// `replica.fetch.max.bytes`: bytes a follower fetches per partition (a larger first
    /// batch is still returned whole).
    pub replica_fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`: bytes of one follower fetch response.
    pub replica_fetch_response_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: a follower's pause after a failed fetch.
    pub replica_fetch_backoff_ms: i32,
    /// `replica.socket.timeout.ms`: a follower gives up on a fetch request after this long.
    pub replica_socket_timeout_ms: i32,
    /// `controller.quorum.election.timeout.ms`: a voter without a leader this long starts an
    /// election.
    pub controller_quorum_election_timeout_ms: i32,
    /// `controller.quorum.request.timeout.ms`: a quorum RPC without an answer this long fails.
    pub controller_quorum_request_timeout_ms: i32,
    /// `controller.quorum.fetch.timeout.ms`: a follower voter that has not heard from the
    /// leader this long becomes a candidate.
    pub controller_quorum_fetch_timeout_ms: i32,
    /// `auto.leader.rebalance.enable`: move leadership back to preferred replicas.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`: how often leadership balance is checked.
    pub leader_imbalance_check_interval_seconds: i64,
    /// `leader.imbalance.per.broker.percentage`: the share (0..=100) of a broker's preferred
    /// partitions that may be led elsewhere before the periodic check moves them back.
    pub leader_imbalance_per_broker_percentage: i32,
    /// `controlled.shutdown.enable`: move leadership away before a broker stops.
    pub controlled_shutdown_enable: bool,
    /// Broker `min.insync.replicas`: default of the topic config of that name.
    pub default_min_insync_replicas: i32,
    /// Broker `unclean.leader.election.enable`: default of the topic config of that name.
    pub default_unclean_leader_election_enable: bool,
    /// `gregor.cluster.id` (or the `CLUSTER_ID` environment variable).
    pub cluster_id: Option<String>,
    /// `gregor.log.drop.behind.bytes`: per partition, appended bytes more than this far behind
    /// the active segment's end are written back and dropped from the page cache (reads of them
    /// come from disk); 0 leaves the page cache to the kernel, as Kafka does. See
    /// `log::page_cache`.
    pub log_drop_behind_bytes: u64,
    /// `gregor.legacy.api.versions.enable`: also serve (and advertise) the request versions
    /// Kafka 4.0 removed (KIP-896) that need no message-format conversion, for clients pinned
    /// to them (ListOffsets v0, OffsetCommit v0-1, OffsetFetch v0, CreateTopics v0-1,
    /// DeleteTopics v0, DescribeConfigs v0; see `protocol::legacy`). False serves exactly Kafka
    /// 4.1's version ranges.
    pub legacy_api_versions_enable: bool,
    /// Kafka broker properties given in some source that Gregor accepts but does not act on,
    /// sorted, each once. The caller logs them.
    pub ignored: Vec<String>,
    /// Normalised values of the Gregor-known properties given in some source (no secrets:
    /// ignored properties are not kept). Drives DescribeConfigs sources and synonyms.
    values: BTreeMap<String, String>,
}

impl Default for BrokerConfig {
    /// Every property at its default (see the module doc for where Gregor differs from Kafka).
    fn default() -> Self {
        let topic = TopicSettings::default();
        BrokerConfig {
            node_id: 1,
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092,
            }],
            advertised_listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092,
            }],
            log_dirs: vec![PathBuf::from("./gregor-data")],
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics_enable: true,
            delete_topic_enable: true,
            socket_request_max_bytes: 104_857_600,
            max_connections: 2_147_483_647,
            queued_max_requests: 500,
            connections_max_idle_ms: 600_000,
            message_max_bytes: topic.max_message_bytes,
            log_segment_bytes: topic.segment_bytes,
            log_roll_ms: topic.segment_ms,
            log_index_size_max_bytes: topic.segment_index_bytes,
            log_index_interval_bytes: topic.index_interval_bytes,
            log_retention_ms: topic.retention_ms,
            log_retention_bytes: topic.retention_bytes,
            log_retention_check_interval_ms: 300_000,
            log_flush_interval_messages: topic.flush_messages,
            log_flush_interval_ms: None,
            log_flush_scheduler_interval_ms: i64::MAX,
            log_message_timestamp_type: topic.message_timestamp_type,
            offsets_topic_num_partitions: 50,
            offsets_topic_replication_factor: 1,
            offsets_retention_minutes: 10_080,
            group_initial_rebalance_delay_ms: 0,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_max_size: i32::MAX,
            group_consumer_session_timeout_ms: 45_000,
            group_consumer_heartbeat_interval_ms: 5_000,
            group_consumer_max_size: i32::MAX,
            group_consumer_assignors: vec!["uniform".to_string(), "range".to_string()],
            group_consumer_migration_policy: "bidirectional".to_string(),
            transactional_id_expiration_ms: 604_800_000,
            producer_id_expiration_ms: 86_400_000,
            transaction_max_timeout_ms: 900_000,
            fetch_max_bytes: 57_671_680,
            broker_rack: None,
            process_roles: None,
            controller_quorum_voters: None,
            controller_quorum_bootstrap_servers: None,
            controller_listener_names: None,
            inter_broker_listener_name: None,
            broker_session_timeout_ms: 9_000,
            broker_heartbeat_interval_ms: 2_000,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_min_bytes: 1,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_response_max_bytes: 10_485_760,
            replica_fetch_backoff_ms: 1_000,
            replica_socket_timeout_ms: 30_000,
            controller_quorum_election_timeout_ms: 1_000,
            controller_quorum_request_timeout_ms: 2_000,
            controller_quorum_fetch_timeout_ms: 2_000,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_seconds: 300,
            leader_imbalance_per_broker_percentage: 10,
            controlled_shutdown_enable: true,
            default_min_insync_replicas: topic.min_insync_replicas,
            default_unclean_leader_election_enable: topic.unclean_leader_election_enable,
            cluster_id: None,
            log_drop_behind_bytes: 16 * 1024 * 1024,
            legacy_api_versions_enable: true,
            ignored: Vec::new(),
            values: BTreeMap::new(),
        }
    }
}

/// Where a described config's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic itself.
    TopicOverride,
    /// A topic config whose default comes from a broker property set in the broker's sources.
    DefaultBroker,
    /// A broker property set in the properties file, the environment or an override.
    StaticBroker,
    /// Nobody set it: the built-in default.
    Default,
    /// Set on the group itself (a dynamic group config).
    GroupOverride,
}

impl ConfigSource {
    /// The DescribeConfigs `config_source` code (Kafka's `ConfigSource` ids). Gregor has no
    /// dynamic broker configs, so a broker-supplied topic default is STATIC_BROKER_CONFIG (4),
    /// as Kafka reports a default from `server.properties`.
    pub fn kafka_code(self) -> i8 {
        match self {
            ConfigSource::TopicOverride => 1,
            ConfigSource::DefaultBroker | ConfigSource::StaticBroker => 4,
            ConfigSource::Default => 5,
            ConfigSource::GroupOverride => 8,
        }
    }
}

/// One row of a DescribeConfigs answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// None is Kafka's null (no value and no default).
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
    pub is_default: bool,
    /// Kafka's type of the config.
    pub config_type: ConfigType,
    /// One line saying what the config does (sent when the request asks for documentation).
    pub documentation: Option<&'static str>,
}

impl ConfigEntry {
    /// A topic or group config (writable, never sensitive) with its Kafka type and doc line.
    fn writable(name: &str, kind: Kind, value: String, source: ConfigSource) -> ConfigEntry {
        ConfigEntry {
            name: name.to_string(),
            value: Some(value),
            is_default: source == ConfigSource::Default,
            source,
            read_only: false,
            sensitive: false,
            config_type: kafka_type(name, kind),
            documentation: docs::doc(name),
        }
    }
}

/// `group.consumer.assignors`: short names or Kafka's class names of the uniform and range
/// assignors, comma-separated.
fn parse_assignors(raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let short = match item {
            "uniform" | "org.apache.kafka.coordinator.group.assignor.UniformAssignor" => "uniform",
            "range" | "org.apache.kafka.coordinator.group.assignor.RangeAssignor" => "range",
            _ => {
                return Err(invalid(
                    "group.consumer.assignors",
                    raw,
                    "a comma-separated list of uniform and range (or their Kafka class names)",
                ));
            }
        };
        if !out.iter().any(|s: &String| s == short) {
            out.push(short.to_string());
        }
    }
    if out.is_empty() {
        return Err(invalid(
            "group.consumer.assignors",
            raw,
            "at least one assignor",
        ));
    }
    Ok(out)
}

fn invalid(name: &str, value: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

impl BrokerConfig {
    /// Reads `file` (if any), then `env` (`KAFKA_*` and `CLUSTER_ID`), then `overrides`
    /// (`key=value`), later sources winning, and validates the result.
    pub fn load(
        file: Option<&Path>,
        overrides: &[String],
        env: &[(String, String)],
    ) -> Result<BrokerConfig, ConfigError> {
        let mut entries: Vec<(String, String)> = Vec::new();
        if let Some(path) = file {
            entries.extend(parse_properties(&read_config_file(path)?));
        }
        for (var, value) in env {
            if var == ENV_CLUSTER_ID {
                entries.push(("gregor.cluster.id".to_string(), value.clone()));
            } else if let Some(name) = kafka_env_name_to_property(var) {
                entries.push((name, value.clone()));
            }
        }
        for arg in overrides {
            let (key, value) = arg.split_once('=').ok_or_else(|| {
                invalid(
                    "--override",
                    arg,
                    "key=value, for example --override num.partitions=3",
                )
            })?;
            entries.push((key.trim().to_string(), value.trim().to_string()));
        }
        Self::from_entries(entries)
    }

    /// Validates `(name, value)` pairs, later pairs winning, into a config.
    pub fn from_entries(entries: Vec<(String, String)>) -> Result<BrokerConfig, ConfigError> {
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in entries {
            merged.insert(name, value);
        }
        let mut values = BTreeMap::new();
        let mut ignored = Vec::new();
        for (name, value) in merged {
            let class = classify(&name).ok_or_else(|| ConfigError::UnknownProperty {
                suggestion: suggest(&name),
                name: name.clone(),
            })?;
            if class != Class::Used {
                ignored.push(name.clone());
            }
            if class == Class::Ignored || value.trim().is_empty() {
                continue;
            }
            let kind = match (broker_def(&name), synonym(&name)) {
                (Some(d), _) => d.kind,
                (None, Some(s)) => s.kind,
                (None, None) => continue,
            };
            let normalised = kind
                .check(value.trim())
                .map_err(|expected| invalid(&name, &value, expected))?;
            values.insert(name, normalised);
        }
        Self::from_values(values, ignored)
    }

    fn from_values(
        values: BTreeMap<String, String>,
        ignored: Vec<String>,
    ) -> Result<BrokerConfig, ConfigError> {
        let mut c = BrokerConfig {
            values,
            ignored,
            ..BrokerConfig::default()
        };

        c.node_id = c.get_int("node.id")?;
        if let Some(broker_id) = c.values.get("broker.id") {
            let broker_id: i32 = broker_id
                .parse()
                .map_err(|_| invalid("broker.id", broker_id, "an integer"))?;
            if c.values.contains_key("node.id") {
                if broker_id != c.node_id {
                    return Err(invalid(
                        "broker.id",
                        &broker_id.to_string(),
                        format!("the same value as node.id ({})", c.node_id),
                    ));
                }
            } else {
                c.node_id = broker_id;
            }
        }

        c.listeners = c.get_listeners("listeners")?;
        let controller_names: Vec<String> = c
            .get_text("controller.listener.names")
            .map(|s| {
                split_list(&s)
                    .iter()
                    .map(|n| n.to_ascii_uppercase())
                    .collect()
            })
            .unwrap_or_default();
        c.advertised_listeners = match c.values.get("advertised.listeners") {
            Some(raw) => {
                let advertised = parse_listeners_as_given(raw)
                    .map_err(|e| invalid("advertised.listeners", raw, e))?;
                let mut out = Vec::with_capacity(advertised.len());
                for mut l in advertised {
                    if is_unspecified_host(&l.host) {
                        return Err(invalid(
                            "advertised.listeners",
                            raw,
                            format!(
                                "{LISTENERS_EXPECTED}; a listener must not advertise the unspecified address {}",
                                l.host
                            ),
                        ));
                    }
                    if !c.listeners.iter().any(|b| b.name == l.name) {
                        return Err(invalid(
                            "advertised.listeners",
                            raw,
                            format!(
                                "listener names that also appear in listeners; {} does not",
                                l.name
                            ),
                        ));
                    }
                    if l.host.is_empty() {
                        l.host = "localhost".to_string();
                    }
                    out.push(l);
                }
                out
            }
            None => c
                .listeners
                .iter()
                .filter(|l| !controller_names.contains(&l.name))
                .cloned()
                .map(advertisable)
                .collect(),
        };
        check_listener_ports(&c.listeners, c.values.get("listeners").map(String::as_str))?;

        let dirs_name = if c.values.contains_key("log.dirs") {
            "log.dirs"
        } else {
            "log.dir"
        };
        c.log_dirs = split_list(&c.get_raw(dirs_name).unwrap_or_default())
            .into_iter()
            .map(PathBuf::from)
            .collect();

        c.num_partitions = c.get_int("num.partitions")?;
        c.default_replication_factor = c.get_int("default.replication.factor")?;
        c.auto_create_topics_enable = c.get_bool("auto.create.topics.enable")?;
        c.delete_topic_enable = c.get_bool("delete.topic.enable")?;
        c.socket_request_max_bytes = c.get_int("socket.request.max.bytes")?;
        c.max_connections = c.get_int("max.connections")?;
        c.queued_max_requests = c.get_int("queued.max.requests")?;
        c.connections_max_idle_ms = c.get_int("connections.max.idle.ms")?;
        c.log_retention_check_interval_ms = c.get_int("log.retention.check.interval.ms")?;
        c.offsets_topic_num_partitions = c.get_int("offsets.topic.num.partitions")?;
        c.offsets_topic_replication_factor = c.get_int("offsets.topic.replication.factor")?;
        c.offsets_retention_minutes = c.get_int("offsets.retention.minutes")?;
        c.group_initial_rebalance_delay_ms = c.get_int("group.initial.rebalance.delay.ms")?;
        c.group_min_session_timeout_ms = c.get_int("group.min.session.timeout.ms")?;
        c.group_max_session_timeout_ms = c.get_int("group.max.session.timeout.ms")?;
        if c.group_min_session_timeout_ms > c.group_max_session_timeout_ms {
            return Err(invalid(
                "group.min.session.timeout.ms",
                &c.group_min_session_timeout_ms.to_string(),
                format!(
                    "at most group.max.session.timeout.ms ({})",
                    c.group_max_session_timeout_ms
                ),
            ));
        }
        c.group_max_size = c.get_int("group.max.size")?;
        c.group_consumer_session_timeout_ms = c.get_int("group.consumer.session.timeout.ms")?;
        c.group_consumer_heartbeat_interval_ms =
            c.get_int("group.consumer.heartbeat.interval.ms")?;
        c.check_group_timing_bounds()?;
        c.group_consumer_max_size = c.get_int("group.consumer.max.size")?;
        let assignors_raw = c.get_text("group.consumer.assignors").unwrap_or_default();
        c.group_consumer_assignors = parse_assignors(&assignors_raw)?;
        c.group_consumer_migration_policy = c
            .get_text("group.consumer.migration.policy")
            .unwrap_or_else(|| "bidirectional".to_string());
        c.transactional_id_expiration_ms = c.get_int("transactional.id.expiration.ms")?;
        c.producer_id_expiration_ms = c.get_int("producer.id.expiration.ms")?;
        c.transaction_max_timeout_ms = c.get_int("transaction.max.timeout.ms")?;
        c.fetch_max_bytes = c.get_int("fetch.max.bytes")?;
        c.broker_rack = c.get_text("broker.rack");
        c.process_roles = c.get_text("process.roles");
        c.controller_quorum_voters = c.get_text("controller.quorum.voters");
        c.controller_quorum_bootstrap_servers = c.get_text("controller.quorum.bootstrap.servers");
        c.controller_listener_names = c.get_text("controller.listener.names");
        c.inter_broker_listener_name = c.get_text("inter.broker.listener.name");
        c.broker_session_timeout_ms = c.get_int("broker.session.timeout.ms")?;
        c.broker_heartbeat_interval_ms = c.get_int("broker.heartbeat.interval.ms")?;
        c.replica_lag_time_max_ms = c.get_int("replica.lag.time.max.ms")?;
        c.replica_fetch_wait_max_ms = c.get_int("replica.fetch.wait.max.ms")?;
        c.replica_fetch_min_bytes = c.get_int("replica.fetch.min.bytes")?;
        c.replica_fetch_max_bytes = c.get_int("replica.fetch.max.bytes")?;
        c.replica_fetch_response_max_bytes = c.get_int("replica.fetch.response.max.bytes")?;
        c.replica_fetch_backoff_ms = c.get_int("replica.fetch.backoff.ms")?;
        c.replica_socket_timeout_ms = c.get_int("replica.socket.timeout.ms")?;
        c.controller_quorum_election_timeout_ms =
            c.get_int("controller.quorum.election.timeout.ms")?;
        c.controller_quorum_request_timeout_ms =
            c.get_int("controller.quorum.request.timeout.ms")?;
        c.controller_quorum_fetch_timeout_ms = c.get_int("controller.quorum.fetch.timeout.ms")?;
        c.auto_leader_rebalance_enable = c.get_bool("auto.leader.rebalance.enable")?;
        c.leader_imbalance_check_interval_seconds =
            c.get_int("leader.imbalance.check.interval.seconds")?;
        c.leader_imbalance_per_broker_percentage =
            c.get_int("leader.imbalance.per.broker.percentage")?;
        c.controlled_shutdown_enable = c.get_bool("controlled.shutdown.enable")?;
        c.default_min_insync_replicas = c.get_int("min.insync.replicas")?;
        c.default_unclean_leader_election_enable = c.get_bool("unclean.leader.election.enable")?;
        c.check_roles_and_listeners()?;
        c.check_replication_timing()?;
        c.cluster_id = c.get_text("gregor.cluster.id");
        c.log_drop_behind_bytes = c.get_int("gregor.log.drop.behind.bytes")?;
        c.legacy_api_versions_enable = c.get_bool("gregor.legacy.api.versions.enable")?;

        // Topic-config broker defaults.
        c.log_segment_bytes = c.broker_topic_int("segment.bytes")?;
        c.log_roll_ms = c.broker_topic_int("segment.ms")?;
        c.log_index_size_max_bytes = c.broker_topic_int("segment.index.bytes")?;
        c.log_index_interval_bytes = c.broker_topic_int("index.interval.bytes")?;
        c.log_retention_ms = c.broker_topic_int("retention.ms")?;
        c.log_retention_bytes = c.broker_topic_int("retention.bytes")?;
        c.log_flush_interval_messages = c.broker_topic_int("flush.messages")?;
        c.log_flush_interval_ms = match c.values.get("log.flush.interval.ms") {
            Some(_) => Some(c.get_int("log.flush.interval.ms")?),
            None => None,
        };
        c.log_flush_scheduler_interval_ms = c.get_int("log.flush.scheduler.interval.ms")?;
        c.message_max_bytes = c.broker_topic_int("max.message.bytes")?;
        c.log_message_timestamp_type = parse_timestamp_type(
            "log.message.timestamp.type",
            &c.broker_topic_value("message.timestamp.type").0,
        )?;
        let min_lag: i64 = c.broker_topic_int("min.compaction.lag.ms")?;
        let max_lag: i64 = c.broker_topic_int("max.compaction.lag.ms")?;
        if min_lag > max_lag {
            return Err(invalid(
                "log.cleaner.min.compaction.lag.ms",
                &min_lag.to_string(),
                format!("at most log.cleaner.max.compaction.lag.ms ({max_lag})"),
            ));
        }

        c.ignored.sort();
        c.ignored.dedup();
        Ok(c)
    }

    /// The raw (normalised) value of a Gregor-known property, or its default.
    fn get_raw(&self, name: &str) -> Option<String> {
        if let Some(v) = self.values.get(name) {
            return Some(v.clone());
        }
        broker_def(name)
            .and_then(|d| d.default)
            .or_else(|| synonym(name).and_then(|s| s.default))
            .map(str::to_string)
    }

    fn get_text(&self, name: &str) -> Option<String> {
        self.get_raw(name)
    }

    fn get_int<T: TryFrom<i64>>(&self, name: &str) -> Result<T, ConfigError> {
        let raw = self.get_raw(name).unwrap_or_default();
        raw.parse::<i64>()
            .ok()
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| invalid(name, &raw, "an integer in range"))
    }

    fn get_bool(&self, name: &str) -> Result<bool, ConfigError> {
        let raw = self.get_raw(name).unwrap_or_default();
        match raw.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(invalid(name, &raw, "true or false")),
        }
    }

    fn get_listeners(&self, name: &str) -> Result<Vec<Listener>, ConfigError> {
        let raw = self.get_raw(name).unwrap_or_default();
        parse_listeners(&raw).map_err(|expected| invalid(name, &raw, expected))
    }

    /// The broker-supplied default of topic config `topic_name` and the broker property that set
    /// it (None: nobody did, so the value is the built-in default).
    fn broker_topic_value(&self, topic_name: &str) -> (String, Option<&'static str>) {
        let Some(def) = topic_def(topic_name) else {
            return (String::new(), None);
        };
        // A set synonym wins, most specific first; otherwise the first synonym with a default
        // decides (log.roll.hours=168 -> 7 days); otherwise the topic config's own default.
        let set = def
            .synonyms
            .iter()
            .find_map(|s| Some((s, self.values.get(s.name)?.as_str(), Some(s.name))));
        let default = || {
            def.synonyms
                .iter()
                .find_map(|s| Some((s, s.default?, None)))
        };
        if let Some((s, v, set_by)) = set.or_else(default) {
            return (scale_to_topic_unit(s, v), set_by);
        }
        (def.default.to_string(), None)
    }

    fn broker_topic_int<T: TryFrom<i64>>(&self, topic_name: &str) -> Result<T, ConfigError> {
        let (raw, set_by) = self.broker_topic_value(topic_name);
        raw.parse::<i64>()
            .ok()
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| invalid(set_by.unwrap_or(topic_name), &raw, "an integer in range"))
    }

    /// The effective settings of a topic with these overrides (names and values are validated:
    /// unknown -> [`ConfigError::UnknownTopicConfig`], bad -> [`ConfigError::InvalidTopicConfig`]).
    pub fn topic_settings(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<TopicSettings, ConfigError> {
        let o = TopicConfigs::validate_all(overrides)?;
        let int = |name: &str, broker: i64| -> Result<i64, ConfigError> {
            match o.get(name) {
                Some(v) => v
                    .parse::<i64>()
                    .map_err(|_| ConfigError::InvalidTopicConfig {
                        name: name.to_string(),
                        value: v.clone(),
                        expected: "an integer".into(),
                    }),
                None => Ok(broker),
            }
        };
        let to_u64 = |name: &str, v: i64| -> Result<u64, ConfigError> {
            u64::try_from(v).map_err(|_| ConfigError::InvalidTopicConfig {
                name: name.to_string(),
                value: v.to_string(),
                expected: "a non-negative integer".into(),
            })
        };
        let min_lag = int(
            "min.compaction.lag.ms",
            self.broker_topic_int("min.compaction.lag.ms")?,
        )?;
        let max_lag = int(
            "max.compaction.lag.ms",
            self.broker_topic_int("max.compaction.lag.ms")?,
        )?;
        if min_lag > max_lag {
            return Err(ConfigError::InvalidTopicConfig {
                name: "min.compaction.lag.ms".into(),
                value: min_lag.to_string(),
                expected: format!("at most max.compaction.lag.ms ({max_lag})"),
            });
        }
        let flush_ms_default = self
            .log_flush_interval_ms
            .unwrap_or(self.log_flush_scheduler_interval_ms);
        Ok(TopicSettings {
            segment_bytes: to_u64(
                "segment.bytes",
                int("segment.bytes", self.log_segment_bytes as i64)?,
            )?,
            segment_ms: int("segment.ms", self.log_roll_ms)?,
            segment_index_bytes: to_u64(
                "segment.index.bytes",
                int("segment.index.bytes", self.log_index_size_max_bytes as i64)?,
            )?,
            index_interval_bytes: to_u64(
                "index.interval.bytes",
                int("index.interval.bytes", self.log_index_interval_bytes as i64)?,
            )?,
            retention_ms: int("retention.ms", self.log_retention_ms)?,
            retention_bytes: int("retention.bytes", self.log_retention_bytes)?,
            flush_messages: int("flush.messages", self.log_flush_interval_messages)?,
            flush_ms: int("flush.ms", flush_ms_default)?,
            message_timestamp_type: match o.get("message.timestamp.type") {
                Some(v) => parse_timestamp_type("message.timestamp.type", v)?,
                None => self.log_message_timestamp_type,
            },
            max_message_bytes: {
                let v = int("max.message.bytes", i64::from(self.message_max_bytes))?;
                u32::try_from(v).map_err(|_| ConfigError::InvalidTopicConfig {
                    name: "max.message.bytes".into(),
                    value: v.to_string(),
                    expected: int_expected(0, I32_MAX),
                })?
            },
            drop_behind_bytes: self.log_drop_behind_bytes,
            min_insync_replicas: {
                let v = int(
                    "min.insync.replicas",
                    i64::from(self.default_min_insync_replicas),
                )?;
                i32::try_from(v).map_err(|_| ConfigError::InvalidTopicConfig {
                    name: "min.insync.replicas".into(),
                    value: v.to_string(),
                    expected: int_expected(1, I32_MAX),
                })?
            },
            unclean_leader_election_enable: match o.get("unclean.leader.election.enable") {
                Some(v) => v == "true",
                None => self.default_unclean_leader_election_enable,
            },
        })
    }

    /// Every topic config's effective value for a topic with these overrides, sorted by name,
    /// for DescribeConfigs. Overrides with unknown names are left out; an override that fails
    /// validation is shown as stored.
    pub fn describe_topic_configs(&self, overrides: &BTreeMap<String, String>) -> Vec<ConfigEntry> {
        TOPIC_DEFS
            .iter()
            .map(|def| {
                let (value, source) = match overrides.get(def.name) {
                    Some(v) => (
                        TopicConfigs::validate(def.name, v).unwrap_or_else(|_| v.clone()),
                        ConfigSource::TopicOverride,
                    ),
                    None => {
                        let (v, set_by) = self.broker_topic_value(def.name);
                        (
                            v,
                            if set_by.is_some() {
                                ConfigSource::DefaultBroker
                            } else {
                                ConfigSource::Default
                            },
                        )
                    }
                };
                ConfigEntry::writable(def.name, def.kind, value, source)
            })
            .collect()
    }

    /// The broker properties Gregor uses, sorted by name, with their values (None is Kafka's
    /// null) and whether a source set them. All read-only: Gregor has no dynamic broker configs.
    /// `gregor.*` properties are not Kafka configs and are not listed.
    pub fn describe_broker_configs(&self) -> Vec<ConfigEntry> {
        let synonyms = TOPIC_DEFS
            .iter()
            .flat_map(|d| d.synonyms.iter())
            .filter(|s| s.used)
            .map(|s| s.name);
        let mut names: Vec<&'static str> =
            BROKER_DEFS.iter().map(|d| d.name).chain(synonyms).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let set = self.values.contains_key(name);
                let source = if set {
                    ConfigSource::StaticBroker
                } else {
                    ConfigSource::Default
                };
                let kind = broker_def(name)
                    .map(|d| d.kind)
                    .or_else(|| synonym(name).map(|s| s.kind))
                    .unwrap_or(Kind::Text);
                ConfigEntry {
                    name: name.to_string(),
                    value: self.get_raw(name),
                    source,
                    read_only: true,
                    sensitive: false,
                    is_default: !set,
                    config_type: kafka_type(name, kind),
                    documentation: docs::doc(name),
                }
            })
            .collect()
    }

    /// Every group config's effective value for a group with these dynamic configs, sorted by
    /// name, for DescribeConfigs on a GROUP resource (any group name, as Kafka answers).
    pub fn describe_group_configs(&self, overrides: &BTreeMap<String, String>) -> Vec<ConfigEntry> {
        GROUP_DEFS
            .iter()
            .map(|def| {
                let (value, source) = match overrides.get(def.name) {
                    Some(v) => (v.clone(), ConfigSource::GroupOverride),
                    None => (self.group_default(def), ConfigSource::Default),
                };
                ConfigEntry::writable(def.name, def.kind, value, source)
            })
            .collect()
    }

    fn group_default(&self, def: &GroupDef) -> String {
        def.synonym
            .and_then(|s| self.get_raw(s))
            .unwrap_or_else(|| def.default.to_string())
    }

    /// Validates a group's complete set of dynamic configs as Kafka's GroupConfig does (known
    /// names, each value's kind, the broker's min/max bounds, session timeouts above heartbeat
    /// intervals) and returns them normalised.
    pub fn validate_group_configs(
        &self,
        configs: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut out = BTreeMap::new();
        for (name, value) in configs {
            let def = group_def(name)
                .ok_or_else(|| ConfigError::UnknownGroupConfig { name: name.clone() })?;
            let bad = |expected: String| ConfigError::InvalidGroupConfig {
                name: name.clone(),
                value: value.clone(),
                expected,
            };
            let v = value.trim();
            let normalised = if def.name == "share.auto.offset.reset" {
                check_share_auto_offset_reset(v).map_err(bad)?
            } else {
                def.kind.check(v).map_err(bad)?
            };
            if let (Some(lo), Some(hi)) = (def.min_property, def.max_property) {
                let n: i64 = normalised.parse().unwrap_or(0);
                let lo_v: i64 = self.get_int(lo)?;
                let hi_v: i64 = self.get_int(hi)?;
                if n < lo_v {
                    return Err(bad(format!("at least {lo} ({lo_v})")));
                }
                if n > hi_v {
                    return Err(bad(format!("at most {hi} ({hi_v})")));
                }
            }
            out.insert(name.clone(), normalised);
        }
        for (session, heartbeat) in [
            (
                "consumer.session.timeout.ms",
                "consumer.heartbeat.interval.ms",
            ),
            ("share.session.timeout.ms", "share.heartbeat.interval.ms"),
            (
                "streams.session.timeout.ms",
                "streams.heartbeat.interval.ms",
            ),
        ] {
            let value = |n: &str| -> i64 {
                out.get(n)
                    .cloned()
                    .or_else(|| group_def(n).map(|d| self.group_default(d)))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            if (out.contains_key(session) || out.contains_key(heartbeat))
                && value(session) <= value(heartbeat)
            {
                return Err(ConfigError::InvalidGroupConfig {
                    name: session.to_string(),
                    value: value(session).to_string(),
                    expected: format!("greater than {heartbeat} ({})", value(heartbeat)),
                });
            }
        }
        if let Some(n) = out.get("streams.num.standby.replicas") {
            let max: i64 = self.get_int("group.streams.max.standby.replicas")?;
            if n.parse::<i64>().unwrap_or(0) > max {
                return Err(ConfigError::InvalidGroupConfig {
                    name: "streams.num.standby.replicas".into(),
                    value: n.clone(),
                    expected: format!("at most group.streams.max.standby.replicas ({max})"),
                });
            }
        }
        Ok(out)
    }

    /// Kafka's GroupCoordinatorConfig checks: each group protocol's default session timeout and
    /// heartbeat interval lie within their min/max properties, and the heartbeat interval is
    /// below the session timeout.
    fn check_group_timing_bounds(&self) -> Result<(), ConfigError> {
        for kind in ["consumer", "share", "streams"] {
            let session = format!("group.{kind}.session.timeout.ms");
            let heartbeat = format!("group.{kind}.heartbeat.interval.ms");
            for name in [&session, &heartbeat] {
                let what = name.trim_start_matches(&format!("group.{kind}."));
                let value: i64 = self.get_int(name)?;
                let lo_name = format!("group.{kind}.min.{what}");
                let hi_name = format!("group.{kind}.max.{what}");
                let lo: i64 = self.get_int(&lo_name)?;
                let hi: i64 = self.get_int(&hi_name)?;
                if value < lo || value > hi {
                    return Err(invalid(
                        name,
                        &value.to_string(),
                        format!("a value from {lo_name} ({lo}) to {hi_name} ({hi})"),
                    ));
                }
            }
            let (s_ms, h_ms): (i64, i64) = (self.get_int(&session)?, self.get_int(&heartbeat)?);
            if h_ms >= s_ms {
                return Err(invalid(
                    &heartbeat,
                    &h_ms.to_string(),
                    format!("less than {session} ({s_ms})"),
                ));
            }
        }
        Ok(())
    }

    /// Whether this node runs the broker role: `process.roles` contains `broker`, or is unset
    /// (Gregor's default node is a combined broker and controller).
    pub fn is_broker(&self) -> bool {
        self.has_role("broker")
    }

    /// Whether this node runs the controller role: `process.roles` contains `controller`, or is
    /// unset (a combined node).
    pub fn is_controller(&self) -> bool {
        self.has_role("controller")
    }

    fn has_role(&self, role: &str) -> bool {
        self.process_roles
            .as_deref()
            .is_none_or(|roles| split_list(roles).contains(&role))
    }

    /// The names in `controller.listener.names` (upper-cased; empty when unset).
    fn controller_names(&self) -> Vec<&str> {
        self.controller_listener_names
            .as_deref()
            .map(split_list)
            .unwrap_or_default()
    }

    /// The first of `listeners` whose name is in `controller.listener.names`: where this node
    /// serves the controller quorum. None when no controller listener is configured.
    pub fn controller_listener(&self) -> Option<&Listener> {
        let names = self.controller_names();
        self.listeners
            .iter()
            .find(|l| names.contains(&l.name.as_str()))
    }

    /// `listeners` minus the controller listeners: the sockets that serve Kafka clients (and
    /// followers), in configured order.
    pub fn client_listeners(&self) -> Vec<&Listener> {
        let names = self.controller_names();
        self.listeners
            .iter()
            .filter(|l| !names.contains(&l.name.as_str()))
            .collect()
    }

    /// Where other brokers reach this one (Kafka's rule): the advertised listener named by
    /// `inter.broker.listener.name`, else the first advertised listener. Validation makes the
    /// named one exist on a broker node.
    pub fn inter_broker_listener(&self) -> Option<&Listener> {
        match &self.inter_broker_listener_name {
            Some(name) => self.advertised_listeners.iter().find(|l| l.name == *name),
            None => self.advertised_listeners.first(),
        }
    }

    /// KafkaConfig's KRaft checks of roles, listeners and voters (the module doc lists them).
    fn check_roles_and_listeners(&self) -> Result<(), ConfigError> {
        let names = self.controller_names();
        let raw = |name: &str| self.values.get(name).cloned().unwrap_or_default();
        let roles_set = self.process_roles.is_some();
        let listener_names: Vec<&str> = self.listeners.iter().map(|l| l.name.as_str()).collect();
        if roles_set && self.is_controller() {
            if names.is_empty() {
                return Err(invalid(
                    "controller.listener.names",
                    "",
                    "at least one listener name when process.roles contains controller",
                ));
            }
            if !names.iter().any(|n| listener_names.contains(n)) {
                return Err(invalid(
                    "controller.listener.names",
                    &raw("controller.listener.names"),
                    format!(
                        "a name that appears in listeners ({}) when process.roles contains \
                         controller",
                        listener_names.join(",")
                    ),
                ));
            }
            if !self.is_broker()
                && let Some(other) = listener_names.iter().find(|n| !names.contains(n))
            {
                return Err(invalid(
                    "listeners",
                    &raw("listeners"),
                    format!(
                        "only controller listeners ({}) when process.roles=controller; {other} \
                         is not one",
                        names.join(",")
                    ),
                ));
            }
        }
        if roles_set && !self.is_controller() {
            if names.is_empty() {
                return Err(invalid(
                    "controller.listener.names",
                    "",
                    "at least one listener name when process.roles=broker (the broker reaches \
                     the controllers through it)",
                ));
            }
            if let Some(l) = self.controller_listener() {
                return Err(invalid(
                    "listeners",
                    &raw("listeners"),
                    format!(
                        "no controller listener when process.roles=broker; {} is in \
                         controller.listener.names",
                        l.name
                    ),
                ));
            }
        }
        if self.is_broker()
            && let Some(l) = self
                .advertised_listeners
                .iter()
                .find(|l| names.contains(&l.name.as_str()))
        {
            return Err(invalid(
                "advertised.listeners",
                &raw("advertised.listeners"),
                format!(
                    "no controller listener: clients and brokers never send requests to the \
                     controller listener {}",
                    l.name
                ),
            ));
        }
        if let Some(voters) = &self.controller_quorum_voters {
            let ids = parse_voters_syntax(voters)
                .map_err(|e| invalid("controller.quorum.voters", voters, e))?;
            let member = ids.contains(&self.node_id);
            if roles_set && !self.is_controller() && member {
                return Err(invalid(
                    "controller.quorum.voters",
                    voters,
                    format!(
                        "voters that do not include node.id ({}) when process.roles=broker",
                        self.node_id
                    ),
                ));
            }
            if self.is_controller() && !member {
                return Err(invalid(
                    "controller.quorum.voters",
                    voters,
                    format!(
                        "voters that include this node's node.id ({}) when it is a controller",
                        self.node_id
                    ),
                ));
            }
        }
        // KIP-853's dynamic quorum (bootstrap servers, no static voters) is formed by
        // `kafka-storage format --standalone | --initial-controllers`, which Gregor lacks. One
        // server is Kafka 4.1's own single-node server.properties, served as a quorum of one;
        // several would each start a quorum of one, a split brain, so they are refused.
        if self.controller_quorum_voters.is_none()
            && let Some(servers) = &self.controller_quorum_bootstrap_servers
        {
            let n = servers.split(',').filter(|s| !s.trim().is_empty()).count();
            if n > 1 {
                return Err(invalid(
                    "controller.quorum.bootstrap.servers",
                    servers,
                    format!(
                        "{n} servers and no controller.quorum.voters: a dynamic quorum (KIP-853) \
                         is not supported; name the voters in controller.quorum.voters"
                    ),
                ));
            }
        }
        if self.is_broker()
            && let Some(name) = &self.inter_broker_listener_name
        {
            let value = raw("inter.broker.listener.name");
            if names.contains(&name.as_str()) {
                return Err(invalid(
                    "inter.broker.listener.name",
                    &value,
                    "a listener that is not in controller.listener.names",
                ));
            }
            if !self.advertised_listeners.iter().any(|l| l.name == *name) {
                let advertised: Vec<&str> = self
                    .advertised_listeners
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect();
                return Err(invalid(
                    "inter.broker.listener.name",
                    &value,
                    format!(
                        "the name of an advertised listener ({})",
                        advertised.join(",")
                    ),
                ));
            }
        }
        self.check_security_protocols()
    }

    /// Every listener speaks PLAINTEXT: with `listener.security.protocol.map` set, every
    /// listener name must be mapped (to PLAINTEXT, the only protocol the map accepts); without
    /// it Kafka maps the names SSL, SASL_PLAINTEXT and SASL_SSL to those protocols, which
    /// Gregor does not speak yet.
    fn check_security_protocols(&self) -> Result<(), ConfigError> {
        let raw_listeners = self.values.get("listeners").cloned().unwrap_or_default();
        match self.values.get("listener.security.protocol.map") {
            Some(raw_map) => {
                let map = parse_protocol_map(raw_map)
                    .map_err(|e| invalid("listener.security.protocol.map", raw_map, e))?;
                for l in &self.listeners {
                    if !map.iter().any(|(name, _)| *name == l.name) {
                        return Err(invalid(
                            "listener.security.protocol.map",
                            raw_map,
                            format!(
                                "a security protocol for every listener; {} has none",
                                l.name
                            ),
                        ));
                    }
                }
            }
            None => {
                if let Some(l) = self.listeners.iter().find(|l| {
                    l.name != "PLAINTEXT" && SECURITY_PROTOCOLS.contains(&l.name.as_str())
                }) {
                    return Err(invalid(
                        "listeners",
                        &raw_listeners,
                        format!(
                            "PLAINTEXT listeners: without listener.security.protocol.map a \
                             listener named {0} uses {0}, and Gregor does not speak TLS or SASL \
                             yet (map it with listener.security.protocol.map={0}:PLAINTEXT to \
                             serve plaintext under that name)",
                            l.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// KafkaConfig's timing checks for brokers and replica fetchers.
    fn check_replication_timing(&self) -> Result<(), ConfigError> {
        if self.broker_heartbeat_interval_ms >= self.broker_session_timeout_ms {
            return Err(invalid(
                "broker.heartbeat.interval.ms",
                &self.broker_heartbeat_interval_ms.to_string(),
                format!(
                    "less than broker.session.timeout.ms ({})",
                    self.broker_session_timeout_ms
                ),
            ));
        }
        if self.replica_fetch_wait_max_ms > self.replica_socket_timeout_ms {
            return Err(invalid(
                "replica.fetch.wait.max.ms",
                &self.replica_fetch_wait_max_ms.to_string(),
                format!(
                    "at most replica.socket.timeout.ms ({}), so a waiting fetch does not time \
                     out its socket",
                    self.replica_socket_timeout_ms
                ),
            ));
        }
        if i64::from(self.replica_fetch_wait_max_ms) > self.replica_lag_time_max_ms {
            return Err(invalid(
                "replica.fetch.wait.max.ms",
                &self.replica_fetch_wait_max_ms.to_string(),
                format!(
                    "at most replica.lag.time.max.ms ({}), so a waiting follower does not drop \
                     out of the ISR",
                    self.replica_lag_time_max_ms
                ),
            ));
        }
        Ok(())
    }

    /// Whether `name` is a group config.
    pub fn is_group_config(name: &str) -> bool {
        group_def(name).is_some()
    }

    /// Whether a source set this (Gregor-known) property.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// A synonym's value in its topic config's unit: non-negative values times the scale (hours to
/// ms); negative values (-1: forever) unscaled.
fn scale_to_topic_unit(s: &Synonym, value: &str) -> String {
    match value.parse::<i64>() {
        Ok(n) if s.scale != 1 && n >= 0 => n.saturating_mul(s.scale).to_string(),
        _ => value.to_string(),
    }
}

fn parse_timestamp_type(name: &str, value: &str) -> Result<TimestampType, ConfigError> {
    match value {
        "CreateTime" => Ok(TimestampType::CreateTime),
        "LogAppendTime" => Ok(TimestampType::LogAppendTime),
        _ => Err(invalid(name, value, "CreateTime or LogAppendTime")),
    }
}

/// An unspecified bind address is not something a client can connect to.
fn advertisable(mut l: Listener) -> Listener {
    if is_unspecified_host(&l.host) {
        l.host = "localhost".to_string();
    }
    l
}

/// Two listeners may not bind the same non-ephemeral port (Kafka's rule).
fn check_listener_ports(listeners: &[Listener], raw: Option<&str>) -> Result<(), ConfigError> {
    for (i, a) in listeners.iter().enumerate() {
        if a.port != 0 && listeners[i + 1..].iter().any(|b| b.port == a.port) {
            return Err(invalid(
                "listeners",
                raw.unwrap_or_default(),
                format!("{LISTENERS_EXPECTED}; port {} is used twice", a.port),
            ));
        }
    }
    Ok(())
}

fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(CONFIG_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > CONFIG_FILE_BYTES_MAX {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the file is larger than {CONFIG_FILE_BYTES_MAX} bytes"),
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ov(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn load_overrides(args: &[&str]) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::load(None, &ov(args), &[])
    }

    fn topic(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_kafkas_except_documented_ones() {
        let c = BrokerConfig::load(None, &[], &[]).unwrap();
        assert_eq!(c, BrokerConfig::default());
        assert_eq!(c.node_id, 1);
        assert_eq!(
            c.listeners,
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092
            }]
        );
        assert_eq!(c.advertised_listeners, c.listeners);
        assert_eq!(c.log_dirs, vec![PathBuf::from("./gregor-data")]);
        assert_eq!(c.num_partitions, 1);
        assert_eq!(c.default_replication_factor, 1);
        assert!(c.auto_create_topics_enable && c.delete_topic_enable);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
        assert_eq!(c.max_connections, 2_147_483_647);
        assert_eq!(c.queued_max_requests, 500);
        assert_eq!(c.message_max_bytes, 1_048_588);
        assert_eq!(c.log_segment_bytes, 1_073_741_824);
        assert_eq!(c.log_roll_ms, 168 * MS_PER_HOUR);
        assert_eq!(c.log_index_size_max_bytes, 10_485_760);
        assert_eq!(c.log_index_interval_bytes, 4096);
        assert_eq!(c.log_retention_ms, 168 * MS_PER_HOUR);
        assert_eq!(c.log_retention_bytes, -1);
        assert_eq!(c.log_retention_check_interval_ms, 300_000);
        assert_eq!(c.log_flush_interval_messages, i64::MAX);
        assert_eq!(c.log_flush_interval_ms, None);
        assert_eq!(c.log_message_timestamp_type, TimestampType::CreateTime);
        assert_eq!(c.offsets_topic_num_partitions, 50);
        assert_eq!(c.offsets_topic_replication_factor, 1);
        assert_eq!(c.offsets_retention_minutes, 10_080);
        assert_eq!(c.group_initial_rebalance_delay_ms, 0);
        assert_eq!(c.group_min_session_timeout_ms, 6_000);
        assert_eq!(c.group_max_session_timeout_ms, 1_800_000);
        assert_eq!(c.group_max_size, i32::MAX);
        assert_eq!(c.transactional_id_expiration_ms, 604_800_000);
        assert_eq!(c.producer_id_expiration_ms, 86_400_000);
        assert_eq!(c.transaction_max_timeout_ms, 900_000);
        assert_eq!(c.fetch_max_bytes, 57_671_680);
        assert_eq!(c.cluster_id, None);
        assert!(c.ignored.is_empty());
        // Gregor's own: page-cache drop-behind is on (Kafka has no such setting).
        assert_eq!(c.log_drop_behind_bytes, 16 * 1024 * 1024);
        assert!(c.legacy_api_versions_enable);
        assert_eq!(
            c.topic_settings(&BTreeMap::new()).unwrap(),
            TopicSettings {
                drop_behind_bytes: 16 * 1024 * 1024,
                ..TopicSettings::default()
            }
        );
    }

    #[test]
    fn legacy_api_versions_switch_is_a_validated_boolean() {
        let c = load_overrides(&["gregor.legacy.api.versions.enable=false"]).unwrap();
        assert!(!c.legacy_api_versions_enable);
        let c = load_overrides(&["gregor.legacy.api.versions.enable=true"]).unwrap();
        assert!(c.legacy_api_versions_enable);
        assert!(load_overrides(&["gregor.legacy.api.versions.enable=maybe"]).is_err());
    }

    #[test]
    fn group_timing_defaults_must_lie_within_their_bounds() {
        assert!(load_overrides(&[]).is_ok());
        let err = load_overrides(&["group.consumer.heartbeat.interval.ms=500"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("group.consumer.min.heartbeat.interval.ms"),
            "{err}"
        );
        assert!(
            load_overrides(&[
                "group.consumer.min.heartbeat.interval.ms=500",
                "group.consumer.heartbeat.interval.ms=500",
            ])
            .is_ok()
        );
        assert!(load_overrides(&["group.consumer.session.timeout.ms=90000"]).is_err());
        assert!(load_overrides(&["group.share.session.timeout.ms=1000"]).is_err());
        let err = load_overrides(&[
            "group.consumer.min.session.timeout.ms=1000",
            "group.consumer.session.timeout.ms=5000",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("less than"), "{err}");
    }

    #[test]
    fn migration_policy_is_one_of_kafkas_values_in_any_case() {
        assert_eq!(
            BrokerConfig::default().group_consumer_migration_policy,
            "bidirectional"
        );
        let c = load_overrides(&["group.consumer.migration.policy=UPGRADE"]).unwrap();
        assert_eq!(c.group_consumer_migration_policy, "upgrade");
        assert!(c.ignored.is_empty());
        assert!(load_overrides(&["group.consumer.migration.policy=sideways"]).is_err());
    }

    #[test]
    fn drop_behind_window_is_set_validated_and_reaches_topic_settings() {
        let c = load_overrides(&["gregor.log.drop.behind.bytes=0"]).unwrap();
        assert_eq!(c.log_drop_behind_bytes, 0);
        assert_eq!(
            c.topic_settings(&BTreeMap::new())
                .unwrap()
                .drop_behind_bytes,
            0
        );
        let c = load_overrides(&["gregor.log.drop.behind.bytes=1048576"]).unwrap();
        assert_eq!(
            c.topic_settings(&BTreeMap::new())
                .unwrap()
                .drop_behind_bytes,
            1 << 20
        );
        assert!(load_overrides(&["gregor.log.drop.behind.bytes=-1"]).is_err());
        assert!(load_overrides(&["gregor.log.drop.behind.bytes=lots"]).is_err());
    }

    #[test]
    fn every_table_default_and_topic_default_validates() {
        for d in BROKER_DEFS.iter().chain(GREGOR_DEFS.iter()) {
            if let Some(v) = d.default {
                assert!(d.kind.check(v).is_ok(), "{}", d.name);
            }
        }
        for t in TOPIC_DEFS {
            assert!(
                TopicConfigs::validate(t.name, t.default).is_ok(),
                "{}",
                t.name
            );
            for s in t.synonyms {
                if let Some(v) = s.default {
                    assert!(s.kind.check(v).is_ok(), "{}", s.name);
                }
                assert!(
                    KAFKA_BROKER_PROPERTIES.contains(&s.name),
                    "{} not in the Kafka list",
                    s.name
                );
            }
        }
        for d in BROKER_DEFS {
            assert!(
                KAFKA_BROKER_PROPERTIES.contains(&d.name),
                "{} not in the Kafka list",
                d.name
            );
        }
        let names: Vec<_> = TopicConfigs::names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn properties_file_comments_separators_and_continuation() {
        let text = "# a comment\n! another\n\n  node.id = 7  \nnum.partitions:3\nlog.dirs /a,\\\n    /b\n\
                    # comment ending in backslash \\\nauto.create.topics.enable=false\r\nbroker.rack=r\\u0031\\=x\n";
        let props = parse_properties(text);
        assert_eq!(
            props,
            vec![
                ("node.id".to_string(), "7".to_string()),
                ("num.partitions".to_string(), "3".to_string()),
                ("log.dirs".to_string(), "/a,/b".to_string()),
                ("auto.create.topics.enable".to_string(), "false".to_string()),
                ("broker.rack".to_string(), "r1=x".to_string()),
            ]
        );
        assert_eq!(
            parse_properties("key\\ with\\ space=v\\\\"),
            vec![("key with space".into(), "v\\".into())]
        );
        assert_eq!(
            parse_properties("lonely.key"),
            vec![("lonely.key".into(), String::new())]
        );
    }

    #[test]
    fn load_reads_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.properties");
        std::fs::write(
            &path,
            "node.id=3\nlog.dirs=/var/lib/gregor\nnum.network.threads=3\n",
        )
        .unwrap();
        let c = BrokerConfig::load(Some(&path), &[], &[]).unwrap();
        assert_eq!(c.node_id, 3);
        assert_eq!(c.log_dirs, vec![PathBuf::from("/var/lib/gregor")]);
        assert_eq!(c.ignored, vec!["num.network.threads".to_string()]);

        let missing = dir.path().join("missing.properties");
        let err = BrokerConfig::load(Some(&missing), &[], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }));
        assert!(err.to_string().contains("missing.properties"), "{err}");
    }

    #[test]
    fn precedence_file_then_env_then_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.properties");
        std::fs::write(
            &path,
            "num.partitions=2\nnode.id=2\ndefault.replication.factor=2\n",
        )
        .unwrap();
        let e = env(&[("KAFKA_NUM_PARTITIONS", "3"), ("KAFKA_NODE_ID", "3")]);
        let c = BrokerConfig::load(Some(&path), &ov(&["num.partitions=4"]), &e).unwrap();
        assert_eq!(c.num_partitions, 4);
        assert_eq!(c.node_id, 3);
        assert_eq!(c.default_replication_factor, 2);
    }

    #[test]
    fn env_names_map_like_the_apache_kafka_image() {
        let m = |v: &str| kafka_env_name_to_property(v);
        assert_eq!(m("KAFKA_NODE_ID").as_deref(), Some("node.id"));
        assert_eq!(m("KAFKA_LISTENERS").as_deref(), Some("listeners"));
        assert_eq!(
            m("KAFKA_ADVERTISED_LISTENERS").as_deref(),
            Some("advertised.listeners")
        );
        assert_eq!(m("KAFKA_LOG_DIRS").as_deref(), Some("log.dirs"));
        assert_eq!(m("KAFKA_NUM_PARTITIONS").as_deref(), Some("num.partitions"));
        assert_eq!(
            m("KAFKA_LISTENER_NAME_EXTERNAL_SASL___X").as_deref(),
            Some("listener.name.external.sasl-x")
        );
        assert_eq!(m("KAFKA_GROUP__X").as_deref(), Some("group_x"));
        assert_eq!(m("KAFKA_HEAP_OPTS"), None);
        assert_eq!(m("KAFKA_OPTS"), None);
        assert_eq!(m("KAFKA_JMX_OPTS"), None);
        assert_eq!(m("KAFKA_VERSION"), None);
        assert_eq!(m("KAFKA_PORT"), None);
        assert_eq!(m("KAFKA_PORT_9092_TCP_ADDR"), None);
        assert_eq!(m("KAFKA_SERVICE_HOST"), None);
        assert_eq!(m("KAFKA_"), None);
        assert_eq!(m("PATH"), None);
        assert_eq!(m("KAFKA_PORTAL"), Some("portal".into()));
    }

    #[test]
    fn env_loads_docker_style_settings() {
        let e = env(&[
            ("KAFKA_NODE_ID", "5"),
            ("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093"),
            ("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://broker:9092"),
            ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
            (
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            ),
            ("KAFKA_PROCESS_ROLES", "broker,controller"),
            ("KAFKA_CONTROLLER_QUORUM_VOTERS", "5@localhost:9093"),
            ("KAFKA_LOG_DIRS", "/tmp/a,/tmp/b"),
            ("KAFKA_NUM_PARTITIONS", "6"),
            ("KAFKA_HEAP_OPTS", "-Xmx1G"),
            ("KAFKA_PORT", "tcp://10.0.0.1:9092"),
            ("CLUSTER_ID", "MkU3OEVBNTcwNTJENDM2Qk"),
            ("HOME", "/root"),
        ]);
        let c = BrokerConfig::load(None, &[], &e).unwrap();
        assert_eq!(c.node_id, 5);
        assert_eq!(c.listeners.len(), 2);
        assert_eq!(c.listeners[0].host, "0.0.0.0");
        assert_eq!(
            c.advertised_listeners,
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "broker".into(),
                port: 9092
            }]
        );
        assert_eq!(
            c.log_dirs,
            vec![PathBuf::from("/tmp/a"), PathBuf::from("/tmp/b")]
        );
        assert_eq!(c.num_partitions, 6);
        assert_eq!(c.process_roles.as_deref(), Some("broker,controller"));
        assert_eq!(
            c.controller_quorum_voters.as_deref(),
            Some("5@localhost:9093")
        );
        assert_eq!(c.controller_listener_names.as_deref(), Some("CONTROLLER"));
        assert_eq!(c.cluster_id.as_deref(), Some("MkU3OEVBNTcwNTJENDM2Qk"));
        assert!(c.ignored.is_empty(), "{:?}", c.ignored);
    }

    /// The KRaft and replication properties of issue 9, each with a non-default value.
    const KRAFT_SETTINGS: &[(&str, &str)] = &[
        ("broker.session.timeout.ms", "12000"),
        ("broker.heartbeat.interval.ms", "3000"),
        ("replica.lag.time.max.ms", "40000"),
        ("replica.fetch.wait.max.ms", "250"),
        ("replica.fetch.min.bytes", "10"),
        ("replica.fetch.max.bytes", "2097152"),
        ("replica.fetch.response.max.bytes", "20971520"),
        ("replica.fetch.backoff.ms", "50"),
        ("replica.socket.timeout.ms", "20000"),
        ("controller.quorum.election.timeout.ms", "1500"),
        ("controller.quorum.request.timeout.ms", "2500"),
        ("controller.quorum.fetch.timeout.ms", "3500"),
        ("auto.leader.rebalance.enable", "false"),
        ("leader.imbalance.check.interval.seconds", "60"),
        ("leader.imbalance.per.broker.percentage", "25"),
        ("controlled.shutdown.enable", "false"),
        ("min.insync.replicas", "2"),
        ("unclean.leader.election.enable", "true"),
        ("process.roles", "broker,controller"),
        ("node.id", "2"),
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.2:0,CONTROLLER://127.0.0.1:0",
        ),
        (
            "advertised.listeners",
            "PLAINTEXT://localhost:0,INTERNAL://127.0.0.2:0",
        ),
        ("controller.listener.names", "controller"),
        ("inter.broker.listener.name", "internal"),
        (
            "controller.quorum.voters",
            "1@127.0.0.1:9093,2@127.0.0.1:9094,3@[::1]:9095",
        ),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,INTERNAL:plaintext,CONTROLLER:PLAINTEXT",
        ),
        ("broker.rack", "rack-a"),
    ];

    fn assert_kraft_settings(c: &BrokerConfig) {
        assert_eq!(c.broker_session_timeout_ms, 12_000);
        assert_eq!(c.broker_heartbeat_interval_ms, 3_000);
        assert_eq!(c.replica_lag_time_max_ms, 40_000);
        assert_eq!(c.replica_fetch_wait_max_ms, 250);
        assert_eq!(c.replica_fetch_min_bytes, 10);
        assert_eq!(c.replica_fetch_max_bytes, 2_097_152);
        assert_eq!(c.replica_fetch_response_max_bytes, 20_971_520);
        assert_eq!(c.replica_fetch_backoff_ms, 50);
        assert_eq!(c.replica_socket_timeout_ms, 20_000);
        assert_eq!(c.controller_quorum_election_timeout_ms, 1_500);
        assert_eq!(c.controller_quorum_request_timeout_ms, 2_500);
        assert_eq!(c.controller_quorum_fetch_timeout_ms, 3_500);
        assert!(!c.auto_leader_rebalance_enable);
        assert_eq!(c.leader_imbalance_check_interval_seconds, 60);
        assert_eq!(c.leader_imbalance_per_broker_percentage, 25);
        assert!(!c.controlled_shutdown_enable);
        assert_eq!(c.default_min_insync_replicas, 2);
        assert!(c.default_unclean_leader_election_enable);
        assert_eq!(c.node_id, 2);
        assert!(c.is_broker() && c.is_controller());
        assert_eq!(c.controller_listener_names.as_deref(), Some("CONTROLLER"));
        assert_eq!(c.inter_broker_listener_name.as_deref(), Some("INTERNAL"));
        assert_eq!(c.broker_rack.as_deref(), Some("rack-a"));
        let controller = c.controller_listener().unwrap();
        assert_eq!(
            (controller.name.as_str(), controller.host.as_str()),
            ("CONTROLLER", "127.0.0.1")
        );
        let clients: Vec<&str> = c
            .client_listeners()
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(clients, vec!["PLAINTEXT", "INTERNAL"]);
        let inter = c.inter_broker_listener().unwrap();
        assert_eq!(
            (inter.name.as_str(), inter.host.as_str()),
            ("INTERNAL", "127.0.0.2")
        );
        let s = c.topic_settings(&BTreeMap::new()).unwrap();
        assert_eq!(s.min_insync_replicas, 2);
        assert!(s.unclean_leader_election_enable);
        assert!(c.ignored.is_empty(), "{:?}", c.ignored);
    }

    #[test]
    fn kraft_and_replication_defaults_are_kafkas() {
        let c = BrokerConfig::load(None, &[], &[]).unwrap();
        assert_eq!(c.broker_session_timeout_ms, 9_000);
        assert_eq!(c.broker_heartbeat_interval_ms, 2_000);
        assert_eq!(c.replica_lag_time_max_ms, 30_000);
        assert_eq!(c.replica_fetch_wait_max_ms, 500);
        assert_eq!(c.replica_fetch_min_bytes, 1);
        assert_eq!(c.replica_fetch_max_bytes, 1_048_576);
        assert_eq!(c.replica_fetch_response_max_bytes, 10_485_760);
        assert_eq!(c.replica_fetch_backoff_ms, 1_000);
        assert_eq!(c.replica_socket_timeout_ms, 30_000);
        assert_eq!(c.controller_quorum_election_timeout_ms, 1_000);
        assert_eq!(c.controller_quorum_request_timeout_ms, 2_000);
        assert_eq!(c.controller_quorum_fetch_timeout_ms, 2_000);
        assert!(c.auto_leader_rebalance_enable);
        assert_eq!(c.leader_imbalance_check_interval_seconds, 300);
        assert_eq!(c.leader_imbalance_per_broker_percentage, 10);
        assert!(c.controlled_shutdown_enable);
        assert_eq!(c.default_min_insync_replicas, 1);
        assert!(!c.default_unclean_leader_election_enable);
        assert_eq!(c.inter_broker_listener_name, None);
        // Unset process.roles: a combined node, with no controller listener of its own.
        assert!(c.is_broker() && c.is_controller());
        assert_eq!(c.controller_listener(), None);
        assert_eq!(c.client_listeners(), c.listeners.iter().collect::<Vec<_>>());
        assert_eq!(c.inter_broker_listener(), c.advertised_listeners.first());
        assert_eq!(
            c.inter_broker_listener().map(|l| l.address()).as_deref(),
            Some("127.0.0.1:9092")
        );
        let s = c.topic_settings(&BTreeMap::new()).unwrap();
        assert_eq!(s.min_insync_replicas, 1);
        assert!(!s.unclean_leader_election_enable);
    }

    #[test]
    fn kraft_and_replication_settings_parse_from_overrides_file_and_env() {
        let args: Vec<String> = KRAFT_SETTINGS
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let c = BrokerConfig::load(None, &args, &[]).unwrap();
        assert_kraft_settings(&c);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.properties");
        let text: String = KRAFT_SETTINGS
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(&path, text).unwrap();
        assert_kraft_settings(&BrokerConfig::load(Some(&path), &[], &[]).unwrap());

        // The apache/kafka image's form: KAFKA_ + upper-case, `.` as `_`.
        let vars: Vec<(String, String)> = KRAFT_SETTINGS
            .iter()
            .map(|(k, v)| {
                (
                    format!("KAFKA_{}", k.to_ascii_uppercase().replace('.', "_")),
                    v.to_string(),
                )
            })
            .collect();
        for var in [
            "KAFKA_PROCESS_ROLES",
            "KAFKA_CONTROLLER_QUORUM_VOTERS",
            "KAFKA_CONTROLLER_LISTENER_NAMES",
            "KAFKA_INTER_BROKER_LISTENER_NAME",
            "KAFKA_LISTENERS",
            "KAFKA_ADVERTISED_LISTENERS",
            "KAFKA_NODE_ID",
            "KAFKA_BROKER_RACK",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "KAFKA_REPLICA_LAG_TIME_MAX_MS",
            "KAFKA_BROKER_SESSION_TIMEOUT_MS",
        ] {
            assert!(vars.iter().any(|(k, _)| k == var), "{var}");
        }
        assert_kraft_settings(&BrokerConfig::load(None, &[], &vars).unwrap());
    }

    #[test]
    fn kraft_and_replication_properties_are_no_longer_ignored() {
        for (name, _) in KRAFT_SETTINGS {
            assert!(classify(name) == Some(Class::Used), "{name}");
        }
        let c = BrokerConfig::load(None, &[], &[]).unwrap();
        let entries = c.describe_broker_configs();
        let get = |n: &str| entries.iter().find(|e| e.name == n).cloned();
        for (name, default) in [
            ("broker.session.timeout.ms", "9000"),
            ("replica.fetch.max.bytes", "1048576"),
            ("replica.lag.time.max.ms", "30000"),
            ("controlled.shutdown.enable", "true"),
            ("min.insync.replicas", "1"),
            ("unclean.leader.election.enable", "false"),
        ] {
            let e = get(name).unwrap_or_else(|| panic!("{name} not described"));
            assert_eq!(
                (e.value.as_deref(), e.source),
                (Some(default), ConfigSource::Default),
                "{name}"
            );
            assert!(e.documentation.is_some(), "{name}");
        }
        assert_eq!(
            get("replica.lag.time.max.ms").unwrap().config_type,
            ConfigType::Long
        );
        assert_eq!(
            get("controller.listener.names").unwrap().config_type,
            ConfigType::List
        );
        assert_eq!(get("inter.broker.listener.name").unwrap().value, None);
        for e in &entries {
            assert!(e.documentation.is_some(), "{} has no documentation", e.name);
        }

        let args: Vec<String> = KRAFT_SETTINGS
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let c = BrokerConfig::load(None, &args, &[]).unwrap();
        let entries = c.describe_broker_configs();
        for (name, _) in KRAFT_SETTINGS {
            let e = entries
                .iter()
                .find(|e| e.name == *name)
                .unwrap_or_else(|| panic!("{name} not described"));
            assert_eq!(e.source, ConfigSource::StaticBroker, "{name}");
            assert!(e.documentation.is_some(), "{name}");
        }
        let mip = entries
            .iter()
            .find(|e| e.name == "min.insync.replicas")
            .unwrap();
        assert_eq!(mip.value.as_deref(), Some("2"));
        // The topic config reports the broker default as its source.
        let topic_entries = c.describe_topic_configs(&BTreeMap::new());
        let t = topic_entries
            .iter()
            .find(|e| e.name == "min.insync.replicas")
            .unwrap();
        assert_eq!(
            (t.value.as_deref(), t.source),
            (Some("2"), ConfigSource::DefaultBroker)
        );
    }

    #[test]
    fn topic_min_insync_and_unclean_election_come_from_override_or_broker() {
        let c = load_overrides(&[
            "min.insync.replicas=2",
            "unclean.leader.election.enable=true",
        ])
        .unwrap();
        let s = c
            .topic_settings(&topic(&[
                ("min.insync.replicas", "3"),
                ("unclean.leader.election.enable", "FALSE"),
            ]))
            .unwrap();
        assert_eq!(s.min_insync_replicas, 3);
        assert!(!s.unclean_leader_election_enable);
        let s = c.topic_settings(&BTreeMap::new()).unwrap();
        assert_eq!(s.min_insync_replicas, 2);
        assert!(s.unclean_leader_election_enable);
        for bad in [
            "min.insync.replicas=0",
            "unclean.leader.election.enable=maybe",
        ] {
            let err = load_overrides(&[bad]).unwrap_err();
            let name = bad.split('=').next().unwrap();
            assert!(
                matches!(&err, ConfigError::InvalidValue { name: n, .. } if n == name),
                "{bad}: {err:?}"
            );
        }
    }

    /// The error `args` produce names `property` and says `needle`.
    fn assert_rejected(args: &[&str], property: &str, needle: &str) {
        let err = load_overrides(args).unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidValue { name, .. } if name == property),
            "{args:?}: {err:?}"
        );
        assert!(err.to_string().contains(needle), "{args:?}: {err}");
    }

    #[test]
    fn replication_timing_rules() {
        assert_rejected(
            &["broker.heartbeat.interval.ms=9000"],
            "broker.heartbeat.interval.ms",
            "less than broker.session.timeout.ms (9000)",
        );
        assert_rejected(
            &[
                "broker.session.timeout.ms=1000",
                "broker.heartbeat.interval.ms=1500",
            ],
            "broker.heartbeat.interval.ms",
            "less than broker.session.timeout.ms (1000)",
        );
        assert!(load_overrides(&["broker.heartbeat.interval.ms=8999"]).is_ok());
        assert_rejected(
            &["replica.fetch.wait.max.ms=30001"],
            "replica.fetch.wait.max.ms",
            "replica.socket.timeout.ms (30000)",
        );
        assert_rejected(
            &[
                "replica.lag.time.max.ms=100",
                "replica.fetch.wait.max.ms=200",
            ],
            "replica.fetch.wait.max.ms",
            "replica.lag.time.max.ms (100)",
        );
        for bad in [
            "broker.session.timeout.ms=0",
            "replica.lag.time.max.ms=0",
            "replica.fetch.max.bytes=-1",
            "replica.fetch.response.max.bytes=x",
            "replica.socket.timeout.ms=0",
            "controller.quorum.election.timeout.ms=0",
            "leader.imbalance.check.interval.seconds=0",
            "leader.imbalance.per.broker.percentage=101",
            "leader.imbalance.per.broker.percentage=-1",
            "auto.leader.rebalance.enable=yes",
            "controlled.shutdown.enable=1",
        ] {
            let name = bad.split('=').next().unwrap();
            assert_rejected(&[bad], name, name);
        }
    }

    #[test]
    fn roles_listeners_and_voters_rules() {
        // A controller needs a controller listener that it binds.
        assert_rejected(
            &["process.roles=broker,controller"],
            "controller.listener.names",
            "at least one listener name",
        );
        assert_rejected(
            &[
                "process.roles=controller",
                "controller.listener.names=CONTROLLER",
            ],
            "controller.listener.names",
            "appears in listeners (PLAINTEXT)",
        );
        // A controller-only node has only controller listeners.
        assert_rejected(
            &[
                "process.roles=controller",
                "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "controller.listener.names=CONTROLLER",
            ],
            "listeners",
            "PLAINTEXT is not one",
        );
        let c = load_overrides(&[
            "process.roles=controller",
            "listeners=CONTROLLER://127.0.0.1:9093",
            "controller.listener.names=CONTROLLER",
            "controller.quorum.voters=1@127.0.0.1:9093",
        ])
        .unwrap();
        assert!(c.is_controller() && !c.is_broker());
        assert_eq!(c.controller_listener().map(|l| l.port), Some(9093));
        assert!(c.client_listeners().is_empty());
        // A broker-only node reaches the controllers through a listener it does not bind.
        assert_rejected(
            &["process.roles=broker"],
            "controller.listener.names",
            "process.roles=broker",
        );
        assert_rejected(
            &[
                "process.roles=broker",
                "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "controller.listener.names=CONTROLLER",
            ],
            "listeners",
            "no controller listener",
        );
        assert_rejected(
            &[
                "process.roles=broker",
                "controller.listener.names=CONTROLLER",
                "controller.quorum.voters=1@127.0.0.1:9093",
            ],
            "controller.quorum.voters",
            "do not include node.id (1)",
        );
        let c = load_overrides(&[
            "process.roles=broker",
            "node.id=4",
            "controller.listener.names=CONTROLLER",
            "controller.quorum.voters=1@127.0.0.1:9093",
        ])
        .unwrap();
        assert!(c.is_broker() && !c.is_controller());
        assert_eq!(c.controller_listener(), None);
        // A controller must be one of the voters (unset roles: a combined node is a controller).
        for roles in [&["process.roles=broker,controller"][..], &[][..]] {
            let mut args = vec![
                "node.id=7",
                "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "controller.listener.names=CONTROLLER",
                "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9094",
            ];
            args.extend_from_slice(roles);
            assert_rejected(
                &args,
                "controller.quorum.voters",
                "include this node's node.id (7)",
            );
        }
        // No advertised controller listener on a broker.
        assert_rejected(
            &[
                "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "advertised.listeners=PLAINTEXT://localhost:0,CONTROLLER://localhost:0",
                "controller.listener.names=CONTROLLER",
            ],
            "advertised.listeners",
            "controller listener CONTROLLER",
        );
        // inter.broker.listener.name names an advertised, non-controller listener.
        assert_rejected(
            &["inter.broker.listener.name=INTERNAL"],
            "inter.broker.listener.name",
            "advertised listener (PLAINTEXT)",
        );
        assert_rejected(
            &[
                "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=controller",
            ],
            "inter.broker.listener.name",
            "not in controller.listener.names",
        );
        assert_rejected(
            &["inter.broker.listener.name=bad name"],
            "inter.broker.listener.name",
            "listener name",
        );
        assert_rejected(
            &["controller.listener.names=A,a"],
            "controller.listener.names",
            "A appears twice",
        );
    }

    #[test]
    fn voters_syntax() {
        assert_eq!(
            parse_voters_syntax("1@h:9093, 2@[::1]:9094,3@10.0.0.3:1"),
            Ok(vec![1, 2, 3])
        );
        for bad in [
            "",
            ",",
            "1@h",
            "1h:9093",
            "x@h:9093",
            "-1@h:9093",
            "1@:9093",
            "1@h:99999",
            "1@::1:9093",
            "1@h:1,1@g:2",
        ] {
            assert!(parse_voters_syntax(bad).is_err(), "{bad}");
        }
        assert_rejected(
            &["controller.quorum.voters=1@h:1,1@g:2"],
            "controller.quorum.voters",
            "voter 1 appears twice",
        );
        assert_rejected(
            &["controller.quorum.voters=1:h:1"],
            "controller.quorum.voters",
            "id@host:port",
        );
        // A dynamic quorum of several is refused (each node would form a quorum of one); one
        // server, Kafka 4.1's own single-node server.properties, is served.
        assert_rejected(
            &["controller.quorum.bootstrap.servers=h:1,g:2"],
            "controller.quorum.bootstrap.servers",
            "dynamic quorum (KIP-853) is not supported",
        );
        load_overrides(&["controller.quorum.bootstrap.servers=localhost:9093"])
            .expect("one server");
        load_overrides(&[
            "controller.quorum.bootstrap.servers=h:1,g:2",
            "controller.quorum.voters=1@h:1",
        ])
        .expect("static voters win");
    }

    #[test]
    fn security_protocol_map_accepts_plaintext_only() {
        let c = load_overrides(&[
            "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=plaintext:plaintext , CONTROLLER:PLAINTEXT",
        ])
        .unwrap();
        assert!(c.ignored.is_empty());
        let entry = c
            .describe_broker_configs()
            .into_iter()
            .find(|e| e.name == "listener.security.protocol.map")
            .unwrap();
        assert_eq!(
            entry.value.as_deref(),
            Some("PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT")
        );
        assert_rejected(
            &["listener.security.protocol.map=PLAINTEXT:SSL"],
            "listener.security.protocol.map",
            "does not speak TLS or SASL yet",
        );
        assert_rejected(
            &["listener.security.protocol.map=PLAINTEXT:SASL_SSL"],
            "listener.security.protocol.map",
            "cannot use SASL_SSL",
        );
        assert_rejected(
            &["listener.security.protocol.map=PLAINTEXT:QUIC"],
            "listener.security.protocol.map",
            "one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        );
        assert_rejected(
            &["listener.security.protocol.map=PLAINTEXT"],
            "listener.security.protocol.map",
            "LISTENER_NAME:PROTOCOL",
        );
        assert_rejected(
            &["listener.security.protocol.map=PLAINTEXT:PLAINTEXT,plaintext:PLAINTEXT"],
            "listener.security.protocol.map",
            "PLAINTEXT appears twice",
        );
        assert_rejected(
            &[
                "listeners=PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT",
            ],
            "listener.security.protocol.map",
            "INTERNAL has none",
        );
        // Kafka's default map gives a listener named SSL the SSL protocol.
        assert_rejected(
            &["listeners=SSL://127.0.0.1:0"],
            "listeners",
            "does not speak TLS or SASL yet",
        );
        assert!(
            load_overrides(&[
                "listeners=SSL://127.0.0.1:0",
                "listener.security.protocol.map=SSL:PLAINTEXT",
            ])
            .is_ok()
        );
    }

    #[test]
    fn typo_is_an_error_with_a_suggestion() {
        let err = load_overrides(&["num.partition=3"]).unwrap_err();
        match &err {
            ConfigError::UnknownProperty { name, suggestion } => {
                assert_eq!(name, "num.partition");
                assert_eq!(suggestion.as_deref(), Some("num.partitions"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string().contains("did you mean `num.partitions`"),
            "{err}"
        );

        let err = load_overrides(&["cluster.id=abc"]).unwrap_err();
        assert!(
            matches!(err, ConfigError::UnknownProperty { suggestion: Some(ref s), .. } if s == "gregor.cluster.id")
        );

        let err = load_overrides(&["gregor.clusterid=abc"]).unwrap_err();
        assert!(
            matches!(err, ConfigError::UnknownProperty { suggestion: Some(ref s), .. } if s == "gregor.cluster.id")
        );

        let err = load_overrides(&["gregor.nonsense.setting=1"]).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::UnknownProperty {
                suggestion: None,
                ..
            }
        ));

        let err = load_overrides(&["no-equals-sign"]).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidValue { ref name, .. } if name == "--override"));
    }

    #[test]
    fn unused_kafka_properties_are_accepted_and_reported() {
        let c = load_overrides(&[
            "num.network.threads=8",
            "num.io.threads=8",
            "socket.send.buffer.bytes=102400",
            "zookeeper.connect=zk:2181",
            "ssl.keystore.password=secret",
            "listener.name.internal.ssl.keystore.location=/k",
            "log.cleanup.policy=compact",
        ])
        .unwrap();
        assert_eq!(
            c.ignored,
            vec![
                "listener.name.internal.ssl.keystore.location",
                "log.cleanup.policy",
                "num.io.threads",
                "num.network.threads",
                "socket.send.buffer.bytes",
                "ssl.keystore.password",
                "zookeeper.connect",
            ]
        );
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn invalid_values_name_property_value_and_expectation() {
        let err = load_overrides(&["num.partitions=many"]).unwrap_err();
        match &err {
            ConfigError::InvalidValue {
                name,
                value,
                expected,
            } => {
                assert_eq!(name, "num.partitions");
                assert_eq!(value, "many");
                assert!(
                    expected.contains("at least 1") || expected.contains("from 1"),
                    "{expected}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("num.partitions") && err.to_string().contains("many"));

        for bad in [
            "num.partitions=0",
            "socket.request.max.bytes=0",
            "message.max.bytes=-1",
            "default.replication.factor=40000",
            "auto.create.topics.enable=yes",
            "log.message.timestamp.type=createtime",
            "log.cleanup.policy=shred",
            "compression.type=brotli",
            "listeners=PLAINTEXT://host",
            "node.id=-1",
            "process.roles=worker",
            "gregor.cluster.id=has space",
            "log.retention.ms=-2",
            "log.cleaner.min.cleanable.ratio=1.5",
        ] {
            let err = load_overrides(&[bad]).unwrap_err();
            let name = bad.split('=').next().unwrap();
            assert!(
                matches!(&err, ConfigError::InvalidValue { name: n, .. } if n == name),
                "{bad}: {err:?}"
            );
        }

        let err = load_overrides(&["node.id=2", "broker.id=3"]).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidValue { ref name, .. } if name == "broker.id"));
        assert_eq!(load_overrides(&["broker.id=4"]).unwrap().node_id, 4);

        let err = load_overrides(&[
            "group.min.session.timeout.ms=10",
            "group.max.session.timeout.ms=5",
        ])
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidValue { ref name, .. } if name == "group.min.session.timeout.ms")
        );
    }

    #[test]
    fn empty_value_means_default() {
        let c = BrokerConfig::load(
            None,
            &ov(&["num.partitions="]),
            &env(&[("KAFKA_NUM_PARTITIONS", "9")]),
        )
        .unwrap();
        assert_eq!(c.num_partitions, 1);
        assert!(!c.is_set("num.partitions"));
    }

    #[test]
    fn retention_ms_beats_minutes_beats_hours() {
        assert_eq!(
            load_overrides(&["log.retention.hours=1"])
                .unwrap()
                .log_retention_ms,
            MS_PER_HOUR
        );
        assert_eq!(
            load_overrides(&["log.retention.minutes=2", "log.retention.hours=1"])
                .unwrap()
                .log_retention_ms,
            2 * MS_PER_MINUTE
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.properties");
        std::fs::write(&path, "log.retention.ms=1234\n").unwrap();
        // A property set in a weaker source still beats a less specific one set in a stronger source.
        let c = BrokerConfig::load(Some(&path), &ov(&["log.retention.hours=5"]), &[]).unwrap();
        assert_eq!(c.log_retention_ms, 1234);
        assert_eq!(
            load_overrides(&["log.retention.hours=-1"])
                .unwrap()
                .log_retention_ms,
            -1
        );
        assert_eq!(
            load_overrides(&["log.roll.hours=2"]).unwrap().log_roll_ms,
            2 * MS_PER_HOUR
        );
        assert_eq!(
            load_overrides(&["log.roll.ms=10", "log.roll.hours=2"])
                .unwrap()
                .log_roll_ms,
            10
        );
    }

    #[test]
    fn log_dirs_falls_back_to_log_dir() {
        assert_eq!(
            load_overrides(&["log.dir=/x"]).unwrap().log_dirs,
            vec![PathBuf::from("/x")]
        );
        assert_eq!(
            load_overrides(&["log.dir=/x", "log.dirs=/y, /z"])
                .unwrap()
                .log_dirs,
            vec![PathBuf::from("/y"), PathBuf::from("/z")]
        );
        assert!(load_overrides(&["log.dirs=/y,/y"]).is_err());
    }

    #[test]
    fn listener_parsing() {
        let l =
            parse_listeners("PLAINTEXT://:0, internal://[::1]:9093,EXT://kafka.example.com:19092")
                .unwrap();
        assert_eq!(
            l[0],
            Listener {
                name: "PLAINTEXT".into(),
                host: "0.0.0.0".into(),
                port: 0
            }
        );
        assert_eq!(
            l[1],
            Listener {
                name: "INTERNAL".into(),
                host: "::1".into(),
                port: 9093
            }
        );
        assert_eq!(l[1].address(), "[::1]:9093");
        assert_eq!(l[1].to_string(), "INTERNAL://[::1]:9093");
        assert_eq!(l[2].port, 19092);
        for bad in [
            "",
            "PLAINTEXT://h",
            "PLAINTEXT://h:65536",
            "PLAINTEXT://h:-1",
            "://h:1",
            "PLAINTEXT:/h:1",
            "A://::1:9092",
            "A://h:1,A://g:2",
            "A://[]:1",
            "A://h h:1",
        ] {
            assert!(parse_listeners(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn advertised_listeners_rules() {
        // Derived: unspecified host advertised as localhost, controller listeners left out.
        let c = load_overrides(&[
            "listeners=PLAINTEXT://:0,CONTROLLER://:9093",
            "controller.listener.names=CONTROLLER",
        ])
        .unwrap();
        assert_eq!(
            c.advertised_listeners,
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "localhost".into(),
                port: 0
            }]
        );
        // Explicit 0.0.0.0 is not advertisable.
        assert!(
            load_overrides(&[
                "listeners=PLAINTEXT://:9092",
                "advertised.listeners=PLAINTEXT://0.0.0.0:9092"
            ])
            .is_err()
        );
        // Advertised names must exist in listeners.
        assert!(load_overrides(&["advertised.listeners=OTHER://h:1"]).is_err());
        // Two listeners on one port.
        assert!(load_overrides(&["listeners=A://:9092,B://:9092"]).is_err());
        assert!(load_overrides(&["listeners=A://:0,B://:0"]).is_ok());
    }

    #[test]
    fn topic_overrides_valid_invalid_unknown() {
        let c = load_overrides(&[
            "log.segment.bytes=1000",
            "log.retention.hours=1",
            "message.max.bytes=500",
        ])
        .unwrap();
        let s = c.topic_settings(&BTreeMap::new()).unwrap();
        assert_eq!(s.segment_bytes, 1000);
        assert_eq!(s.retention_ms, MS_PER_HOUR);
        assert_eq!(s.max_message_bytes, 500);

        let s = c
            .topic_settings(&topic(&[
                ("segment.bytes", "100"),
                ("retention.ms", "-1"),
                ("message.timestamp.type", "LogAppendTime"),
                ("cleanup.policy", "compact,delete"),
                ("compression.type", "zstd"),
                ("flush.messages", "1"),
                ("min.cleanable.dirty.ratio", "0.1"),
                ("leader.replication.throttled.replicas", "0:1,1:2"),
                ("follower.replication.throttled.replicas", "*"),
                ("remote.log.copy.disable", "TRUE"),
            ]))
            .unwrap();
        assert_eq!(s.segment_bytes, 100);
        assert_eq!(s.retention_ms, -1);
        assert_eq!(s.message_timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(s.flush_messages, 1);

        for (name, value) in [
            ("segment.bytes", "0"),
            ("segment.bytes", "abc"),
            ("cleanup.policy", "delete,forever"),
            ("compression.type", "brotli"),
            ("message.timestamp.type", "Now"),
            ("min.insync.replicas", "0"),
            ("compression.gzip.level", "0"),
            ("leader.replication.throttled.replicas", "0-1"),
            ("retention.ms", "-5"),
            ("preallocate", "maybe"),
        ] {
            let err = c.topic_settings(&topic(&[(name, value)])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidTopicConfig { name: n, value: v, .. } if n == name && v == value),
                "{name}={value}: {err:?}"
            );
        }
        let err = c
            .topic_settings(&topic(&[
                ("min.compaction.lag.ms", "10"),
                ("max.compaction.lag.ms", "5"),
            ]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidTopicConfig { .. }));

        let err = c
            .topic_settings(&topic(&[("retention.hours", "1")]))
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::UnknownTopicConfig { ref name } if name == "retention.hours")
        );
        assert!(err.to_string().contains("retention.hours"));
        assert!(matches!(
            c.topic_settings(&topic(&[("message.format.version", "3.0")])),
            Err(ConfigError::UnknownTopicConfig { .. })
        ));
    }

    #[test]
    fn flush_ms_follows_scheduler_interval_when_unset() {
        let c = load_overrides(&["log.flush.scheduler.interval.ms=2000"]).unwrap();
        assert_eq!(c.topic_settings(&BTreeMap::new()).unwrap().flush_ms, 2000);
        let c = load_overrides(&[
            "log.flush.scheduler.interval.ms=2000",
            "log.flush.interval.ms=50",
        ])
        .unwrap();
        assert_eq!(c.log_flush_interval_ms, Some(50));
        assert_eq!(c.topic_settings(&BTreeMap::new()).unwrap().flush_ms, 50);
    }

    #[test]
    fn describe_topic_configs_sources() {
        let c = load_overrides(&["log.retention.hours=1", "log.cleanup.policy=compact"]).unwrap();
        let entries =
            c.describe_topic_configs(&topic(&[("segment.bytes", "2048"), ("bogus", "x")]));
        assert_eq!(entries.len(), TOPIC_DEFS.len());
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();

        let seg = get("segment.bytes");
        assert_eq!(
            (seg.value.as_deref(), seg.source, seg.is_default),
            (Some("2048"), ConfigSource::TopicOverride, false)
        );
        let ret = get("retention.ms");
        assert_eq!(
            (ret.value.as_deref(), ret.source),
            (Some("3600000"), ConfigSource::DefaultBroker)
        );
        let cp = get("cleanup.policy");
        assert_eq!(
            (cp.value.as_deref(), cp.source),
            (Some("compact"), ConfigSource::DefaultBroker)
        );
        let mmb = get("max.message.bytes");
        assert_eq!(
            (mmb.value.as_deref(), mmb.source, mmb.is_default),
            (Some("1048588"), ConfigSource::Default, true)
        );
        assert_eq!(get("segment.ms").value.as_deref(), Some("604800000"));
        assert_eq!(get("flush.ms").value.as_deref(), Some(LONG_MAX_STR));
        assert_eq!(
            get("min.cleanable.dirty.ratio").value.as_deref(),
            Some("0.5")
        );
        assert_eq!(
            get("leader.replication.throttled.replicas")
                .value
                .as_deref(),
            Some("")
        );
        assert!(entries.iter().all(|e| !e.read_only && !e.sensitive));
        assert_eq!(ConfigSource::TopicOverride.kafka_code(), 1);
        assert_eq!(ConfigSource::Default.kafka_code(), 5);
    }

    #[test]
    fn describe_broker_configs_sources() {
        let c = load_overrides(&[
            "num.partitions=3",
            "num.network.threads=2",
            "gregor.cluster.id=abc",
        ])
        .unwrap();
        let entries = c.describe_broker_configs();
        let get = |n: &str| entries.iter().find(|e| e.name == n).cloned();
        let np = get("num.partitions").unwrap();
        assert_eq!(
            (np.value.as_deref(), np.source, np.is_default),
            (Some("3"), ConfigSource::StaticBroker, false)
        );
        let rf = get("default.replication.factor").unwrap();
        assert_eq!(
            (rf.value.as_deref(), rf.source, rf.is_default),
            (Some("1"), ConfigSource::Default, true)
        );
        assert_eq!(
            get("log.retention.hours").unwrap().value.as_deref(),
            Some("168")
        );
        assert_eq!(get("log.retention.ms").unwrap().value, None);
        assert_eq!(
            get("group.initial.rebalance.delay.ms")
                .unwrap()
                .value
                .as_deref(),
            Some("0")
        );
        assert!(get("num.network.threads").is_none());
        assert!(get("gregor.cluster.id").is_none());
        assert!(entries.iter().all(|e| e.read_only && !e.sensitive));
        let mut names: Vec<_> = entries.iter().map(|e| e.name.clone()).collect();
        names.sort();
        assert_eq!(
            names,
            entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn error_messages_read_as_sentences() {
        let e = ConfigError::UnknownProperty {
            name: "num.partition".into(),
            suggestion: Some("num.partitions".into()),
        };
        assert_eq!(
            e.to_string(),
            "unknown property `num.partition`: it is neither an Apache Kafka broker property nor a Gregor \
             (`gregor.`) property; did you mean `num.partitions`?"
        );
        let e = ConfigError::InvalidValue {
            name: "num.partitions".into(),
            value: "x".into(),
            expected: "an integer of at least 1".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid value `x` for property `num.partitions`: expected an integer of at least 1"
        );
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("num.partition", "num.partitions"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert!(suggest(&"x".repeat(10_000)).is_none());
    }
}
