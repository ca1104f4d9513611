//! Server settings: built-in defaults, then an optional TOML file, then `HAITANG_*`
//! environment variables, then command-line flags (clap reads flag and variable together,
//! the flag winning).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// SQLite database file.
    pub db: PathBuf,
    /// Seed the demo district and accounts (password `demo`).
    pub demo: bool,
    /// Also give an empty demo district three weeks of history, made through the real push
    /// path by the demo accounts (implies `demo`).
    pub demo_history: bool,
    /// Log as JSON lines instead of readable text.
    pub log_json: bool,
    /// HMAC key for access tokens; generated and kept in the database when absent.
    pub jwt_secret: Option<Secret>,
    /// Lifetime of an access token, in seconds.
    pub access_ttl_secs: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_ttl_days: u64,
    /// Largest JSON request body, in bytes.
    pub json_body_limit: usize,
    /// Largest sync request body, in bytes (after decompression).
    pub sync_body_limit: usize,
    /// Login attempts allowed per username from one client address per minute.
    pub login_per_minute_user: u32,
    /// Login attempts allowed per username from all addresses together per minute.
    pub login_per_minute_user_total: u32,
    /// Login attempts allowed per client address per minute.
    pub login_per_minute_ip: u32,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client;
    /// from any other peer the header is ignored.
    pub trusted_proxies: Vec<crate::client_addr::Cidr>,
    /// Read-only database connections.
    pub db_readers: usize,
    /// Hours a reported record may wait for acceptance before it is escalated and urged.
    pub escalate_after_hours: u64,
    /// Hours past its deadline before an open record is urged.
    pub urge_overdue_after_hours: u64,
    /// Seconds between runs of the escalation job.
    pub jobs_interval_secs: u64,
    /// Where photos are kept; by default `blobs/` beside the database file.
    pub blobs_dir: Option<PathBuf>,
    /// Largest photo, in bytes.
    pub max_blob_bytes: u64,
    /// Photo bytes one user may upload per day.
    pub blob_quota_bytes_per_day: u64,
    /// Hours an unreferenced photo is kept before it is removed.
    pub blob_grace_hours: u64,
    /// Minutes an unfinished upload is kept after its last chunk before it is removed.
    pub upload_expiry_minutes: u64,
    /// Seconds after a rotation during which the same refresh token presented again (two
    /// requests racing) gets the same successor instead of revoking the session.
    pub refresh_retry_grace_secs: u64,
    /// Seconds a client has to send a request's headers; an idle kept-alive connection is
    /// closed after as long.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may take, beyond the time its size earns at
    /// `request_body_min_bytes_per_sec`.
    pub request_body_timeout_secs: u64,
    /// The slowest pace a request body may arrive at, past `request_body_timeout_secs`.
    pub request_body_min_bytes_per_sec: u64,
    /// Seconds requests in flight get to finish at shutdown before their connections are
    /// dropped.
    pub shutdown_drain_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: PathBuf::from("haitang.db"),
            demo: false,
            demo_history: false,
            log_json: false,
            jwt_secret: None,
            access_ttl_secs: 15 * 60,
            refresh_ttl_days: 30,
            json_body_limit: 1024 * 1024,
            sync_body_limit: 16 * 1024 * 1024,
            login_per_minute_user: 5,
            login_per_minute_user_total: 100,
            login_per_minute_ip: 30,
            trusted_proxies: Vec::new(),
            db_readers: 4,
            escalate_after_hours: 24,
            urge_overdue_after_hours: 0,
            jobs_interval_secs: 300,
            blobs_dir: None,
            max_blob_bytes: 8 * 1024 * 1024,
            blob_quota_bytes_per_day: 256 * 1024 * 1024,
            blob_grace_hours: 7 * 24,
            upload_expiry_minutes: 60,
            refresh_retry_grace_secs: 30,
            header_read_timeout_secs: 15,
            request_body_timeout_secs: 60,
            request_body_min_bytes_per_sec: 16 * 1024,
            shutdown_drain_secs: 10,
        }
    }
}

