//! Step 1: the pushed bytes, bounded and decoded, before anything is judged.

use std::collections::HashSet;
use std::io::Read;

use automerge::{ActorId, Change};

use super::{
    MAX_BYTES_PER_PUSH, MAX_CHANGES_PER_PUSH, MAX_INFLATED_BYTES_PER_PUSH, Refusal, RefusalCode,
    guarded, refuse,
};
use crate::doctype::DocType;
use crate::record::is_uuid;

/// A push for one document whose changes all decode, in the order the phone sent them.
#[derive(Debug, Clone)]
pub struct Decoded {
    doc_id: String,
    doc_type: DocType,
    /// Each change with its index in the push and its bytes exactly as sent.
    pub(super) changes: Vec<(usize, Vec<u8>, Change)>,
}

impl Decoded {
    pub fn doc_id(&self) -> &str {
        &self.doc_id
    }

    /// The type the phone says the document is: which `DocKind` judges it.
    pub fn doc_type(&self) -> DocType {
        self.doc_type
    }

    /// The actor ids the changes were made with, each once: whose owners the server looks up
    /// for [`super::PushContext::actor_users`]. Changes the server already has are among
    /// them; they are skipped before actors are judged.
    pub fn actors(&self) -> Vec<ActorId> {
        let mut seen = HashSet::new();
        self.changes
            .iter()
            .map(|(_, _, c)| c.actor_id())
            .filter(|a| seen.insert(*a))
            .cloned()
            .collect()
    }
}

/// Checks the type, the id's shape and the push's size, then decodes every change.
/// Everything is decoded before anything is judged, so a bad change is reported as such
/// rather than as whatever rule it happens to trip first. `doc_type` is the push's `type`,
/// absent for a record.
pub fn decode(
    doc_type: Option<&str>,
    doc_id: &str,
    changes: Vec<Vec<u8>>,
) -> Result<Decoded, Refusal> {
    use RefusalCode::*;

    let doc_type = match doc_type {
        None => DocType::default(),
        Some(name) => match name.parse() {
            Ok(t) => t,
            Err(_) => {
                return refuse(
                    Malformed,
                    format!(
                        "document {doc_id:.80}: this server knows no document type {:?} (it knows {})",
                        name.chars().take(40).collect::<String>(),
                        <DocType as crate::names::NamedEnum>::names()
                    ),
                );
            }
        },
    };

    if !is_uuid(doc_id) {
        return refuse(
            Malformed,
            format!(
                "document id {:?} is not a UUID (lower-case, hyphenated, as crypto.randomUUID() makes)",
                doc_id.chars().take(80).collect::<String>()
            ),
        );
    }

    let total_bytes: usize = changes.iter().map(Vec::len).sum();
    if changes.len() > MAX_CHANGES_PER_PUSH || total_bytes > MAX_BYTES_PER_PUSH {
        return refuse(
            TooLarge,
            format!(
                "the push for document {doc_id} carries {} changes in {total_bytes} bytes; one push may carry at most {MAX_CHANGES_PER_PUSH} changes and {MAX_BYTES_PER_PUSH} bytes per document, so send the oldest changes first and the rest in the next sync",
                changes.len()
            ),
        );
    }

    check_inflated_size(doc_id, &changes)?;

    let mut decoded = Vec::with_capacity(changes.len());
    for (i, bytes) in changes.into_iter().enumerate() {
        match guarded(|| Change::try_from(bytes.as_slice())) {
            Some(Ok(change)) => decoded.push((i, bytes, change)),
            Some(Err(e)) => {
                return refuse(
                    Malformed,
                    format!("change {i} of document {doc_id} is not an Automerge change: {e}"),
                );
            }
            None => {
                return refuse(
                    Malformed,
                    format!("change {i} of document {doc_id} could not be decoded"),
                );
            }
        }
    }
    Ok(Decoded {
        doc_id: doc_id.to_owned(),
        doc_type,
        changes: decoded,
    })
}

/// Refuses a push whose compressed changes would inflate past
/// [`MAX_INFLATED_BYTES_PER_PUSH`], by inflating them into nothing before Automerge
/// inflates them into memory.
fn check_inflated_size(doc_id: &str, changes: &[Vec<u8>]) -> Result<(), Refusal> {
    let mut budget = MAX_INFLATED_BYTES_PER_PUSH as u64;
    for (i, bytes) in changes.iter().enumerate() {
        let size = match compressed_body(bytes) {
            Some(body) => {
                let mut inflater = flate2::bufread::DeflateDecoder::new(body).take(budget + 1);
                // A broken stream is Automerge's to report when it decodes the change.
                std::io::copy(&mut inflater, &mut std::io::sink()).unwrap_or(0)
            }
            None => bytes.len() as u64,
        };
        if size > budget {
            return refuse(
                RefusalCode::TooLarge,
                format!(
                    "document {doc_id}: change {i} takes the push past {MAX_INFLATED_BYTES_PER_PUSH} bytes once decompressed"
                ),
            );
        }
        budget -= size;
    }
    Ok(())
}

/// The deflate stream of a compressed change chunk: magic bytes, 4-byte checksum, chunk
/// type 2, LEB128 length, then the stream. `None` for anything else.
pub(super) fn compressed_body(bytes: &[u8]) -> Option<&[u8]> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const COMPRESSED_CHANGE: u8 = 2;
    if bytes.get(..4)? != MAGIC || *bytes.get(8)? != COMPRESSED_CHANGE {
        return None;
    }
    let mut len: u64 = 0;
    let mut pos = 9;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(pos)?;
        pos += 1;
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            let end = pos.checked_add(usize::try_from(len).ok()?)?;
            return bytes.get(pos..end);
        }
    }
    None
}
