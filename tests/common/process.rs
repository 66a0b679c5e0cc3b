//! `gregor` as a child process of a test: started with `--override` properties, its stderr in a
//! log file, killed with SIGKILL (a real `kill -9`), stopped with SIGTERM, paused with SIGSTOP.
//!
//! Which binary: `GREGOR_BIN` if set, else the one cargo built for this test run
//! (`CARGO_BIN_EXE_gregor`). Every wait is bounded, and a child still running when its
//! `BrokerProcess` drops is killed and reaped, so a failing test leaves no process behind. Only
//! the test's own children are ever signalled, by their PID.

use std::fs::OpenOptions;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a broker may take to start accepting connections.
pub const START_WAIT: Duration = Duration::from_secs(30);

pub fn broker_binary() -> PathBuf {
    match std::env::var_os("GREGOR_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_gregor")),
    }
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    free_port_on([127, 0, 0, 1].into())
}

/// A port free on `ip` (any 127.0.0.0/8 address works on Linux) right now, below the
/// ephemeral range (`gregor::embedded::free_port_on`: no outgoing connection takes it first).
pub fn free_port_on(ip: IpAddr) -> u16 {
    gregor::embedded::free_port_on(ip).unwrap_or_else(|e| panic!("free port on {ip}: {e}"))
}

/// A `gregor` child process; killed (SIGKILL) and reaped on drop if still running.
pub struct BrokerProcess {
    child: Option<Child>,
    client_addr: SocketAddr,
    log_path: PathBuf,
    overrides: Vec<String>,
    /// A program and its leading arguments that start the binary (empty: run it directly).
    launcher: Vec<String>,
}

impl BrokerProcess {
    /// A single node on 127.0.0.1:`port` with its data in `data_dir`; returns once it accepts.
    pub fn start(port: u16, data_dir: &Path, log_path: PathBuf) -> BrokerProcess {
        let overrides = vec![
            format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
            format!("log.dirs={}", data_dir.display()),
        ];
        let mut b = Self::spawn(overrides, ([127, 0, 0, 1], port).into(), log_path);
        b.wait_accepting();
        b
    }

    /// Starts the binary with these `key=value` properties; `client_addr` is where it will
    /// accept clients. Returns at once (see `wait_accepting`).
    pub fn spawn(overrides: Vec<String>, client_addr: SocketAddr, log_path: PathBuf) -> Self {
        Self::spawn_via(Vec::new(), overrides, client_addr, log_path)
    }

    /// Like `spawn`, with the binary started as the last argument of `launcher` (a program and
    /// its leading arguments, e.g. `ip netns exec <namespace>`). The launcher must exec the
    /// binary, so that the child's PID (the one every signal goes to) is the broker's.
    pub fn spawn_via(
        launcher: Vec<String>,
        overrides: Vec<String>,
        client_addr: SocketAddr,
        log_path: PathBuf,
    ) -> Self {
        let mut b = BrokerProcess {
            child: None,
            client_addr,
            log_path,
            overrides,
            launcher,
        };
        b.respawn();
        b
    }

    /// Starts the process again with the same properties (after `kill9` or `terminate`).
    pub fn respawn(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let bin = broker_binary();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("broker log file");
        let mut cmd = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        for o in &self.overrides {
            cmd.arg("--override").arg(o);
        }
        cmd.env(
            "RUST_LOG",
            std::env::var("GREGOR_CHILD_LOG").unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
        // The binary reads KAFKA_* variables as configuration: do not let the caller's leak in.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KAFKA_") {
                cmd.env_remove(k);
            }
        }
        self.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display())),
        );
    }

    /// Waits (bounded by `START_WAIT`) until the client listener accepts connections.
    pub fn wait_accepting(&mut self) {
        let deadline = Instant::now() + START_WAIT;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                panic!(
                    "broker exited during start-up with {status}\n{}",
                    self.log_tail()
                );
            }
            if TcpStream::connect_timeout(&self.client_addr, Duration::from_millis(500)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "broker not accepting on {} after {START_WAIT:?}\n{}",
                self.client_addr,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("broker running")
    }

    /// Whether the process was started and has not been killed or stopped by this handle (it
    /// may have exited by itself: see `has_exited`).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether the started process has exited by itself (crashed, say): its status.
    pub fn has_exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// The whole log the process wrote.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn bootstrap(&self) -> String {
        self.client_addr.to_string()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("broker running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    /// SIGTERM, then wait at most `within` for the exit.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "broker still running {within:?} after SIGTERM\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `sig` to the child (SIGSTOP / SIGCONT pause and resume it).
    pub fn signal(&mut self, sig: libc::c_int) {
        let pid = self.child_mut().id() as libc::pid_t;
        // SAFETY: `pid` is our own child, not yet reaped, so it cannot have been reused.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({sig})");
    }

    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(30);
        format!(
            "--- {} (last 30 lines) ---\n{}",
            self.log_path.display(),
            lines[start..].join("\n")
        )
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL reaches a stopped (SIGSTOP) child on Linux too.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
