//! `spawn_app()` and friends.

use haitang_server::config::{Config, Secret};
use haitang_server::{AppState, serve_state};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The signing key every test server uses, so tests can forge tokens on purpose.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret!";

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config(dir: &Path) -> Config {
    Config {
        db: dir.join("haitang.db"),
        demo: true,
        jwt_secret: Some(Secret::new(TEST_SECRET)),
        // High enough that only the rate-limit tests, which lower them, ever hit them.
        login_per_minute_user: 1000,
        login_per_minute_user_total: 1000,
        login_per_minute_ip: 1000,
        ..Config::default()
    }
}

/// A demo-district server on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    tweak(&mut config);
    spawn_in(dir, config).await
}

/// A server on an existing directory's database (to test restarts).
pub async fn spawn_in(dir: TempDir, config: Config) -> TestApp {
    // Server logs (5xx details above all) show up with a failing test's output only.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,haitang_server=info,automerge=off",
        ))
        .with_test_writer()
        .try_init();
    let state = AppState::open(config).await.expect("open state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve_state(state.clone(), listener, async {
        let _ = rx.await;
    }));
    TestApp {
        url,
        client: reqwest::Client::new(),
        dir,
        state,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user: Value,
}

impl TestApp {
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("haitang.db")
    }

    /// Signals shutdown and waits for the server to finish; returns its directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("join").expect("serve result");
        }
        drop(self.state);
        self.dir
    }

    pub fn shutdown_handle(&mut self) -> (oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>) {
        (
            self.shutdown.take().expect("running"),
            self.handle.take().expect("running"),
        )
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn login_raw(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.at("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("send")
    }

    pub async fn login(&self, username: &str) -> Session {
        let res = self.login_raw(username, "demo").await;
        assert_eq!(res.status(), StatusCode::OK, "login {username}");
        let body: Value = res.json().await.expect("json");
        Session {
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
            user: body["user"].clone(),
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .get(self.at(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        split(res).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.at(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        split(req.send().await.expect("send")).await
    }
}

/// Status and JSON body (Null when the body is empty or not JSON).
/// Runs `f` on a connection of the test's own to the database file at `path`: how a test
/// damages or ages what only a hand outside the server could, since the server's storage
/// takes no SQL from outside. WAL lets it write beside the running server.
pub async fn tamper<T: Send + 'static>(
    path: PathBuf,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
) -> T {
    tokio::task::spawn_blocking(move || {
        let c = rusqlite::Connection::open(&path).expect("open the database");
        c.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy timeout");
        f(&c).expect("tamper")
    })
    .await
    .expect("join")
}

pub async fn split(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts a `{code, message}` error with the given status and code.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "body: {}", got.1);
    assert_eq!(got.1["code"], code, "body: {}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without a message: {}",
        got.1
    );
}

/// The real `haitang` binary, found beside this test binary (cargo builds it with the
/// workspace).
pub fn haitang_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let bin = dir.join("haitang");
    assert!(
        bin.exists(),
        "build the server first: cargo build -p haitang-server ({})",
        bin.display()
    );
    bin
}

/// The real binary serving the demo district on `db`, for tests that kill it.
pub struct Binary {
    pub child: std::process::Child,
    pub url: String,
}

pub fn start_binary(db: &Path) -> Binary {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(haitang_bin())
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--login-per-minute-ip",
            "10000",
            "--db",
        ])
        .arg(db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("Haitang listening on ").map(str::to_owned))
        .expect("listening line");
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Binary { child, url }
}

impl Binary {
    /// `kill -9`, as a crash.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// SIGTERM, as an orderly stop; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.child.wait().expect("wait")
    }
}

/// Signs in over HTTP as a demo user: (access token, user id).
pub async fn login_at(url: &str, username: &str) -> (String, i64) {
    let v: Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": "demo"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    (
        v["access_token"].as_str().expect("token").to_owned(),
        v["user"]["id"].as_i64().expect("id"),
    )
}
