//! The Haitang server: one binary that serves the field PWA and the sync API over one
//! SQLite file. `app` builds the router from a state; `serve` runs it until shutdown.

pub mod auth;
pub mod blobstore;
pub mod client_addr;
pub mod commands;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod households;
pub mod jobs;
pub mod org_import;
pub mod records;
pub mod residents;
pub(crate) mod routes;
mod security_headers;
pub mod timeouts;

use crate::auth::{AuthKeys, LoginLimiter, Passwords};
use crate::config::Config;
use crate::db::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// The record domain (push, pull, escalation, repair) over the same `db`.
    pub records: records::Records,
    pub keys: Arc<AuthKeys>,
    pub config: Arc<Config>,
    pub login_limiter: Arc<LoginLimiter>,
    pub passwords: Passwords,
    pub blobs: Arc<blobstore::BlobStore>,
    pub uploads: Arc<blobstore::InFlight>,
    /// Syncs in flight per user (`routes::sync`).
    pub syncs: Arc<routes::sync::InFlight>,
    /// The key that hashes residents' ID numbers (`residents::IdHasher`).
    pub ids: Arc<residents::IdHasher>,
}

impl AppState {
    pub fn new(
        db: Db,
        keys: AuthKeys,
        ids: residents::IdHasher,
        blobs: blobstore::BlobStore,
        config: Config,
    ) -> AppState {
        AppState {
            ids: Arc::new(ids),
            records: records::Records::new(db.clone(), config.db_readers),
            db,
            keys: Arc::new(keys),
            blobs: Arc::new(blobs),
            uploads: Arc::default(),
            syncs: Arc::default(),
            passwords: Passwords::per_core(),
            login_limiter: Arc::new(LoginLimiter::new(
                config.login_per_minute_user,
                config.login_per_minute_user_total,
                config.login_per_minute_ip,
            )),
            config: Arc::new(config),
        }
    }

    /// Opens the database named in `config`, loads or creates the signing key, and seeds
    /// the demo district if asked.
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let db = Db::open(&config.db, config.db_readers)?;
        db.seed_catalogue().await?;
        db.seed_care_tags().await?;
        let id_key = db
            .setting_or_insert("id_hash_key", auth::new_secret())
            .await?;
        let secret = match &config.jwt_secret {
            Some(s) => s.expose().as_bytes().to_vec(),
            None => {
                db.setting_or_insert("jwt_secret", auth::new_secret())
                    .await?
            }
        };
        if config.demo {
            demo::seed(&db).await?;
        }
        if config.demo_history {
            demo::history::seed(&db).await?;
        }
        let blobs = blobstore::BlobStore::open(&config.blobs_dir()).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the photo store {}: {e}",
                config.blobs_dir().display()
            )
        })?;
        let state = AppState::new(
            db,
            AuthKeys::from_secret(&secret),
            residents::IdHasher::new(id_key),
            blobs,
            config,
        );
        if state.config.demo_history {
            demo::households::seed(&state.db, &state.records, &state.ids).await?;
        }
        Ok(state)
    }
}

