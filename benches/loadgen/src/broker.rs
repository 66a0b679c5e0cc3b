//! The broker under test: start it (when given its binary), probe it by hand with a raw Metadata
//! v1 request, sample its CPU time and memory from /proc, and stop it. Only a process this tool
//! started is ever signalled, by its PID.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// PID of the broker this process started (0 when none), for the watchdog.
pub static STARTED_PID: AtomicI32 = AtomicI32::new(0);

/// A broker process started by this tool, with its fresh data directory.
pub struct StartedBroker {
    child: Option<Child>,
    pub pid: i32,
    pub bootstrap: String,
    pub data_dir: tempfile::TempDir,
    pub log_path: PathBuf,
    /// Spawn until the TCP port first accepted a connection.
    pub startup_to_accept: Duration,
    /// Spawn until the first successful Metadata response.
    pub startup_to_metadata: Duration,
}

/// A free loopback port: bind port 0, read it back, release it.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl StartedBroker {
    /// Starts `bin` on a free 127.0.0.1 port with a fresh temp data dir and waits (polling every
    /// 1 ms, at most `timeout`) for it to answer a Metadata v1 request.
    pub fn start(bin: &Path, timeout: Duration, keep_data: bool) -> Result<StartedBroker> {
        let port = free_port()?;
        let mut data_dir = tempfile::Builder::new()
            .prefix("gregor-loadgen-")
            .tempdir()
            .context("temp dir")?;
        data_dir.disable_cleanup(keep_data);
        let logs = data_dir.path().join("data");
        std::fs::create_dir_all(&logs)?;
        let log_path = data_dir.path().join("broker.log");
        let log = File::create(&log_path)?;
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(bin);
        cmd.arg("--override")
            .arg(format!("listeners=PLAINTEXT://{addr}"))
            .arg("--override")
            .arg(format!("log.dirs={}", logs.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // If this tool dies (panic, SIGKILL, watchdog), the broker gets SIGTERM too.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let t0 = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let pid = child.id() as i32;
        STARTED_PID.store(pid, Ordering::SeqCst);
        let sock: SocketAddr = addr.parse()?;
        let deadline = t0 + timeout;
        let mut accept = None;
        let metadata = loop {
            if let Some(st) = child.try_wait()? {
                STARTED_PID.store(0, Ordering::SeqCst);
                bail!(
                    "broker exited at start-up with {st}; log {}:\n{}",
                    log_path.display(),
                    tail(&log_path, 20)
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                STARTED_PID.store(0, Ordering::SeqCst);
                bail!("broker did not answer Metadata within {timeout:?}");
            }
            if let Ok(s) = TcpStream::connect_timeout(&sock, Duration::from_millis(100)) {
                accept.get_or_insert_with(|| t0.elapsed());
                if metadata_v1(s).is_ok() {
                    break t0.elapsed();
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        Ok(StartedBroker {
            child: Some(child),
            pid,
            bootstrap: addr,
            data_dir,
            log_path,
            startup_to_accept: accept.unwrap_or(metadata),
            startup_to_metadata: metadata,
        })
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL. Returns how long the clean stop took, or None
    /// if it had to be killed.
    pub fn stop(&mut self, grace: Duration) -> Option<Duration> {
        let mut child = self.child.take()?;
        let t0 = Instant::now();
        unsafe {
            libc::kill(self.pid, libc::SIGTERM);
        }
        let deadline = t0 + grace;
        let clean = loop {
            match child.try_wait() {
                Ok(Some(_)) => break Some(t0.elapsed()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        STARTED_PID.store(0, Ordering::SeqCst);
        clean
    }

    /// Lines of the broker's log at WARN or ERROR level.
    pub fn warn_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("panicked"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for StartedBroker {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

fn tail(path: &Path, n: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sends one Metadata v1 request (all topics) by hand and checks the answer: matching correlation
/// id and at least one broker.
pub fn metadata_v1(mut s: TcpStream) -> Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    s.set_write_timeout(Some(Duration::from_secs(1)))?;
    s.set_nodelay(true)?;
    let client_id = b"gregor-loadgen";
    let corr: i32 = 0x4c47;
    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&3i16.to_be_bytes()); // api key: Metadata
    body.extend_from_slice(&1i16.to_be_bytes()); // api version 1
    body.extend_from_slice(&corr.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    body.extend_from_slice(&(-1i32).to_be_bytes()); // topics: null = all
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    s.write_all(&frame)?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = i32::from_be_bytes(len);
    if !(8..=64 << 20).contains(&n) {
        bail!("bad response length {n}");
    }
    let mut resp = vec![0u8; n as usize];
    s.read_exact(&mut resp)?;
    let got_corr = i32::from_be_bytes(resp[0..4].try_into()?);
    let brokers = i32::from_be_bytes(resp[4..8].try_into()?);
    if got_corr != corr {
        bail!("correlation id {got_corr}, sent {corr}");
    }
    if brokers < 1 {
        bail!("no brokers in Metadata");
    }
    Ok(())
}

/// Clock ticks per second for /proc/PID/stat times.
fn clk_tck() -> f64 {
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// The process's user + system CPU seconds.
pub fn cpu_seconds(pid: i32) -> Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after "(comm)": state is field 3 (index 0 here), utime 14, stime 15.
    let rest = s
        .rsplit_once(')')
        .ok_or_else(|| anyhow!("malformed /proc/{pid}/stat"))?
        .1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11).ok_or_else(|| anyhow!("no utime"))?.parse()?;
    let stime: u64 = f.get(12).ok_or_else(|| anyhow!("no stime"))?.parse()?;
    Ok((utime + stime) as f64 / clk_tck())
}

/// A `/proc/PID/status` field in KiB (VmRSS, VmHWM ...).
pub fn status_kib(pid: i32, key: &str) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            return Ok(v
                .split_whitespace()
                .next()
                .ok_or_else(|| anyhow!("empty {key}"))?
                .parse()?);
        }
    }
    bail!("{key} not in /proc/{pid}/status")
}

/// This process's own user + system CPU seconds.
pub fn self_cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
