//! The wire types of `POST /api/v1/sync`: the only types Haitang serialises between a phone
//! and the server. They travel as CBOR (the phone encodes with cbor-x), so every byte field
//! goes through `serde_bytes` and lands as a CBOR byte string rather than an array of ints.
//!
//! Compatibility rule: the protocol is extended only by adding optional fields. Decoding
//! therefore ignores fields it does not know (a newer client may send them), and every field
//! added after version 1 must have a default. `v` changes only for a change that an older
//! peer could not safely ignore.
//!
//! `docs/PROTOCOL.md` is the prose version of this file.

use automerge::ChangeHash;
use serde::{Deserialize, Deserializer, Serialize};
use serde_bytes::ByteBuf;

use crate::doctype::DocType;
use crate::ingest::Refusal;
use crate::names::named_enum;

/// The protocol version this crate speaks, sent as `v` both ways.
pub const PROTOCOL_VERSION: u32 = 1;

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One sync round trip from a phone: push local changes, pull what changed in scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Protocol version; the server refuses a request whose `v` it does not speak.
    pub v: u32,
    /// The phone's stored cursor: it has everything in its scope up to here. Absent on a
    /// phone's first sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Where to go on within a pull that answered `more`: the previous response's
    /// `resume`, sent with the same `cursor`. Absent to start a pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<u64>,
    /// Changes made on the phone, grouped by document.
    #[serde(
        default,
        deserialize_with = "bounded_push",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub push: Vec<PushDoc>,
    /// Documents the phone asks for by id whatever the cursor says (opened from a link, a
    /// search result, a record that scrolled out of the phone's cache).
    #[serde(
        default,
        deserialize_with = "bounded_want",
        skip_serializing_if = "Option::is_none"
    )]
    pub want: Option<Vec<String>>,
    /// `false` to push and fetch `want` without pulling the scope: a supervisor opening
    /// records on demand. The response's cursor is then the request's, unchanged.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub pull: bool,
    /// Most pull items the phone wants in this response; the server may send fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl SyncRequest {
    /// A request with nothing in it but the version: the shape tests and simulated phones
    /// start from.
    pub fn new(cursor: Option<u64>) -> Self {
        SyncRequest {
            v: PROTOCOL_VERSION,
            cursor,
            resume: None,
            pull: true,
            push: Vec::new(),
            want: None,
            limit: None,
        }
    }
}

/// The changes a phone pushes for one document, each an Automerge change exactly as
/// `getChanges` / `getLastLocalChange` produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDoc {
    pub doc: String,
    /// The document's type (`doctype::DocType`); absent means a record. Kept a string so
    /// that a type this server does not know is refused for that document alone
    /// (`malformed`), not the whole request.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub doc_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub changes: Vec<ByteBuf>,
}

/// The server's answer: one result per pushed document, then the pull page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub v: u32,
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: Vec<PushResult>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pull: Vec<PullItem>,
    /// The cursor to store. It moves only when a pull is complete (`more` is false);
    /// while `more` is true it stays where the pull started, so a phone that stops
    /// half-way starts that pull again and loses nothing.
    pub cursor: u64,
    /// More pull items are waiting: sync again straight away with this `cursor` and
    /// `resume`.
    #[serde(default)]
    pub more: bool,
    /// Present when `more` is true: the position within the pull to send back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<u64>,
    /// Ids from `want` the response had no room for (its snapshots stop after a few
    /// megabytes): ask for them again. Ids that are simply not sent are records that do
    /// not exist or that the caller may not see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsent: Vec<String>,
}

/// The outcome of pushing one document. A push is all or nothing per document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    pub doc: String,
    pub ok: bool,
    /// The server's heads for the document after the push (hex change hashes), when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<Vec<String>>,
    /// Machine-readable reason for a refusal, one of [`crate::ingest::RefusalCode`]'s names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong, in words for the person holding the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl PushResult {
    pub fn accepted(doc: impl Into<String>, heads: &[ChangeHash]) -> Self {
        PushResult {
            doc: doc.into(),
            ok: true,
            heads: Some(heads_to_hex(heads)),
            code: None,
            message: None,
        }
    }

    pub fn refused(doc: impl Into<String>, refusal: &Refusal) -> Self {
        PushResult {
            doc: doc.into(),
            ok: false,
            heads: None,
            code: Some(refusal.code.as_str().to_owned()),
            message: Some(refusal.message.clone()),
        }
    }
}

