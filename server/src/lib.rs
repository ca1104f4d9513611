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
pub mod jobs;
pub mod org_import;
mod routes;
mod security_headers;

use crate::auth::{AuthKeys, LoginLimiter, Passwords};
use crate::config::Config;
use crate::db::Db;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: Arc<AuthKeys>,
    pub config: Arc<Config>,
    pub login_limiter: Arc<LoginLimiter>,
    pub passwords: Passwords,
    pub blobs: Arc<blobstore::BlobStore>,
    pub uploads: Arc<blobstore::InFlight>,
}

impl AppState {
    pub fn new(db: Db, keys: AuthKeys, blobs: blobstore::BlobStore, config: Config) -> AppState {
        AppState {
            db,
            keys: Arc::new(keys),
            blobs: Arc::new(blobs),
            uploads: Arc::default(),
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
        let blobs = blobstore::BlobStore::open(&config.blobs_dir()).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the photo store {}: {e}",
                config.blobs_dir().display()
            )
        })?;
        Ok(AppState::new(
            db,
            AuthKeys::from_secret(&secret),
            blobs,
            config,
        ))
    }
}

/// The whole HTTP surface: `/api/v1/...`, health checks, and the embedded PWA.
pub fn app(state: AppState) -> Router {
    let json_limit = state.config.json_body_limit;
    let api = routes::api(state.clone()).layer(DefaultBodyLimit::max(json_limit));
    Router::new()
        .nest("/api/v1", api)
        .merge(routes::health::router())
        .fallback(routes::assets::serve_asset)
        .layer(axum::middleware::from_fn(error::log_errors))
        .layer(CompressionLayer::new())
        .layer(RequestDecompressionLayer::new())
        .layer(axum::middleware::from_fn(security_headers::add))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight and closes the
/// database cleanly.
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
    let job = tokio::spawn(jobs::run(state.clone()));
    let router = app(state);
    announce(addr, demo);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    job.abort();
    let _ = job.await;
    tracing::info!("stopped taking requests; closing the database");
    db.close();
    Ok(())
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
pub fn init_tracing(json: bool) {
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
