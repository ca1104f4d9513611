//! A phone in Rust: keeps Automerge documents, remembers what the server acknowledged, and
//! syncs over real HTTP with CBOR, the way the PWA does.

use automerge::transaction::Transaction;
use automerge::{ActorId, Automerge, Change, ChangeHash};
use haitang_sync::doctype::DocType;
use haitang_sync::protocol::{PullItem, PushDoc, SyncRequest, SyncResponse};
use haitang_sync::record::{NewRecord, new_record};
use reqwest::StatusCode;
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;

pub struct Phone {
    pub url: String,
    pub client: reqwest::Client,
    pub token: String,
    pub actor: ActorId,
    pub docs: BTreeMap<String, Automerge>,
    /// Heads the server has confirmed for each document: what need not be pushed again.
    pub acked: BTreeMap<String, Vec<ChangeHash>>,
    pub cursor: Option<u64>,
    pub evicted: Vec<String>,
    /// Refusals from the last sync, by document.
    pub refused: BTreeMap<String, (String, String)>,
    /// Each document's type, where it is not a record.
    pub types: BTreeMap<String, DocType>,
}

impl Phone {
    pub fn new(url: &str, token: &str) -> Phone {
        Phone {
            url: url.to_owned(),
            client: reqwest::Client::new(),
            token: token.to_owned(),
            actor: ActorId::random(),
            docs: BTreeMap::new(),
            acked: BTreeMap::new(),
            cursor: None,
            evicted: Vec::new(),
            refused: BTreeMap::new(),
            types: BTreeMap::new(),
        }
    }

    pub fn create(&mut self, fields: &NewRecord) -> String {
        let doc = new_record(self.actor.clone(), fields);
        self.docs.insert(fields.id.clone(), doc);
        fields.id.clone()
    }

