//! Figures collected by the phases, written as one flat JSON object (stable key names, sorted)
//! and as a markdown table.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use crate::Args;

struct Figure {
    phase: &'static str,
    key: String,
    value: Value,
    unit: &'static str,
    what: String,
}

pub struct Report {
    params: Map<String, Value>,
    figures: Vec<Figure>,
    notes: Vec<String>,
}

impl Report {
    pub fn new(a: &Args) -> Report {
        let mut params = Map::new();
        let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
        let v = json!({
            "records": a.records,
            "record_bytes": a.record_bytes,
            "partitions": a.partitions,
            "acks": a.acks,
            "linger_ms": a.linger_ms,
            "batch_bytes": a.batch_bytes,
            "compression": a.compression.as_str(),
            "latency_rate_per_s": a.rate,
            "latency_duration_s": a.latency_duration_s,
            "latency_acks": a.latency_acks,
            "group_protocol": format!("{:?}", a.group_protocol).to_lowercase(),
            "phases": a.phases.iter().map(|p| format!("{p:?}").to_lowercase()).collect::<Vec<_>>(),
            "librdkafka_version": librdkafka,
            "mib_bytes": 1_048_576,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "unix_time_s": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        });
        if let Value::Object(m) = v {
            params = m;
        }
        if let Some(l) = loadavg() {
            params.insert("loadavg_1m_start".into(), l.into());
        }
        Report {
            params,
            figures: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn set_param(&mut self, k: &str, v: Value) {
        self.params.insert(k.into(), v);
    }

    pub fn num(&mut self, phase: &'static str, key: &str, v: f64, unit: &'static str, what: &str) {
        let v = if !v.is_finite() {
            Value::Null
        } else if v.fract() == 0.0 && v.abs() < 9e15 {
            json!(v as i64)
        } else {
            json!(round_sig(v, 4))
        };
        self.figures.push(Figure {
            phase,
            key: key.into(),
            value: v,
            unit,
            what: what.into(),
        });
    }

    pub fn ms(&mut self, phase: &'static str, key: &str, d: Duration, what: &str) {
        self.num(phase, key, d.as_secs_f64() * 1000.0, "ms", what);
    }

    pub fn text(&mut self, phase: &'static str, key: &str, v: &str, what: &str) {
        self.figures.push(Figure {
            phase,
            key: key.into(),
            value: v.into(),
            unit: "",
            what: what.into(),
        });
    }

    pub fn note(&mut self, s: &str) {
        eprintln!("note: {s}");
        self.notes.push(s.into());
    }

    fn to_json(&self) -> Value {
        let mut m = self.params.clone();
        for f in &self.figures {
            m.insert(f.key.clone(), f.value.clone());
        }
        if let Some(l) = loadavg() {
            m.insert("loadavg_1m_end".into(), l.into());
        }
        m.insert("notes".into(), self.notes.clone().into());
        Value::Object(m)
    }

    fn to_markdown(&self) -> String {
        let p = &self.params;
        let g = |k: &str| {
            p.get(k)
                .map(|v| v.to_string().trim_matches('"').to_owned())
                .unwrap_or_default()
        };
        let mut s = format!(
            "### gregor-loadgen: {} records x {} B, {} partitions, acks={}, linger.ms={}, batch.size={}, compression={}; latency {}/s for {} s (acks={}); librdkafka {}\n\n",
            g("records"),
            g("record_bytes"),
            g("partitions"),
            g("acks"),
            g("linger_ms"),
            match p.get("batch_bytes") {
                Some(Value::Null) | None => "default".into(),
                Some(v) => v.to_string(),
            },
            g("compression"),
            g("latency_rate_per_s"),
            g("latency_duration_s"),
            g("latency_acks"),
            g("librdkafka_version"),
        );
        s.push_str("| phase | figure | value | unit | what |\n|---|---|---:|---|---|\n");
        for f in &self.figures {
            let v = match &f.value {
                Value::String(x) => x.clone(),
                Value::Null => "n/a".into(),
                v => v.to_string(),
            };
            s.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                f.phase, f.key, v, f.unit, f.what
            ));
        }
        if !self.notes.is_empty() {
            s.push('\n');
            for n in &self.notes {
                s.push_str(&format!("- {}\n", n.replace('|', "\\|")));
            }
        }
        s
    }

    pub fn finish(&self, a: &Args) -> Result<()> {
        let md = self.to_markdown();
        println!("{md}");
        if let Some(path) = &a.markdown {
            std::fs::write(path, &md).with_context(|| format!("write {}", path.display()))?;
        }
        if let Some(path) = &a.json {
            let j = serde_json::to_string_pretty(&self.to_json())?;
            std::fs::write(path, j + "\n").with_context(|| format!("write {}", path.display()))?;
        }
        Ok(())
    }
}

/// `v` rounded to `sig` significant digits (at least 3 decimals kept for values above 1).
fn round_sig(v: f64, sig: i32) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (sig - 1 - mag).max(3);
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