/// Every setting as a flag and a `HAITANG_*` variable; absent ones keep the file's value.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML file with any of the settings below (same names, snake_case).
    #[arg(long, env = "HAITANG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "HAITANG_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// SQLite database file [default: ./haitang.db].
    #[arg(long, env = "HAITANG_DB")]
    pub db: Option<PathBuf>,
    /// Seed a demo district with accounts whose password is `demo`.
    #[arg(long, env = "HAITANG_DEMO")]
    pub demo: bool,
    /// With the demo district, three weeks of its history (reports, dispatches, closures),
    /// made by the demo accounts through the real push path, when the database has none yet.
    #[arg(long, env = "HAITANG_DEMO_HISTORY")]
    pub demo_history: bool,
    /// Log as JSON lines.
    #[arg(long, env = "HAITANG_LOG_JSON")]
    pub log_json: bool,
    /// HMAC key for access tokens (at least 32 bytes); generated and stored when absent.
    #[arg(long, env = "HAITANG_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Access-token lifetime in seconds [default: 900].
    #[arg(long, env = "HAITANG_ACCESS_TTL_SECS")]
    pub access_ttl_secs: Option<u64>,
    /// Refresh-token lifetime in days [default: 30].
    #[arg(long, env = "HAITANG_REFRESH_TTL_DAYS")]
    pub refresh_ttl_days: Option<u64>,
    /// Largest JSON request body in bytes [default: 1048576].
    #[arg(long, env = "HAITANG_JSON_BODY_LIMIT")]
    pub json_body_limit: Option<usize>,
    /// Largest sync request body in bytes after decompression [default: 16777216].
    #[arg(long, env = "HAITANG_SYNC_BODY_LIMIT")]
    pub sync_body_limit: Option<usize>,
    /// Login attempts per username from one client address per minute [default: 5].
    #[arg(long, env = "HAITANG_LOGIN_PER_MINUTE_USER")]
    pub login_per_minute_user: Option<u32>,
    /// Login attempts per username from all addresses per minute [default: 100].
    #[arg(long, env = "HAITANG_LOGIN_PER_MINUTE_USER_TOTAL")]
    pub login_per_minute_user_total: Option<u32>,
    /// Login attempts per client address per minute [default: 30].
    #[arg(long, env = "HAITANG_LOGIN_PER_MINUTE_IP")]
    pub login_per_minute_ip: Option<u32>,
    /// Reverse proxies trusted for X-Forwarded-For, comma-separated addresses or networks [default: none].
    #[arg(long, env = "HAITANG_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<crate::client_addr::Cidr>>,
    /// Read-only database connections [default: 4].
    #[arg(long, env = "HAITANG_DB_READERS")]
    pub db_readers: Option<usize>,
    /// Hours a reported record waits for acceptance before it is escalated and urged [default: 24].
    #[arg(long, env = "HAITANG_ESCALATE_AFTER_HOURS")]
    pub escalate_after_hours: Option<u64>,
    /// Hours past its deadline before an open record is urged [default: 0].
    #[arg(long, env = "HAITANG_URGE_OVERDUE_AFTER_HOURS")]
    pub urge_overdue_after_hours: Option<u64>,
    /// Seconds between runs of the escalation job [default: 300].
    #[arg(long, env = "HAITANG_JOBS_INTERVAL_SECS")]
    pub jobs_interval_secs: Option<u64>,
    /// Directory for photos [default: blobs/ beside the database].
    #[arg(long, env = "HAITANG_BLOBS_DIR")]
    pub blobs_dir: Option<PathBuf>,
    /// Largest photo in bytes [default: 8388608].
    #[arg(long, env = "HAITANG_MAX_BLOB_BYTES")]
    pub max_blob_bytes: Option<u64>,
    /// Photo bytes one user may upload per day [default: 268435456].
    #[arg(long, env = "HAITANG_BLOB_QUOTA_BYTES_PER_DAY")]
    pub blob_quota_bytes_per_day: Option<u64>,
    /// Hours before unreferenced photos are removed [default: 168].
    #[arg(long, env = "HAITANG_BLOB_GRACE_HOURS")]
    pub blob_grace_hours: Option<u64>,
    /// Minutes an unfinished upload is kept after its last chunk [default: 60].
    #[arg(long, env = "HAITANG_UPLOAD_EXPIRY_MINUTES")]
    pub upload_expiry_minutes: Option<u64>,
    /// Seconds a refresh token presented again right after its rotation gets the same answer [default: 30].
    #[arg(long, env = "HAITANG_REFRESH_RETRY_GRACE_SECS")]
    pub refresh_retry_grace_secs: Option<u64>,
    /// Seconds a client has to send request headers [default: 15].
    #[arg(long, env = "HAITANG_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a request body may take beyond what its size earns [default: 60].
    #[arg(long, env = "HAITANG_REQUEST_BODY_TIMEOUT_SECS")]
    pub request_body_timeout_secs: Option<u64>,
    /// Slowest pace in bytes per second a request body may keep up [default: 16384].
    #[arg(long, env = "HAITANG_REQUEST_BODY_MIN_BYTES_PER_SEC")]
    pub request_body_min_bytes_per_sec: Option<u64>,
    /// Seconds requests in flight get at shutdown before their connections are dropped [default: 10].
    #[arg(long, env = "HAITANG_SHUTDOWN_DRAIN_SECS")]
    pub shutdown_drain_secs: Option<u64>,
}

