//! The few HTTP calls the bench makes, counting the bytes that cross the wire (bodies as
//! sent and received, compressed when they were; HTTP headers not counted).

use anyhow::{Context, bail};
use haitang_sync::protocol::{SyncRequest, SyncResponse};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Api {
    pub url: String,
    client: reqwest::Client,
    /// gzip request bodies (`Content-Encoding: gzip`).
    pub gzip_requests: bool,
    /// Ask for gzip responses (`Accept-Encoding: gzip`), as a browser always does.
    pub gzip_responses: bool,
}

pub struct Login {
    pub token: String,
    pub user_id: i64,
}

/// One sync round trip as measured by the client.
pub struct Exchange {
    pub latency: Duration,
    pub sent: usize,
    pub received: usize,
    /// The response body, decompressed, not yet decoded.
    pub body: Vec<u8>,
}

impl Api {
    pub fn new(url: &str) -> anyhow::Result<Api> {
        let client = reqwest::Client::builder()
            // Decompress by hand so the compressed size can be counted.
            .no_gzip()
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(600))
            .build()?;
        Ok(Api {
            url: url.to_owned(),
            client,
            gzip_requests: false,
            gzip_responses: true,
        })
    }

    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<Login> {
        let res = self
            .client
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            bail!("login {username}: {status} {text}");
        }
        let v: Value = serde_json::from_str(&text)?;
        Ok(Login {
            token: v["access_token"]
                .as_str()
                .context("no access_token")?
                .to_owned(),
            user_id: v["user"]["id"].as_i64().context("no user.id")?,
        })
    }

    pub async fn add_user(&self, admin: &str, body: Value) -> anyhow::Result<()> {
        let res = self
            .client
            .post(format!("{}/api/v1/admin/users", self.url))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        if !status.is_success() {
            bail!(
                "adding user {}: {status} {}",
                body["username"],
                res.text().await?
            );
        }
        Ok(())
    }

    /// `GET` of a JSON resource: its status, body and the round trip's time.
    pub async fn get_json(
        &self,
        token: &str,
        path: &str,
    ) -> anyhow::Result<(reqwest::StatusCode, Value, Duration)> {
        let t0 = Instant::now();
        let res = self
            .client
            .get(format!("{}/api/v1{path}", self.url))
            .bearer_auth(token)
            .send()
            .await?;
        let status = res.status();
        let body = res.bytes().await?;
        let latency = t0.elapsed();
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, value, latency))
    }

    /// `POST` of a body of `content_type`; an error names the path and the answer.
    pub async fn post_body(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let res = self
            .client
            .post(format!("{}/api/v1{path}", self.url))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            let head: String = text.chars().take(600).collect();
            bail!("POST {path}: {status} {head}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn encode(&self, req: &SyncRequest) -> anyhow::Result<Vec<u8>> {
        let mut body = Vec::new();
        ciborium::into_writer(req, &mut body)?;
        if self.gzip_requests {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&body)?;
            body = gz.finish()?;
        }
        Ok(body)
    }

    /// Posts an encoded sync request (see [`Api::encode`]) and reads the whole response.
    pub async fn sync_raw(&self, token: &str, body: Vec<u8>) -> anyhow::Result<Exchange> {
        let sent = body.len();
        let mut req = self
            .client
            .post(format!("{}/api/v1/sync", self.url))
            .bearer_auth(token)
            .header("content-type", "application/cbor")
            .body(body);
        if self.gzip_requests {
            req = req.header("content-encoding", "gzip");
        }
        if self.gzip_responses {
            req = req.header("accept-encoding", "gzip");
        }
        let started = Instant::now();
        let res = req.send().await?;
        let status = res.status();
        let gzipped = res
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v.as_bytes() == b"gzip");
        let raw = res.bytes().await?;
        let latency = started.elapsed();
        if !status.is_success() {
            bail!("sync: {status} {}", String::from_utf8_lossy(&raw));
        }
        let received = raw.len();
        let body = if gzipped {
            let mut out = Vec::with_capacity(raw.len() * 4);
            flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out)?;
            out
        } else {
            raw.to_vec()
        };
        Ok(Exchange {
            latency,
            sent,
            received,
            body,
        })
    }

    pub async fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> anyhow::Result<(Exchange, SyncResponse)> {
        let ex = self.sync_raw(token, self.encode(req)?).await?;
        let res: SyncResponse =
            ciborium::from_reader(&ex.body[..]).context("decoding a sync response")?;
        Ok((ex, res))
    }
}