    pub fn edit(&mut self, id: &str, f: impl FnOnce(&mut Transaction<'_>)) {
        let doc = self.docs.get_mut(id).expect("the phone has this document");
        let mut tx = doc.transaction();
        f(&mut tx);
        tx.commit();
    }

    pub fn heads(&mut self, id: &str) -> Vec<ChangeHash> {
        let mut h = self.docs.get_mut(id).expect("doc").get_heads();
        h.sort();
        h
    }

    /// Changes each document has that the server has not confirmed.
    pub fn pending(&mut self) -> Vec<PushDoc> {
        let mut out = Vec::new();
        for (id, doc) in &self.docs {
            let acked = self.acked.get(id).cloned().unwrap_or_default();
            let changes: Vec<ByteBuf> = doc
                .get_changes(&acked)
                .into_iter()
                .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                .collect();
            if !changes.is_empty() {
                out.push(PushDoc {
                    doc: id.clone(),
                    doc_type: self.types.get(id).map(|t| t.as_str().to_owned()),
                    changes,
                });
            }
        }
        out
    }

    pub async fn send(&self, req: &SyncRequest) -> (StatusCode, Vec<u8>) {
        let mut body = Vec::new();
        ciborium::into_writer(req, &mut body).expect("encode");
        self.send_raw(body).await
    }

    pub async fn send_raw(&self, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        self.try_send_raw(body).await.expect("send")
    }

    /// Like `send_raw`, but a dead server is an `Err`, not a panic.
    pub async fn try_send_raw(
        &self,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Vec<u8>), reqwest::Error> {
        let res = self
            .client
            .post(format!("{}/api/v1/sync", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "application/cbor")
            .body(body)
            .send()
            .await?;
        let status = res.status();
        Ok((status, res.bytes().await?.to_vec()))
    }

    /// Pushes what is pending and pulls until the server has nothing more.
    pub async fn sync(&mut self) -> Vec<SyncResponse> {
        self.sync_with(None).await
    }

    pub async fn sync_with(&mut self, limit: Option<u32>) -> Vec<SyncResponse> {
        self.try_sync_with(limit).await.expect("sync")
    }

    /// One full sync; a dead server is an `Err` and leaves the phone as it was except for
    /// responses it did get, as on a real phone.
    pub async fn try_sync_with(&mut self, limit: Option<u32>) -> Result<Vec<SyncResponse>, String> {
        let mut responses = Vec::new();
        let mut push = self.pending();
        self.refused.clear();
        let mut resume = None;
        loop {
            let req = SyncRequest {
                v: 1,
                cursor: self.cursor,
                resume,
                pull: true,
                push: std::mem::take(&mut push),
                want: None,
                limit,
            };
            let mut body = Vec::new();
            ciborium::into_writer(&req, &mut body).expect("encode");
            let (status, body) = self.try_send_raw(body).await.map_err(|e| e.to_string())?;
            if status != StatusCode::OK {
                return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
            }
            let res: SyncResponse = ciborium::from_reader(&body[..]).expect("decode response");
            self.absorb(&res);
            resume = res.resume;
            let more = res.more;
            responses.push(res);
            if !more {
                break;
            }
        }
        Ok(responses)
    }

    pub fn absorb(&mut self, res: &SyncResponse) {
        for r in &res.results {
            if r.ok {
                let heads =
                    haitang_sync::protocol::heads_from_hex(r.heads.as_deref().unwrap_or_default())
                        .expect("hex heads");
                self.acked.insert(r.doc.clone(), heads);
            } else {
                self.refused.insert(
                    r.doc.clone(),
                    (
                        r.code.clone().unwrap_or_default(),
                        r.message.clone().unwrap_or_default(),
                    ),
                );
            }
        }
        for item in &res.pull {
            match item {
                PullItem::Changes {
                    doc,
                    changes,
                    doc_type,
                    ..
                } => {
                    if !doc_type.is_default() {
                        self.types.insert(doc.clone(), *doc_type);
                    }
                    let changes: Vec<Change> = changes
                        .iter()
                        .map(|c| Change::from_bytes(c.to_vec()).expect("a valid change"))
                        .collect();
                    match self.docs.get_mut(doc) {
                        Some(d) => d.apply_changes(changes).expect("apply"),
                        None => {
                            let mut d = Automerge::new().with_actor(self.actor.clone());
                            d.apply_changes(changes).expect("apply");
                            self.docs.insert(doc.clone(), d);
                        }
                    }
                }
                PullItem::Snapshot {
                    doc,
                    snapshot,
                    doc_type,
                    ..
                } => {
                    if !doc_type.is_default() {
                        self.types.insert(doc.clone(), *doc_type);
                    }
                    let mut loaded = Automerge::load(snapshot).expect("load snapshot");
                    match self.docs.get_mut(doc) {
                        Some(d) => {
                            d.merge(&mut loaded).expect("merge");
                        }
                        None => {
                            self.docs
                                .insert(doc.clone(), loaded.with_actor(self.actor.clone()));
                        }
                    }
                    // The server's own state is in the snapshot, so what is in it is acked.
                    let heads = Automerge::load(snapshot).expect("load").get_heads();
                    self.acked.insert(doc.clone(), heads);
                }
                PullItem::Evict { doc, .. } => {
                    self.docs.remove(doc);
                    self.acked.remove(doc);
                    self.evicted.push(doc.clone());
                }
            }
        }
        self.cursor = Some(res.cursor);
    }
}

/// A record in lou1's sector (金筑苑3幢, grid g01) reported by `reported_by`.
pub fn record(reported_by: i64) -> NewRecord {
    use haitang_sync::record::{Kind, Location, Urgency};
    NewRecord {
        id: uuid(),
        kind: Kind::Event,
        grid: "/gusu/byw/ws1/jinzhu/g01".into(),
        sector: Some("/gusu/byw/ws1/jinzhu/g01/b1".into()),
        category: "city.garbage_exposed".into(),
        title: "金筑苑3幢门口暴露垃圾".into(),
        description: "垃圾袋堆在门口两天未清运".into(),
        address: "金筑苑3幢东门".into(),
        location: Some(Location {
            lat: 31.3265,
            lng: 120.6132,
            accuracy_m: Some(8.0),
        }),
        household: None,
        persons: Vec::new(),
        raised_from: None,
        checks: Default::default(),
        reported_by,
        // Now: the server refuses reports dated in the future or long ago.
        reported_at: haitang_server::db::now_ms() - 60_000,
        urgency: Urgency::Normal,
    }
}

pub fn uuid() -> String {
    // Random enough for tests, shaped like the UUIDs phones make.
    let a = ActorId::random().to_hex_string();
    format!(
        "{}-{}-4{}-8{}-{}",
        &a[0..8],
        &a[8..12],
        &a[13..16],
        &a[17..20],
        &a[20..32]
    )
}