/// One document's worth of pull. Told apart by which field is present, so the JSON-like
/// shape stays obvious to the JS side: `changes`, `snapshot` or `evict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PullItem {
    /// Changes the phone may not have yet, in causal order; apply them all in one call.
    Changes {
        doc: String,
        /// Absent for a record.
        #[serde(rename = "type", default, skip_serializing_if = "DocType::is_default")]
        doc_type: DocType,
        changes: Vec<ByteBuf>,
    },
    /// The whole document as `Automerge.save` output; load it, or merge it into a local copy.
    Snapshot {
        doc: String,
        /// Absent for a record.
        #[serde(rename = "type", default, skip_serializing_if = "DocType::is_default")]
        doc_type: DocType,
        #[serde(with = "serde_bytes")]
        snapshot: Vec<u8>,
    },
    /// The document has left the phone's scope: drop the local copy. Always `true`.
    Evict { doc: String, evict: bool },
}

impl PullItem {
    pub fn evict(doc: impl Into<String>) -> Self {
        PullItem::Evict {
            doc: doc.into(),
            evict: true,
        }
    }

    pub fn doc(&self) -> &str {
        match self {
            PullItem::Changes { doc, .. }
            | PullItem::Snapshot { doc, .. }
            | PullItem::Evict { doc, .. } => doc,
        }
    }

    /// The type of the document sent; `None` for an eviction, which names only the id
    /// (ids are unique across types).
    pub fn doc_type(&self) -> Option<DocType> {
        match self {
            PullItem::Changes { doc_type, .. } | PullItem::Snapshot { doc_type, .. } => {
                Some(*doc_type)
            }
            PullItem::Evict { .. } => None,
        }
    }
}

/// The machine-readable `code` of every `{code, message}` error body the server answers
/// with (`server/src/error.rs`): one closed set, generated into the PWA
/// (`pwa/src/generated/protocol.mjs`). A push's per-document refusals are [`RefusalCode`]s
/// instead, inside a 200 answer.
///
/// [`RefusalCode`]: crate::ingest::RefusalCode
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The username or password is wrong.
    BadCredentials,
    /// Rows of an import are wrong; `details` lists them.
    BadRows,
    /// This account has as many syncs under way as it may; try again when one has finished.
    Busy,
    /// An administrator may not disable their own account.
    CannotDisableSelf,
    /// An ID number is already registered for another person; `details` names them.
    DuplicateIdNumber,
    /// The person's personal data was erased; it cannot be filled in again.
    Erased,
    /// A resident's field is wrong; the message names it.
    InvalidResident,
    /// Seeing or exporting personal data in clear needs a reason, which is logged.
    ReasonRequired,
    /// A sync request pushes the same document twice.
    DuplicateDocument,
    /// The caller's role or scope does not allow this.
    Forbidden,
    /// An uploaded photo's bytes do not match the hash it was announced with.
    HashMismatch,
    /// The server failed; the details are in its log, never in the answer.
    Internal,
    /// The request body does not have the expected shape.
    InvalidBody,
    /// A photo hash is not 64 lower-case hex digits.
    InvalidHash,
    /// A path parameter does not parse.
    InvalidPath,
    /// A query parameter does not parse or is out of range.
    InvalidQuery,
    /// A Range or Content-Range header the server cannot honour.
    InvalidRange,
    /// The refresh token is unknown, expired or revoked: sign in again.
    InvalidRefreshToken,
    /// A sync `resume` that does not belong to its `cursor`.
    InvalidResume,
    /// A user named in the request does not exist or may not be used so.
    InvalidUser,
    /// A sync request that does not decode as CBOR of the expected shape.
    Malformed,
    /// A JSON body that does not parse.
    MalformedJson,
    /// The path exists but not with this method.
    MethodNotAllowed,
    /// No such thing, or none the caller may see.
    NotFound,
    /// A photo whose upload has not finished.
    NotReady,
    /// Too many attempts; `Retry-After` says when to try again.
    RateLimited,
    /// A refresh token used twice: the session is ended as stolen.
    RefreshTokenReused,
    /// The request body arrived too slowly.
    RequestTimeout,
    /// The request or one of its parts is bigger than the server takes.
    TooLarge,
    /// No valid access token: sign in (again).
    Unauthorized,
    /// The server is shutting down; try again shortly.
    Unavailable,
    /// A body of a type this endpoint does not take.
    UnsupportedMediaType,
    /// A sync request whose protocol version `v` the server does not speak.
    UnsupportedVersion,
    /// Another upload of the same photo is under way.
    UploadInProgress,
    /// The username is already in use.
    UsernameTaken,
    /// The new password does not meet the rules.
    WeakPassword,
    /// A resumed upload whose offset is not where the server stopped.
    WrongOffset,
}