impl Config {
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Config> {
        let mut config = match &args.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        macro_rules! overlay {
            ($($field:ident),*) => {$(
                if let Some(v) = args.$field.clone() { config.$field = v; }
            )*};
        }
        overlay!(
            listen,
            db,
            access_ttl_secs,
            refresh_ttl_days,
            json_body_limit,
            sync_body_limit,
            login_per_minute_user,
            login_per_minute_user_total,
            login_per_minute_ip,
            trusted_proxies,
            db_readers,
            escalate_after_hours,
            urge_overdue_after_hours,
            jobs_interval_secs,
            max_blob_bytes,
            blob_quota_bytes_per_day,
            blob_grace_hours,
            upload_expiry_minutes,
            refresh_retry_grace_secs,
            header_read_timeout_secs,
            request_body_timeout_secs,
            request_body_min_bytes_per_sec,
            shutdown_drain_secs
        );
        if args.blobs_dir.is_some() {
            config.blobs_dir = args.blobs_dir.clone();
        }
        if args.jwt_secret.is_some() {
            config.jwt_secret = args.jwt_secret.clone();
        }
        config.demo_history |= args.demo_history;
        config.demo |= args.demo || config.demo_history;
        config.log_json |= args.log_json;
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("bad config file {}: {e}", path.display()))
    }

    /// Where photos live: the configured directory, or `blobs/` beside the database.
    pub fn blobs_dir(&self) -> PathBuf {
        self.blobs_dir.clone().unwrap_or_else(|| {
            self.db
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join("blobs")
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(s) = &self.jwt_secret
            && s.expose().len() < 32
        {
            anyhow::bail!("jwt_secret must be at least 32 bytes");
        }
        if self.access_ttl_secs == 0 || self.refresh_ttl_days == 0 {
            anyhow::bail!("token lifetimes must be positive");
        }
        if self.header_read_timeout_secs == 0
            || self.request_body_timeout_secs == 0
            || self.request_body_min_bytes_per_sec == 0
        {
            anyhow::bail!("request timeouts and the minimum body pace must be positive");
        }
        if self.login_per_minute_user == 0
            || self.login_per_minute_user_total == 0
            || self.login_per_minute_ip == 0
        {
            anyhow::bail!("login limits must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_args() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("h.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\ndb = \"/var/lib/haitang.db\"\njwt_secret = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .expect("write");
        let args = ConfigArgs {
            config: Some(file),
            db: Some("/tmp/x.db".into()),
            ..Default::default()
        };
        let c = Config::load(&args).expect("load");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.db, PathBuf::from("/tmp/x.db"));
        assert_eq!(c.access_ttl_secs, 900);
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("h.toml");
        std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\n")
            .expect("write");
        let c = Config::from_file(&file).expect("load");
        assert_eq!(c.trusted_proxies.len(), 2);
        assert!(c.trusted_proxies[0].contains([10, 9, 8, 7].into()));
        assert!(Config::default().trusted_proxies.is_empty());
        std::fs::write(&file, "trusted_proxies = [\"my-proxy\"]\n").expect("write");
        assert!(Config::from_file(&file).is_err());
    }

    #[test]
    fn bad_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("h.toml");
        std::fs::write(&file, "listen_port = 1\n").expect("write");
        assert!(Config::from_file(&file).is_err());
        std::fs::write(&file, "jwt_secret = \"short\"\n").expect("write");
        let args = ConfigArgs {
            config: Some(file),
            ..Default::default()
        };
        assert!(Config::load(&args).is_err());
    }
}