/// The whole HTTP surface: `/api/v1/...`, health checks, and the embedded PWA.
pub fn app(state: AppState) -> Router {
    let json_limit = state.config.json_body_limit;
    let pace = timeouts::BodyPace {
        base: Duration::from_secs(state.config.request_body_timeout_secs),
        min_bytes_per_sec: state.config.request_body_min_bytes_per_sec,
    };
    let api = routes::api(state.clone()).layer(DefaultBodyLimit::max(json_limit));
    Router::new()
        .nest("/api/v1", api)
        .merge(routes::health::router())
        .fallback(routes::assets::serve_asset)
        .layer(axum::middleware::from_fn(error::log_errors))
        .layer(CompressionLayer::new())
        .layer(RequestDecompressionLayer::new())
        .layer(axum::middleware::from_fn(security_headers::add))
        .layer(axum::middleware::from_fn_with_state(
            pace,
            timeouts::pace_request_bodies,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight (for at most
/// `shutdown_drain_secs`) and closes the database cleanly.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::open(config).await?;
    serve_state(state, listener, shutdown).await
}

/// `serve` with a state made by the caller (tests inject their own keys this way).
pub async fn serve_state(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let db = state.db.clone();
    let demo = state.config.demo;
    let limits = ConnLimits {
        header_read: Duration::from_secs(state.config.header_read_timeout_secs.max(1)),
        drain: Duration::from_secs(state.config.shutdown_drain_secs),
    };
    let job = tokio::spawn(jobs::run(state.clone()));
    let router = app(state);
    announce(addr, demo);
    serve_connections(listener, router, limits, shutdown).await;
    job.abort();
    let _ = job.await;
    tracing::info!("stopped taking requests; closing the database");
    db.close();
    Ok(())
}

#[derive(Clone, Copy)]
struct ConnLimits {
    header_read: Duration,
    drain: Duration,
}

/// The accept loop. hyper is driven here rather than through `axum::serve`, which sets no
/// timer: without one a client that sends half a request head holds its connection (and
/// a task) forever, and a graceful shutdown waits forever on a client that stopped
/// reading. Here headers must arrive within `header_read`, and on shutdown connections
/// get `drain` to finish before they are dropped.
async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(serve_connection(stream, peer, router.clone(), limits, stopping.clone()));
                }
                Err(e) => {
                    // Out of file descriptors, typically: wait for some to close rather
                    // than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.drain, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = conns.len(),
            drain_secs = limits.drain.as_secs(),
            "connections still busy after the shutdown drain; closing them"
        );
        conns.shutdown().await;
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnLimits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let _ = stream.set_nodelay(true);
    let service = router.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
    tokio::pin!(conn);
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

fn announce(addr: SocketAddr, demo: bool) {
    use std::io::Write;
    // Tests and scripts wait for this exact line on stdout. Write errors are ignored: a
    // closed stdout (a supervisor that stopped reading) must not take the server down.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Haitang listening on http://{addr}");
    if demo {
        let _ = writeln!(out, "{}", demo::LOGINS_BANNER);
    }
    let _ = out.flush();
    drop(out);
    if demo {
        tracing::warn!(
            "DEMO MODE: demo accounts with the password `demo` are enabled; never use this in production"
        );
    }
}

/// Readable logs by default, JSON lines when asked; `RUST_LOG` overrides the level.
/// Panics are logged through the same subscriber (see [`log_panic`]).
pub fn init_tracing(json: bool) {
    std::panic::set_hook(Box::new(log_panic));
    use tracing_subscriber::EnvFilter;
    // Automerge instruments its decoding at INFO level: a span per change parsed and per
    // document loaded, a tenth of the server's CPU under load, and an ERROR event for every
    // malformed change a client sends, which the push refusal already reports.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,automerge=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests start many servers in one process) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The panic hook: a panic becomes one ERROR event with its message and location, in
/// the log's format, instead of raw text on stderr. Most panics the server sees are caught
/// (`catch_unwind` around database jobs and Automerge's decoding) and answered as a 5xx
/// or a refusal, so the default hook's lines would be the only trace, and out of format
/// for a JSON log collector. A backtrace is added when `RUST_BACKTRACE` asks for one.
pub fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    let location = info.location().map_or_else(String::new, |l| {
        format!("{}:{}:{}", l.file(), l.line(), l.column())
    });
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("unnamed");
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        tracing::error!(panic = message, %location, thread, %backtrace, "panicked");
    } else {
        tracing::error!(panic = message, %location, thread, "panicked");
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_caught_panic_is_a_structured_log_line() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(super::log_panic));
        let caught = tracing::subscriber::with_default(subscriber, || {
            std::panic::catch_unwind(|| panic!("automerge said no: {}", 42))
        });
        std::panic::set_hook(previous);
        assert!(caught.is_err());
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "ERROR", "{text}");
        assert_eq!(line["fields"]["panic"], "automerge said no: 42", "{text}");
        let location = line["fields"]["location"].as_str().expect("location");
        assert!(location.starts_with("server/src/lib.rs:"), "{location}");
    }
}
