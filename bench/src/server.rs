//! The real `haitang` binary in a child process, so its memory can be read from `/proc`.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `target/release/haitang` when the bench runs as `target/release/haitang-bench`.
pub fn find_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        if p.is_file() {
            return Ok(p.to_owned());
        }
        bail!("--server-bin {} is not a file", p.display());
    }
    let exe = std::env::current_exe().context("where is this binary?")?;
    let dir = exe.parent().context("the bench binary has no directory")?;
    let bin = dir.join(format!("haitang{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "the server binary {} is missing.\n\
             Build both first:\n    \
             cargo build --release -p haitang-server -p haitang-bench\n\
             then run target/release/haitang-bench sync (or pass --server-bin PATH).",
            bin.display()
        );
    }
    let (bench_age, server_age) = (modified(&exe), modified(&bin));
    if let (Some(b), Some(s)) = (bench_age, server_age)
        && s + Duration::from_secs(3600) < b
    {
        eprintln!(
            "warning: {} is much older than the bench binary; rebuild it with `cargo build --release -p haitang-server`",
            bin.display()
        );
    }
    Ok(bin)
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

pub struct Server {
    child: Child,
    pub url: String,
    pub log: PathBuf,
    peak_sampled: Arc<AtomicU64>,
    stop_sampler: Arc<AtomicBool>,
}

impl Server {
    /// Starts `haitang serve --demo` on a free port and waits for its "listening" line.
    pub fn start(bin: &Path, db: &Path, log: &Path) -> anyhow::Result<Server> {
        let log_file = std::fs::File::create(log).context("creating the server log")?;
        let mut child = Command::new(bin)
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            // Many phones sign in from one address in a few seconds.
            .args([
                "--login-per-minute-ip",
                "100000",
                "--login-per-minute-user",
                "1000",
                "--login-per-minute-user-total",
                "1000",
            ])
            // A slow 1M run must not see its tokens expire half-way.
            .args(["--access-ttl-secs", "86400"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // Reads the announcement, then keeps draining so the server never blocks on a pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut tx = Some(tx);
            while let Some(Ok(line)) = lines.next() {
                if let Some(url) = line.strip_prefix("Haitang listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the server did not announce its address; its log:\n{}",
                    tail(log, 30)
                );
            }
        };
        let peak_sampled = Arc::new(AtomicU64::new(0));
        let stop_sampler = Arc::new(AtomicBool::new(false));
        {
            let (peak, stop, pid) = (peak_sampled.clone(), stop_sampler.clone(), child.id());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_kib(pid, "VmRSS:") {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
        Ok(Server {
            child,
            url,
            log: log.to_owned(),
            peak_sampled,
            stop_sampler,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmHWM, VmRSS) in KiB.
    pub fn memory(&self) -> (Option<u64>, Option<u64>) {
        (
            status_kib(self.pid(), "VmHWM:"),
            status_kib(self.pid(), "VmRSS:"),
        )
    }

    /// Resets the kernel's peak-RSS mark (Linux 4.0+) and the sampled peak, so that what
    /// setup used (argon2 hashes 19 MiB a login) is not counted in the workload's peak.
    pub fn reset_peak(&self) -> bool {
        self.peak_sampled.store(0, Ordering::Relaxed);
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    pub fn reset_sampled_peak(&self) {
        self.peak_sampled.store(0, Ordering::Relaxed);
    }

    /// The largest VmRSS seen by sampling every 10 ms since the last reset, in KiB.
    pub fn sampled_peak(&self) -> u64 {
        self.peak_sampled.load(Ordering::Relaxed)
    }

    /// SIGTERM, then waits for a clean exit (the server closes the database on the way).
    pub fn stop(mut self) -> anyhow::Result<Duration> {
        self.stop_sampler.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.child.id());
        }
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    eprintln!(
                        "warning: the server exited with {status}; its log:\n{}",
                        tail(&self.log, 20)
                    );
                }
                return Ok(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(120) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("the server did not stop within 120 s of SIGTERM; killed it");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_sampler.store(true, Ordering::Relaxed);
        // Only if `stop` was not reached (an error part-way): never leave a server behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time (user + system) a process has used, its finished threads included.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which may hold spaces: state is field 3, utime 14,
    // stime 15, in USER_HZ ticks (100 a second on Linux).
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A fresh directory for one scenario's database and server log, under `dir` if given.
pub fn temp_dir(dir: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    let builder = tempfile::Builder::new().prefix("haitang-bench-").to_owned();
    Ok(match dir {
        Some(d) => builder.tempdir_in(d)?,
        None => builder.tempdir()?,
    })
}