named_enum!(ErrorCode {
    BadCredentials => "bad_credentials",
    BadRows => "bad_rows",
    Busy => "busy",
    CannotDisableSelf => "cannot_disable_self",
    DuplicateIdNumber => "duplicate_id_number",
    Erased => "erased",
    InvalidResident => "invalid_resident",
    ReasonRequired => "reason_required",
    DuplicateDocument => "duplicate_document",
    Forbidden => "forbidden",
    HashMismatch => "hash_mismatch",
    Internal => "internal",
    InvalidBody => "invalid_body",
    InvalidHash => "invalid_hash",
    InvalidPath => "invalid_path",
    InvalidQuery => "invalid_query",
    InvalidRange => "invalid_range",
    InvalidRefreshToken => "invalid_refresh_token",
    InvalidResume => "invalid_resume",
    InvalidUser => "invalid_user",
    Malformed => "malformed",
    MalformedJson => "malformed_json",
    MethodNotAllowed => "method_not_allowed",
    NotFound => "not_found",
    NotReady => "not_ready",
    RateLimited => "rate_limited",
    RefreshTokenReused => "refresh_token_reused",
    RequestTimeout => "request_timeout",
    TooLarge => "too_large",
    Unauthorized => "unauthorized",
    Unavailable => "unavailable",
    UnsupportedMediaType => "unsupported_media_type",
    UnsupportedVersion => "unsupported_version",
    UploadInProgress => "upload_in_progress",
    UsernameTaken => "username_taken",
    WeakPassword => "weak_password",
    WrongOffset => "wrong_offset",
});

/// Change hashes as the lower-case hex strings the wire carries.
pub fn heads_to_hex(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| hex::encode(h.0)).collect()
}

/// Parses hex change hashes from the wire; `None` if any is not a 32-byte hex string.
pub fn heads_from_hex(heads: &[String]) -> Option<Vec<ChangeHash>> {
    heads.iter().map(|h| h.parse().ok()).collect()
}

/// Most documents one request may push.
pub const MAX_PUSH_DOCS: usize = 500;
/// Most changes one request may push, all documents together, and for one document.
pub const MAX_PUSH_CHANGES: usize = 50_000;
pub const MAX_CHANGES_PER_DOC: usize = crate::ingest::MAX_CHANGES_PER_PUSH;
/// Most ids one request may `want`.
pub const MAX_WANT: usize = 200;

/// The limits are enforced while decoding, not after: a few kilobytes of gzip inflate to
/// millions of empty CBOR byte strings, and a decoder that first builds the lists would
/// hold hundreds of megabytes before any count could be checked.
fn bounded_push<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PushDoc>, D::Error> {
    use serde::de::{Error, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;

    struct Docs;
    impl<'de> Visitor<'de> for Docs {
        type Value = Vec<PushDoc>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_PUSH_DOCS} documents")
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Docs)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let budget = Cell::new(MAX_PUSH_CHANGES);
            let mut docs = Vec::new();
            while let Some(doc) = seq.next_element_seed(DocSeed(&budget))? {
                if docs.len() == MAX_PUSH_DOCS {
                    return Err(A::Error::custom(format!(
                        "push at most {MAX_PUSH_DOCS} documents per request"
                    )));
                }
                docs.push(doc);
            }
            Ok(docs)
        }
    }

    struct DocSeed<'b>(&'b Cell<usize>);
    impl<'de> serde::de::DeserializeSeed<'de> for DocSeed<'_> {
        type Value = PushDoc;
        fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<PushDoc, D2::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for DocSeed<'_> {
        type Value = PushDoc;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a document's push: {doc, type, changes}")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PushDoc, A::Error> {
            let mut doc = None;
            let mut doc_type = None;
            let mut changes = Vec::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match &*key {
                    "doc" => doc = Some(map.next_value::<String>()?),
                    "type" => doc_type = map.next_value::<Option<String>>()?,
                    "changes" => changes = map.next_value_seed(ChangesSeed(self.0))?,
                    _ => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
            }
            Ok(PushDoc {
                doc: doc.ok_or_else(|| A::Error::missing_field("doc"))?,
                doc_type,
                changes,
            })
        }
    }

    struct ChangesSeed<'b>(&'b Cell<usize>);
    impl<'de> serde::de::DeserializeSeed<'de> for ChangesSeed<'_> {
        type Value = Vec<ByteBuf>;
        fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for ChangesSeed<'_> {
        type Value = Vec<ByteBuf>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of changes (byte strings)")
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut changes = Vec::new();
            while let Some(change) = seq.next_element::<ByteBuf>()? {
                let left = self.0.get();
                if left == 0 || changes.len() == MAX_CHANGES_PER_DOC {
                    return Err(A::Error::custom(format!(
                        "push at most {MAX_CHANGES_PER_DOC} changes per document and {MAX_PUSH_CHANGES} per request; send the rest in the next request"
                    )));
                }
                self.0.set(left - 1);
                changes.push(change);
            }
            Ok(changes)
        }
    }

    d.deserialize_any(Docs)
}

fn bounded_want<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::{Error, SeqAccess, Visitor};
    struct Ids;
    impl<'de> Visitor<'de> for Ids {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_WANT} record ids")
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Ids)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut ids = Vec::new();
            while let Some(id) = seq.next_element::<String>()? {
                if ids.len() == MAX_WANT {
                    return Err(A::Error::custom(format!(
                        "ask for at most {MAX_WANT} documents per request"
                    )));
                }
                ids.push(id);
            }
            Ok(Some(ids))
        }
    }
    d.deserialize_any(Ids)
}

/// cbor-x writes a JS `null` or `undefined` for a list the client left unset; treat both as
/// empty rather than refusing the whole request.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RefusalCode;

    fn to_cbor<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).expect("serialising to a Vec cannot fail");
        out
    }

    fn from_cbor<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> T {
        ciborium::from_reader(bytes).expect("valid CBOR for the type")
    }

    #[test]
    fn request_round_trips() {
        let req = SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: Some(42),
            resume: Some(50),
            pull: false,
            push: vec![PushDoc {
                doc: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
                doc_type: Some("record".into()),
                changes: vec![
                    ByteBuf::from(vec![0x85, 0x6f, 0x4a, 0x83]),
                    ByteBuf::from(vec![]),
                ],
            }],
            want: Some(vec!["7c9e6679-7425-40de-944b-e07fc1f90ae7".into()]),
            limit: Some(500),
        };
        assert_eq!(from_cbor::<SyncRequest>(&to_cbor(&req)), req);

        let bare = SyncRequest::new(None);
        let bytes = to_cbor(&bare);
        assert_eq!(from_cbor::<SyncRequest>(&bytes), bare);
        // Absent options are left out, not sent as null: a one-key map.
        assert_eq!(bytes[0], 0xa1);
    }

    #[test]
    fn response_round_trips_with_every_pull_shape() {
        let h = ChangeHash([7; 32]);
        let refusal = Refusal {
            code: RefusalCode::MissingDeps,
            message: "missing".into(),
        };
        let resp = SyncResponse {
            v: PROTOCOL_VERSION,
            results: vec![
                PushResult::accepted("a", &[h]),
                PushResult::refused("b", &refusal),
            ],
            pull: vec![
                PullItem::Changes {
                    doc: "c".into(),
                    doc_type: DocType::Record,
                    changes: vec![ByteBuf::from(vec![1, 2, 3])],
                },
                PullItem::Snapshot {
                    doc: "d".into(),
                    doc_type: DocType::Record,
                    snapshot: vec![4, 5, 6],
                },
                PullItem::evict("e"),
            ],
            cursor: 1234,
            more: true,
            resume: Some(1300),
            unsent: vec!["f".into()],
        };
        let back: SyncResponse = from_cbor(&to_cbor(&resp));
        assert_eq!(back, resp);
        assert_eq!(
            back.results[0].heads.as_deref(),
            Some(&[hex::encode([7; 32])][..])
        );
        assert_eq!(back.results[1].code.as_deref(), Some("missing_deps"));
        assert_eq!(
            back.pull.iter().map(PullItem::doc).collect::<Vec<_>>(),
            ["c", "d", "e"]
        );
        // A record's pull items leave `type` out, as they did before types existed.
        let snapshot = to_cbor(&resp.pull[1]);
        assert_eq!(snapshot[0], 0xa2, "two keys: doc and snapshot");
    }

    #[test]
    fn refusal_codes_serialise_as_their_names() {
        // serde derives the spelling from the variant; `named_enum!` writes it out. The
        // wire carries `as_str`, so the two must agree.
        for &code in RefusalCode::ALL {
            let back: String = from_cbor(&to_cbor(&code));
            assert_eq!(back, code.as_str());
            assert_eq!(code.as_str().parse::<RefusalCode>(), Ok(code));
        }
    }

    #[test]
    fn refused_result_leaves_heads_out() {
        let refusal = Refusal {
            code: RefusalCode::Forbidden,
            message: "no".into(),
        };
        let value: ciborium::Value = from_cbor(&to_cbor(&PushResult::refused("x", &refusal)));
        let keys: Vec<String> = value
            .as_map()
            .expect("a map")
            .iter()
            .filter_map(|(k, _)| k.as_text().map(str::to_owned))
            .collect();
        assert_eq!(keys, ["doc", "ok", "code", "message"]);
    }

    /// A request byte for byte as cbor-x writes it with `useRecords: false`: definite-length
    /// maps with 16-bit length headers (`0xb9`), a tag-64 typed array, a JS `undefined` for an
    /// unset field, a `null` list, and a field this version does not know.
    #[test]
    fn decodes_hand_written_cbor_x_request() {
        let mut b: Vec<u8> = vec![0xb9, 0x00, 0x06]; // map, 6 entries
        b.extend([0x61, b'v', 0x01]); // "v": 1
        b.extend([0x66]); // "cursor": 1700000000 as uint32
        b.extend(b"cursor");
        b.extend([0x1a, 0x65, 0x53, 0xf1, 0x00]);
        b.extend([0x64]); // "push": [ {doc, changes} ]
        b.extend(b"push");
        b.extend([0x81, 0xb9, 0x00, 0x02]);
        b.extend([0x63]);
        b.extend(b"doc");
        b.extend([0x61, b'x']);
        b.extend([0x67]);
        b.extend(b"changes");
        b.extend([0x82, 0x43, 0xde, 0xad, 0x01]); // plain byte string
        b.extend([0xd8, 0x40, 0x42, 0xbe, 0xef]); // tag 64 (Uint8Array) byte string
        b.extend([0x64]); // "want": undefined
        b.extend(b"want");
        b.push(0xf7);
        b.extend([0x65]); // "limit": null
        b.extend(b"limit");
        b.push(0xf6);
        b.extend([0x67]); // "battery": 0.5, unknown to this version
        b.extend(b"battery");
        b.extend([0xfb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);

        let req: SyncRequest = from_cbor(&b);
        assert_eq!(req.v, 1);
        assert_eq!(req.cursor, Some(1_700_000_000));
        assert_eq!(req.want, None);
        assert_eq!(req.limit, None);
        assert_eq!(req.push.len(), 1);
        assert_eq!(req.push[0].doc, "x");
        assert_eq!(
            req.push[0].changes,
            [
                ByteBuf::from(vec![0xde, 0xad, 0x01]),
                ByteBuf::from(vec![0xbe, 0xef])
            ]
        );
    }

    #[test]
    fn tolerates_null_lists_and_missing_optional_fields() {
        // {"v": 1, "push": null}
        let mut b = vec![0xa2, 0x61, b'v', 0x01, 0x64];
        b.extend(b"push");
        b.push(0xf6);
        let req: SyncRequest = from_cbor(&b);
        assert_eq!(req, SyncRequest::new(None));
    }

    #[test]
    fn rejects_request_without_version() {
        // {"cursor": 1}
        let mut b = vec![0xa1, 0x66];
        b.extend(b"cursor");
        b.push(0x01);
        assert!(ciborium::from_reader::<SyncRequest, _>(&b[..]).is_err());
    }

    #[test]
    fn heads_hex_round_trip() {
        let heads = vec![ChangeHash([0xab; 32]), ChangeHash([0x01; 32])];
        let hex = heads_to_hex(&heads);
        assert_eq!(hex[0], "ab".repeat(32));
        assert_eq!(heads_from_hex(&hex), Some(heads));
        assert_eq!(heads_from_hex(&["abc".into()]), None);
    }
}
