//! Judging a push for one document: decode the phone's changes, apply them to the stored
//! document, and accept the result only if it is a valid record the caller may hold.
//!
//! The server calls [`apply_push`] and, on `Ok`, stores [`Applied`] in one SQLite
//! transaction. A push is judged by the state it leads to, all changes at once, so a phone
//! can repair a record (say a merge that put the sector outside the grid) by pushing the
//! repair together with the changes that broke it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::Read;

use crate::names::named_enum;

use automerge::{ActorId, Automerge, AutomergeError, Change, ChangeHash, ReadDoc};
use serde::{Deserialize, Serialize};

use crate::record::{Record, is_uuid, read_record};
use crate::scope::{Principal, Role};
use crate::workflow::{self, CategoryRules};

/// Most changes one push may carry for one document. A phone with more (months offline,
/// typing saved keystroke by keystroke) sends them over several syncs, oldest first.
pub const MAX_CHANGES_PER_PUSH: usize = 10_000;
/// Most bytes of changes one push may carry for one document. Photos never travel inside
/// a document, so a real record stays far below this.
/// A record may not grow past its cap anyway, so a push as large as the whole cap is the
/// most that could be taken.
pub const MAX_BYTES_PER_PUSH: usize = MAX_RECORD_BYTES;
/// Most bytes the push's changes may take once decompressed. Automerge inflates a
/// compressed change without a bound, so a few kilobytes of crafted deflate could otherwise
/// ask for gigabytes.
pub const MAX_INFLATED_BYTES_PER_PUSH: usize = 4 * 1024 * 1024;
/// Most bytes a record's saved document may take. A real record, photos kept apart and a
/// long description typed over weeks, stays in the tens of kilobytes; without a cap one
/// user could grow a record that every phone in its area must download.
pub const MAX_RECORD_BYTES: usize = 2 * 1024 * 1024;

/// What [`apply_push`] needs from the server besides the document.
pub struct PushContext<'a> {
    pub principal: &'a Principal,
    /// Owner (user id) of an actor id the server has seen before, if any.
    pub actor_owner: &'a dyn Fn(&ActorId) -> Option<i64>,
    /// Whether a category code exists in the catalogue.
    pub category: &'a dyn Fn(&str) -> Option<CategoryRules>,
    /// The server's clock when the push arrived, ms since the epoch: workflow steps and new
    /// records are dated no later than this (give or take a phone's clock skew).
    pub now: i64,
}

/// A change the push added, to store next to the document.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub hash: ChangeHash,
    /// The change exactly as the phone sent it (possibly in its compressed form).
    pub bytes: Vec<u8>,
    pub actor: ActorId,
}

/// An accepted push.
#[derive(Debug)]
pub struct Applied {
    /// The document with the push applied.
    pub doc: Automerge,
    /// Its projection, for the records table.
    pub record: Record,
    /// Changes the server did not have before, in causal order (every change after the
    /// changes it depends on), the order to store and later send them in.
    pub new_changes: Vec<NewChange>,
    /// Actor ids never seen before, to bind to the caller.
    pub new_actors: Vec<ActorId>,
    pub heads: Vec<ChangeHash>,
    /// The document saved (undeflated), checked to load back to `heads`; empty when the push
    /// brought nothing new.
    pub state: Vec<u8>,
}

/// Why a push was refused. Nothing of a refused push is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    pub code: RefusalCode,
    /// For the person holding the phone: which change or field, and what is wrong.
    pub message: String,
}

/// The machine-readable reason of a [`Refusal`], sent as `code` in a push result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// Not a UUID document id, or a change that does not decode or apply.
    Malformed,
    /// A change depends on a change neither stored nor pushed.
    MissingDeps,
    /// The resulting document is not a valid schema 1 record.
    InvalidDocument,
    /// The record is, or would end up, outside the caller's scope.
    OutOfScope,
    /// The caller's role may not make this change.
    Forbidden,
    /// A change was made by an actor id that belongs to another user.
    ForeignActor,
    /// The push is bigger than one push may be.
    TooLarge,
    /// A workflow action the caller's role may not take in the record's status.
    ForbiddenTransition,
    /// The server's copy of the record is damaged (it does not load); an administrator must
    /// repair it (`haitang records check`), and until then it takes no pushes.
    Damaged,
    /// Other pushes kept changing the record at the same moment; send it again. Not a rule:
    /// the server gave up racing.
    Busy,
}

named_enum!(RefusalCode {
    Malformed => "malformed",
    MissingDeps => "missing_deps",
    InvalidDocument => "invalid_document",
    OutOfScope => "out_of_scope",
    Forbidden => "forbidden",
    ForeignActor => "foreign_actor",
    TooLarge => "too_large",
    ForbiddenTransition => "forbidden_transition",
    Damaged => "damaged",
    Busy => "busy",
});

fn refuse<T>(code: RefusalCode, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        code,
        message: message.into(),
    })
}

/// Validates and applies one document's push. `current` is the stored document (`None` if
/// the server has never seen `doc_id`); it is consumed because a refused push simply drops
/// the working copy and the server keeps what it stored.
pub fn apply_push(
    doc_id: &str,
    current: Option<Automerge>,
    changes: &[Vec<u8>],
    ctx: &PushContext<'_>,
) -> Result<Applied, Refusal> {
    use RefusalCode::*;

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

    check_inflated_size(doc_id, changes)?;

    // Decode everything before judging anything, so a bad change is reported as such
    // rather than as whatever rule it happens to trip first.
    let mut decoded = Vec::with_capacity(changes.len());
    for (i, bytes) in changes.iter().enumerate() {
        match guarded(|| Change::try_from(bytes.as_slice())) {
            Some(Ok(change)) => decoded.push((i, change)),
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

    // A record outside the caller's scope is judged as if the server had no copy, so that
    // what a push answers never tells whether an id exists; only a push that would create
    // the record is refused at the end, as out of scope.
    let (current, before, hidden) = match current {
        Some(doc) => {
            let record = read_record(&doc).map_err(|e| Refusal {
                code: InvalidDocument,
                message: format!(
                    "the stored copy of record {doc_id} is not valid ({e}); this needs an administrator"
                ),
            })?;
            if ctx.principal.can_see(record.position()) {
                (Some(doc), Some(record), false)
            } else {
                (None, None, true)
            }
        }
        None => (None, None, false),
    };

    // Idempotence: a phone that lost the previous response pushes the same changes again.
    let mut seen = HashSet::with_capacity(decoded.len());
    decoded.retain(|(_, change)| {
        let hash = change.hash();
        seen.insert(hash) && !current.as_ref().is_some_and(|doc| has_change(doc, hash))
    });

    let new_actors = check_actors(&decoded, ctx)?;

    let (mut doc, before) = match (current, before) {
        (Some(doc), Some(before)) if decoded.is_empty() => {
            return Ok(Applied {
                heads: doc.get_heads(),
                doc,
                record: before,
                new_changes: Vec::new(),
                new_actors: Vec::new(),
                state: Vec::new(),
            });
        }
        // Said the same whether the record is unknown or hidden from the caller.
        (None, _) if decoded.is_empty() => {
            return refuse(
                OutOfScope,
                format!("record {doc_id} is not on the server or is outside your scope"),
            );
        }
        (doc, before) => (doc.unwrap_or_default(), before),
    };

    let decoded = causal_order(decoded);
    let new_changes: Vec<NewChange> = decoded
        .iter()
        .map(|(i, change)| NewChange {
            hash: change.hash(),
            bytes: changes[*i].clone(),
            actor: change.actor_id().clone(),
        })
        .collect();

    let creating = before.is_none();
    let known = Known::of(&doc);
    let batch: Vec<Change> = decoded.into_iter().map(|(_, change)| change).collect();
    // Kept to judge workflow actions change by change, in the applied document's history.
    let for_workflow = batch.clone();
    let outcome = guarded(move || {
        // One call for the whole push: applying is the expensive part, and a batch is
        // applied far faster than the same changes one by one.
        doc.apply_changes(batch)?;
        // Changes whose dependencies are missing wait in the document's queue instead of
        // failing; they are refused below, so that nothing half-applied is ever stored.
        let missing = doc.get_missing_deps(&[]);
        let record = read_record(&doc);
        Ok::<_, AutomergeError>((doc, missing, record))
    });
    let (doc, missing, record) = match outcome {
        Some(Ok(applied)) => applied,
        Some(Err(e)) => return Err(apply_error(doc_id, e)),
        None => {
            return refuse(
                Malformed,
                format!(
                    "record {doc_id}: the changes do not fit the record's history and could not be applied"
                ),
            );
        }
    };
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(3).map(|h| hex::encode(h.0)).collect();
        let more = if missing.len() > 3 { ", …" } else { "" };
        return refuse(
            MissingDeps,
            format!(
                "the push for record {doc_id} depends on {} change(s) the server does not have ({}{more}); push all of the record's unconfirmed changes together",
                missing.len(),
                shown.join(", ")
            ),
        );
    }

    let record = record.map_err(|e| Refusal {
        code: InvalidDocument,
        message: format!("record {doc_id}: {e}"),
    })?;
    if record.id != doc_id {
        return refuse(
            InvalidDocument,
            format!(
                "record {doc_id}: field `id` is {:?}, but it must equal the document id",
                record.id
            ),
        );
    }
    if !ctx.principal.can_see(record.position()) {
        return refuse(
            OutOfScope,
            format!(
                "record {doc_id} would lie outside your scope (grid {}{})",
                record.grid,
                record
                    .sector
                    .as_deref()
                    .map(|s| format!(", sector {s}"))
                    .unwrap_or_default()
            ),
        );
    }

    match &before {
        None => {
            if ctx.principal.role == Role::DepartmentHandler {
                return refuse(
                    Forbidden,
                    format!(
                        "record {doc_id}: department handlers work on dispatched records and cannot create new ones"
                    ),
                );
            }
            if record.reported_by != ctx.principal.user_id {
                return refuse(
                    Forbidden,
                    format!(
                        "record {doc_id}: a new record must be reported by you (user {}), but field `reported_by` is {}",
                        ctx.principal.user_id, record.reported_by
                    ),
                );
            }
        }
        Some(before) => {
            if let Some((field, was, now)) = changed_immutable(before, &record) {
                return refuse(
                    Forbidden,
                    format!(
                        "record {doc_id}: field `{field}` cannot change once a record exists (it was {was}, the push makes it {now})"
                    ),
                );
            }
        }
    }

    // A category retired from the catalogue stays valid on the records that already use it;
    // only a new record or a new choice must name a current one.
    let category_changed = before
        .as_ref()
        .is_none_or(|b| b.category != record.category);
    if category_changed && (ctx.category)(&record.category).is_none() {
        return refuse(
            InvalidDocument,
            format!(
                "record {doc_id}: field `category` is {:?}, which is not in the catalogue",
                record.category
            ),
        );
    }

    let touches = match guarded(|| crate::ops::inspect(&doc, creating, &for_workflow)) {
        Some(Ok(touches)) => touches,
        Some(Err(violation)) => {
            return refuse(Forbidden, format!("record {doc_id}: {violation}"));
        }
        None => return unreadable(doc_id),
    };
    let rules = ctx.category;
    let checked = guarded(|| {
        workflow::check_changes(
            &doc,
            &for_workflow,
            &touches,
            creating,
            ctx.principal,
            rules,
            ctx.now,
        )
    });
    let allowed = match checked {
        Some(Ok(allowed)) => allowed,
        Some(Err(denied)) => {
            return refuse(ForbiddenTransition, format!("record {doc_id}: {denied}"));
        }
        None => return unreadable(doc_id),
    };
    if let Err(denied) = workflow::check_net_effect(before.as_ref(), &record, &allowed) {
        return refuse(ForbiddenTransition, format!("record {doc_id}: {denied}"));
    }
    match guarded(|| known.check_new(&doc, ctx.principal.user_id)) {
        Some(Ok(())) => {}
        Some(Err(problem)) => return refuse(Forbidden, format!("record {doc_id}: {problem}")),
        None => return unreadable(doc_id),
    }

    if hidden {
        return refuse(OutOfScope, format!("record {doc_id} is outside your scope"));
    }

    let heads = doc.get_heads();
    let (doc, state) = match guarded(move || saved_and_checked(doc)) {
        Some(Ok(saved)) => saved,
        Some(Err(problem)) => {
            return refuse(Malformed, format!("record {doc_id}: {problem}"));
        }
        None => {
            return refuse(
                Malformed,
                format!("record {doc_id}: the changes do not save and load back as they came"),
            );
        }
    };
    if state.len() > MAX_RECORD_BYTES {
        return refuse(
            TooLarge,
            format!(
                "record {doc_id} would take {} bytes with this push; a record may take at most {MAX_RECORD_BYTES} (put photos in attachments, not in the record)",
                state.len()
            ),
        );
    }

    Ok(Applied {
        heads,
        doc,
        record,
        new_changes,
        new_actors,
        state,
    })
}

fn unreadable<T>(doc_id: &str) -> Result<T, Refusal> {
    refuse(
        RefusalCode::Malformed,
        format!("record {doc_id}: the changes could not be read back for the checks"),
    )
}

/// The document saved as it will be stored and sent (undeflated: a pull snapshot travels in
/// a gzipped response, and a phone loads it about a tenth faster undeflated), loaded back
/// to prove it. A change can decode and apply yet carry bytes that a saved document does
/// not keep (surplus data after a column, say); its hash then no longer matches on load,
/// and the stored record would never load again. Re-encoding each change from its
/// operations is not enough: the fuzz of the push path found changes that re-encode to
/// their own hash and still leave a document that does not load.
///
/// The applied document is dropped before the saved one is loaded, and the loaded one is
/// what the caller goes on with: the same document, so a push holds one at a time.
fn saved_and_checked(doc: Automerge) -> Result<(Automerge, Vec<u8>), String> {
    let mut heads = doc.get_heads();
    let state = doc.save_nocompress();
    drop(doc);
    let loaded = Automerge::load(&state).map_err(|e| {
        format!("the changes do not save and load back as they came ({e}); the app that made them encodes them in a way this server cannot keep")
    })?;
    let mut again = loaded.get_heads();
    heads.sort();
    again.sort();
    if again != heads {
        return Err("the changes do not save and load back as they came (the heads differ); the app that made them encodes them in a way this server cannot keep".into());
    }
    Ok((loaded, state))
}

/// The notes and attachments a record had before a push, to tell the push's new ones.
struct Known {
    notes: HashSet<automerge::ObjId>,
    attachments: HashSet<automerge::ObjId>,
}

impl Known {
    fn of(doc: &Automerge) -> Known {
        Known {
            notes: list_items(doc, "notes").into_iter().collect(),
            attachments: list_items(doc, "attachments").into_iter().collect(),
        }
    }

    /// New notes and attachments carry the pusher's id. (They cannot change after the
    /// change that made them: `ops`.) Their dates are the phone's and drive nothing.
    fn check_new(&self, doc: &Automerge, user_id: i64) -> Result<(), String> {
        for (key, known) in [("notes", &self.notes), ("attachments", &self.attachments)] {
            for item in list_items(doc, key) {
                if known.contains(&item) {
                    continue;
                }
                let int = |field: &str| match doc.get(&item, field) {
                    Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
                        automerge::ScalarValue::Int(n) | automerge::ScalarValue::Timestamp(n) => {
                            Some(*n)
                        }
                        automerge::ScalarValue::Uint(n) => i64::try_from(*n).ok(),
                        automerge::ScalarValue::F64(f) if f.fract() == 0.0 => Some(*f as i64),
                        _ => None,
                    },
                    _ => None,
                };
                let by = int("by");
                if by != Some(user_id) {
                    return Err(format!(
                        "a new entry of `{key}` must carry your user id ({user_id}) as `by`, found {}",
                        by.map_or("none".to_owned(), |b| b.to_string())
                    ));
                }
            }
        }
        Ok(())
    }
}

fn list_items(doc: &Automerge, key: &str) -> Vec<automerge::ObjId> {
    match doc.get(automerge::ROOT, key) {
        Ok(Some((automerge::Value::Object(automerge::ObjType::List), list))) => doc
            .list_range(&list, ..)
            .filter(|item| matches!(item.value, automerge::ValueRef::Object(_)))
            .map(|item| item.id())
            .collect(),
        _ => Vec::new(),
    }
}

/// The first field fixed at creation that differs, with its old and new value. `schema`
/// and `id` need no check here: `read_record` accepts only schema 1, and the id must equal
/// the document id.
fn changed_immutable(before: &Record, after: &Record) -> Option<(&'static str, String, String)> {
    if before.kind != after.kind {
        return Some(("kind", before.kind.to_string(), after.kind.to_string()));
    }
    if before.reported_by != after.reported_by {
        let (was, now) = (before.reported_by, after.reported_by);
        return Some(("reported_by", was.to_string(), now.to_string()));
    }
    if before.reported_at != after.reported_at {
        let (was, now) = (before.reported_at, after.reported_at);
        return Some(("reported_at", was.to_string(), now.to_string()));
    }
    None
}

/// Runs Automerge on untrusted changes. Automerge 0.12 panics on some changes that decode
/// but do not fit the document (an operation naming an actor the document has never seen,
/// for one). A phone must not be able to take down a request, or poison a lock the server
/// holds around this call, so such a panic becomes a refusal; whatever half-updated
/// document it left behind is dropped with the closure. Needs `panic = "unwind"`.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
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
                    "record {doc_id}: change {i} takes the push past {MAX_INFLATED_BYTES_PER_PUSH} bytes once decompressed"
                ),
            );
        }
        budget -= size;
    }
    Ok(())
}

/// The deflate stream of a compressed change chunk: magic bytes, 4-byte checksum, chunk
/// type 2, LEB128 length, then the stream. `None` for anything else.
fn compressed_body(bytes: &[u8]) -> Option<&[u8]> {
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

/// Whether `doc` already holds the change with this hash. A stored document has no queued
/// changes, so asking which of `[hash]` is missing answers exactly that, without
/// materialising the change as `get_change_by_hash` would.
fn has_change(doc: &Automerge, hash: ChangeHash) -> bool {
    doc.get_missing_deps(&[hash]).is_empty()
}

/// Refuses changes by actors bound to someone else; returns the actors never seen before.
/// Each distinct actor is looked up once: a push is usually many changes by one actor.
fn check_actors(
    decoded: &[(usize, Change)],
    ctx: &PushContext<'_>,
) -> Result<Vec<ActorId>, Refusal> {
    let mut owners: HashMap<&ActorId, Option<i64>> = HashMap::new();
    let mut new_actors = Vec::new();
    for (i, change) in decoded {
        let actor = change.actor_id();
        let owner = *owners.entry(actor).or_insert_with(|| {
            let owner = (ctx.actor_owner)(actor);
            if owner.is_none() {
                new_actors.push(actor.clone());
            }
            owner
        });
        if let Some(owner) = owner
            && owner != ctx.principal.user_id
        {
            return refuse(
                RefusalCode::ForeignActor,
                format!(
                    "change {i} was made by actor {actor}, which belongs to another user; an app must start a new actor id when a different user signs in"
                ),
            );
        }
    }
    Ok(new_actors)
}

/// Sorts changes so each comes after those of its dependencies that are also in the push,
/// keeping the phone's order otherwise (Kahn's algorithm, smallest original index first).
fn causal_order(changes: Vec<(usize, Change)>) -> Vec<(usize, Change)> {
    let index: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(pos, (_, c))| (c.hash(), pos))
        .collect();
    let mut waiting_on = vec![0usize; changes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (pos, (_, change)) in changes.iter().enumerate() {
        for dep in change.deps() {
            if let Some(&d) = index.get(dep) {
                waiting_on[pos] += 1;
                dependents[d].push(pos);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..changes.len())
        .filter(|&p| waiting_on[p] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some(Reverse(p)) = ready.pop() {
        order.push(p);
        for &d in &dependents[p] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    // Hashes make dependency cycles impossible, but never drop a change if one appeared.
    if order.len() < changes.len() {
        let placed: HashSet<usize> = order.iter().copied().collect();
        order.extend((0..changes.len()).filter(|p| !placed.contains(p)));
    }
    let mut slots: Vec<Option<(usize, Change)>> = changes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|p| slots[p].take()).collect()
}

fn apply_error(doc_id: &str, e: AutomergeError) -> Refusal {
    let message = match e {
        AutomergeError::DuplicateSeqNumber(seq, actor) => format!(
            "record {doc_id}: actor {actor} already made a different change number {seq}; the same actor id was used twice (an app restored from a backup must start a new actor id)"
        ),
        other => format!("record {doc_id}: the changes could not be applied: {other}"),
    };
    Refusal {
        code: RefusalCode::Malformed,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{GRID, ID, sample};
    use crate::record::{self, Kind, Status, new_record};
    use automerge::ROOT;
    use automerge::transaction::Transactable;

    const USER: i64 = 7;
    const OTHER_USER: i64 = 8;
    /// The server's clock in these tests: an hour after `sample`'s report.
    const TEST_NOW: i64 = 1_717_000_000_000 + 3_600_000;
    const ID2: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

    fn grid_staff(user_id: i64) -> Principal {
        Principal {
            user_id,
            role: Role::GridStaff,
            unit: GRID.into(),
            department: None,
        }
    }

    fn no_owner(_: &ActorId) -> Option<i64> {
        None
    }

    fn any_category(code: &str) -> Option<CategoryRules> {
        crate::catalogue::find(code).map(|c| CategoryRules {
            handling_hours: c.handling_hours,
            field_resolvable: c.field_resolvable,
        })
    }

    /// Pushes as `principal`, with no actor known before and the seed catalogue.
    fn push(
        principal: &Principal,
        id: &str,
        current: Option<&Automerge>,
        changes: &[Vec<u8>],
    ) -> Result<Applied, Refusal> {
        let ctx = PushContext {
            principal,
            actor_owner: &no_owner,
            category: &any_category,
            now: TEST_NOW,
        };
        apply_push(id, current.cloned(), changes, &ctx)
    }

    fn code_of(result: Result<Applied, Refusal>) -> (RefusalCode, String) {
        let refusal = result.expect_err("the push should be refused");
        (refusal.code, refusal.message)
    }

    /// All changes of `doc` after `since`, as a phone's `getChanges` would give them.
    fn changes_since(doc: &Automerge, since: &[ChangeHash]) -> Vec<Vec<u8>> {
        doc.get_changes(since)
            .into_iter()
            .map(|mut c| c.bytes().into_owned())
            .collect()
    }

    fn edit(doc: &mut Automerge, f: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) {
        let mut tx = doc.transaction();
        f(&mut tx);
        tx.commit();
    }

    /// A record created by USER on the phone and accepted by the server.
    fn stored() -> (Automerge, Automerge) {
        let phone = new_record(ActorId::random(), &sample(ID, USER));
        let applied =
            push(&grid_staff(USER), ID, None, &changes_since(&phone, &[])).expect("accepted");
        (phone, applied.doc)
    }

    #[test]
    fn creates_a_record() {
        let actor = ActorId::random();
        let phone = new_record(actor.clone(), &sample(ID, USER));
        let changes = changes_since(&phone, &[]);
        let applied = push(&grid_staff(USER), ID, None, &changes).expect("accepted");
        assert_eq!(applied.record.id, ID);
        assert_eq!(applied.new_actors, std::slice::from_ref(&actor));
        assert_eq!(applied.new_changes.len(), 1);
        assert_eq!(applied.new_changes[0].bytes, changes[0]);
        assert_eq!(applied.new_changes[0].actor, actor);
        assert_eq!(applied.heads, phone.get_heads());
        assert_eq!(applied.doc.get_heads(), phone.get_heads());
    }

    #[test]
    fn pushing_again_is_idempotent() {
        let (mut phone, server) = stored();
        let first = changes_since(&phone, &[]);
        // The whole history again, twice over in one push: nothing new.
        let again: Vec<Vec<u8>> = first.iter().chain(&first).cloned().collect();
        let applied = push(&grid_staff(USER), ID, Some(&server), &again).expect("accepted");
        assert!(applied.new_changes.is_empty());
        assert!(applied.new_actors.is_empty());
        assert_eq!(applied.heads, server.get_heads());
        // Old and new together: only the new one is stored.
        let heads = phone.get_heads();
        edit(&mut phone, |tx| {
            record::append_note(tx, USER, 1, "复查").expect("note")
        });
        let mut both = first.clone();
        both.extend(changes_since(&phone, &heads));
        let applied = push(&grid_staff(USER), ID, Some(&server), &both).expect("accepted");
        assert_eq!(applied.new_changes.len(), 1);
        assert_eq!(applied.heads, phone.get_heads());
        // And nothing at all on an existing record is fine.
        let applied = push(&grid_staff(USER), ID, Some(&server), &[]).expect("accepted");
        assert_eq!(applied.heads, server.get_heads());
    }

    #[test]
    fn malformed() {
        let phone = new_record(ActorId::random(), &sample(ID, USER));
        let good = changes_since(&phone, &[]);
        let (code, msg) = code_of(push(&grid_staff(USER), "not-a-uuid", None, &good));
        assert_eq!(code, RefusalCode::Malformed);
        assert!(msg.contains("\"not-a-uuid\" is not a UUID"), "{msg}");

        let bad = vec![good[0].clone(), vec![1, 2, 3]];
        let (code, msg) = code_of(push(&grid_staff(USER), ID, None, &bad));
        assert_eq!(code, RefusalCode::Malformed);
        assert!(msg.starts_with("change 1 of document"), "{msg}");
    }

    #[test]
    fn reused_actor_sequence_is_malformed() {
        let (phone, server) = stored();
        // A reinstalled app restoring its old actor id writes a different change number 2.
        let actor = phone.get_actor().clone();
        let mut a = phone.fork().with_actor(actor.clone());
        let mut b = phone.fork().with_actor(actor);
        edit(&mut a, |tx| {
            record::append_note(tx, USER, 1, "a").expect("note")
        });
        edit(&mut b, |tx| {
            record::append_note(tx, USER, 2, "b").expect("note")
        });
        let heads = phone.get_heads();
        let server = push(
            &grid_staff(USER),
            ID,
            Some(&server),
            &changes_since(&a, &heads),
        )
        .expect("first")
        .doc;
        let (code, msg) = code_of(push(
            &grid_staff(USER),
            ID,
            Some(&server),
            &changes_since(&b, &heads),
        ));
        assert_eq!(code, RefusalCode::Malformed);
        assert!(msg.contains("same actor id was used twice"), "{msg}");
    }

    #[test]
    fn missing_deps_are_never_half_applied() {
        let mut phone = new_record(ActorId::random(), &sample(ID, USER));
        let created = phone.get_heads();
        edit(&mut phone, |tx| {
            record::append_note(tx, USER, 1, "一").expect("note")
        });
        let noted = phone.get_heads();
        edit(&mut phone, |tx| {
            record::append_note(tx, USER, 2, "二").expect("note")
        });

        // New record, first change left out.
        let later = changes_since(&phone, &created);
        let (code, msg) = code_of(push(&grid_staff(USER), ID, None, &later));
        assert_eq!(code, RefusalCode::MissingDeps);
        assert!(msg.contains(&hex::encode(created[0].0)), "{msg}");

        // Stored record, middle change left out: the last one alone cannot apply.
        let server = push(
            &grid_staff(USER),
            ID,
            None,
            &changes_since(&phone, &[])[..1],
        )
        .expect("create")
        .doc;
        let last = changes_since(&phone, &noted);
        let (code, _) = code_of(push(&grid_staff(USER), ID, Some(&server), &last));
        assert_eq!(code, RefusalCode::MissingDeps);
        // With the missing change included, in any order, it goes through.
        let mut both = changes_since(&phone, &created);
        both.reverse();
        let applied = push(&grid_staff(USER), ID, Some(&server), &both).expect("accepted");
        assert_eq!(applied.heads, phone.get_heads());
        // Stored in causal order even though pushed newest first.
        let order: Vec<ChangeHash> = applied.new_changes.iter().map(|c| c.hash).collect();
        let expected: Vec<ChangeHash> = phone
            .get_changes(&created)
            .iter()
            .map(Change::hash)
            .collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn invalid_document() {
        let user = grid_staff(USER);
        // Not a record at all.
        let mut doc = Automerge::new();
        edit(&mut doc, |tx| tx.put(ROOT, "hello", "world").expect("put"));
        let (code, msg) = code_of(push(&user, ID, None, &changes_since(&doc, &[])));
        assert_eq!(
            (code, msg.as_str()),
            (
                RefusalCode::InvalidDocument,
                "record 0f8fad5b-d9cb-469f-a165-70867728950e: field `schema` is missing"
            )
        );

        // A record under another document's id.
        let phone = new_record(ActorId::random(), &sample(ID2, USER));
        let (code, msg) = code_of(push(&user, ID, None, &changes_since(&phone, &[])));
        assert_eq!(code, RefusalCode::InvalidDocument);
        assert!(msg.contains("field `id`"), "{msg}");

        // A category the catalogue does not have.
        let mut fields = sample(ID, USER);
        fields.category = "city.ufo_landing".into();
        let phone = new_record(ActorId::random(), &fields);
        let (code, msg) = code_of(push(&user, ID, None, &changes_since(&phone, &[])));
        assert_eq!(code, RefusalCode::InvalidDocument);
        assert!(msg.contains("not in the catalogue"), "{msg}");

        // An empty push for a record the server does not have answers as one for a record
        // outside the caller's scope (`a_hidden_record_answers_as_an_unknown_one`).
        let (code, _) = code_of(push(&user, ID, None, &[]));
        assert_eq!(code, RefusalCode::OutOfScope);

        // A valid record broken by a later change.
        let (mut phone, server) = stored();
        let heads = phone.get_heads();
        edit(&mut phone, |tx| {
            tx.put(ROOT, "status", "lost").expect("put")
        });
        let (code, msg) = code_of(push(
            &user,
            ID,
            Some(&server),
            &changes_since(&phone, &heads),
        ));
        assert_eq!(code, RefusalCode::InvalidDocument);
        assert!(msg.contains("field `status` must be one of"), "{msg}");
    }

    #[test]
    fn retired_category_stays_valid_on_old_records() {
        let (mut phone, server) = stored();
        let heads = phone.get_heads();
        edit(&mut phone, |tx| {
            record::append_note(tx, USER, 1, "ok").expect("note")
        });
        let ctx = PushContext {
            principal: &grid_staff(USER),
            actor_owner: &no_owner,
            category: &|_| None,
            now: TEST_NOW,
        };
        assert!(apply_push(ID, Some(server), &changes_since(&phone, &heads), &ctx).is_ok());
    }

    #[test]
    fn out_of_scope() {
        // Creating a record in someone else's grid.
        let mut fields = sample(ID, USER);
        fields.grid = "/gusu/byw/ws1/jinzhu/g02".into();
        fields.sector = None;
        let phone = new_record(ActorId::random(), &fields);
        let (code, msg) = code_of(push(
            &grid_staff(USER),
            ID,
            None,
            &changes_since(&phone, &[]),
        ));
        assert_eq!(code, RefusalCode::OutOfScope);
        assert!(msg.contains("/gusu/byw/ws1/jinzhu/g02"), "{msg}");

        // Touching a stored record outside the caller's scope, even with nothing new.
        let (phone, server) = stored();
        let outsider = Principal {
            unit: "/gusu/pj".into(),
            role: Role::StreetSupervisor,
            ..grid_staff(OTHER_USER)
        };
        let (code, _) = code_of(push(&outsider, ID, Some(&server), &[]));
        assert_eq!(code, RefusalCode::OutOfScope);
        let (code, _) = code_of(push(
            &outsider,
            ID,
            Some(&server),
            &changes_since(&phone, &[]),
        ));
        assert_eq!(code, RefusalCode::OutOfScope);

        // Moving a record out of one's own scope.
        let mut phone = phone;
        let heads = phone.get_heads();
        edit(&mut phone, |tx| {
            tx.put(ROOT, "grid", "/gusu/byw/ws1/jinzhu/g03")
                .expect("put");
            tx.delete(ROOT, "sector").expect("del");
        });
        let (code, _) = code_of(push(
            &grid_staff(USER),
            ID,
            Some(&server),
            &changes_since(&phone, &heads),
        ));
        assert_eq!(code, RefusalCode::OutOfScope);

        // A leader whose sector the record is not in.
        let leader = Principal {
            role: Role::Leader,
            unit: format!("{GRID}/l1"),
            ..grid_staff(USER)
        };
        let (code, _) = code_of(push(&leader, ID, Some(&server), &[]));
        assert_eq!(code, RefusalCode::OutOfScope);
    }

    #[test]
    fn forbidden() {
        let handler = Principal {
            user_id: OTHER_USER,
            role: Role::DepartmentHandler,
            unit: "/gusu".into(),
            department: Some("/gusu:police".into()),
        };
        // A handler cannot create records, even one dispatched to their own department.
        let mut phone = new_record(ActorId::random(), &sample(ID, OTHER_USER));
        edit(&mut phone, |tx| {
            tx.put(ROOT, "department", "/gusu:police")
                .expect("department");
        });
        let (code, msg) = code_of(push(&handler, ID, None, &changes_since(&phone, &[])));
        assert_eq!(code, RefusalCode::Forbidden);
        assert!(msg.contains("cannot create"), "{msg}");

        // A new record reported in someone else's name.
        let phone = new_record(ActorId::random(), &sample(ID, OTHER_USER));
        let (code, msg) = code_of(push(
            &grid_staff(USER),
            ID,
            None,
            &changes_since(&phone, &[]),
        ));
        assert_eq!(code, RefusalCode::Forbidden);
        assert!(msg.contains("field `reported_by` is 8"), "{msg}");

        // Fields fixed at creation.
        let (phone, server) = stored();
        let heads = phone.get_heads();
        let cases: [(&str, automerge::ScalarValue); 3] = [
            ("kind", "need".into()),
            ("reported_by", OTHER_USER.into()),
            ("reported_at", 1_i64.into()),
        ];
        for (field, value) in cases {
            let mut edited = phone.fork();
            edit(&mut edited, |tx| tx.put(ROOT, field, value).expect("put"));
            let (code, msg) = code_of(push(
                &grid_staff(USER),
                ID,
                Some(&server),
                &changes_since(&edited, &heads),
            ));
            assert_eq!(code, RefusalCode::Forbidden, "{field}");
            assert!(
                msg.contains(&format!("field `{field}` cannot change")),
                "{msg}"
            );
        }
    }

    #[test]
    fn department_handler_works_on_dispatched_records() {
        use crate::workflow::{Action, Facts, Params, due_at, perform};
        let (phone, server) = stored();
        let community = Principal {
            user_id: 50,
            role: Role::CommunitySupervisor,
            unit: "/gusu/byw/ws1/jinzhu".into(),
            department: None,
        };
        // Acts on a fork the way a phone would, returning the new changes.
        let act = |doc: &Automerge, by: i64, steps: &[(Action, Params<'_>)]| {
            let mut d = doc.fork().with_actor(ActorId::random());
            let heads = d.get_heads();
            for (action, params) in steps {
                let rec = read_record(&d).expect("valid");
                let facts = Facts::of(&d, &rec, false);
                edit(&mut d, |tx| {
                    perform(tx, &facts, *action, by, TEST_NOW - 60_000, params).expect("perform")
                });
            }
            changes_since(&d, &heads)
        };
        drop(phone);
        let hours = crate::catalogue::find("city.garbage_exposed").map_or(0, |c| c.handling_hours);
        let accept = Params {
            due_at: Some(due_at(TEST_NOW - 60_000, hours, false)),
            ..Params::default()
        };
        let dispatch = Params {
            department: Some("/gusu:police"),
            ..Params::default()
        };
        let server = push(
            &community,
            ID,
            Some(&server),
            &act(
                &server,
                50,
                &[(Action::Accept, accept), (Action::Dispatch, dispatch)],
            ),
        )
        .expect("accepted and dispatched")
        .doc;
        let handler = Principal {
            user_id: OTHER_USER,
            role: Role::DepartmentHandler,
            unit: "/gusu".into(),
            department: Some("/gusu:police".into()),
        };
        // Closing is not the handler's to do.
        let close = act(&server, OTHER_USER, &[(Action::Close, Params::default())]);
        let (code, msg) = code_of(push(&handler, ID, Some(&server), &close));
        assert_eq!(code, RefusalCode::ForbiddenTransition, "{msg}");
        let back = Params {
            note: Some("已处置"),
            ..Params::default()
        };
        let applied = push(
            &handler,
            ID,
            Some(&server),
            &act(
                &server,
                OTHER_USER,
                &[
                    (Action::Start, Params::default()),
                    (Action::ReportBack, back),
                ],
            ),
        )
        .expect("handled");
        assert_eq!(applied.record.status, Status::Resolved);
        assert_eq!(applied.record.kind, Kind::Event);
    }

    #[test]
    fn foreign_actor() {
        let phone = new_record(ActorId::random(), &sample(ID, USER));
        let ctx = PushContext {
            principal: &grid_staff(USER),
            actor_owner: &|_| Some(OTHER_USER),
            category: &any_category,
            now: TEST_NOW,
        };
        let err = apply_push(ID, None, &changes_since(&phone, &[]), &ctx).expect_err("refused");
        assert_eq!(err.code, RefusalCode::ForeignActor);
        assert!(
            err.message.contains(&phone.get_actor().to_string()),
            "{}",
            err.message
        );

        // The caller's own, already bound actor is fine and not reported as new.
        let ctx = PushContext {
            actor_owner: &|_| Some(USER),
            ..ctx
        };
        let applied = apply_push(ID, None, &changes_since(&phone, &[]), &ctx).expect("accepted");
        assert!(applied.new_actors.is_empty());
    }

    #[test]
    fn too_large() {
        let phone = new_record(ActorId::random(), &sample(ID, USER));
        let one = changes_since(&phone, &[]).remove(0);
        let many = vec![one; MAX_CHANGES_PER_PUSH + 1];
        let (code, _) = code_of(push(&grid_staff(USER), ID, None, &many));
        assert_eq!(code, RefusalCode::TooLarge);
        let huge = vec![vec![0u8; MAX_BYTES_PER_PUSH + 1]];
        let (code, _) = code_of(push(&grid_staff(USER), ID, None, &huge));
        assert_eq!(code, RefusalCode::TooLarge);
    }

    #[test]
    fn compressed_changes_are_measured_before_inflating() {
        use std::io::Write;

        // A real change big enough for Automerge to compress is recognised and accepted.
        let phone = new_record(ActorId::random(), &sample(ID, USER));
        let compressed = changes_since(&phone, &[]).remove(0);
        let body = compressed_body(&compressed).expect("a compressed change chunk");
        let mut inflated = Vec::new();
        flate2::bufread::DeflateDecoder::new(body)
            .read_to_end(&mut inflated)
            .expect("inflates");
        assert!(inflated.len() > body.len());
        assert!(push(&grid_staff(USER), ID, None, &[compressed]).is_ok());

        // 40 MiB of zeros in a few kilobytes, dressed as a compressed change.
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..40 {
            encoder.write_all(&zeros).expect("compress");
        }
        let stream = encoder.finish().expect("compress");
        let mut bomb = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        let mut len = stream.len();
        while len >= 0x80 {
            bomb.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        bomb.push(len as u8);
        bomb.extend(&stream);
        assert!(bomb.len() < 100_000);
        let (code, msg) = code_of(push(&grid_staff(USER), ID, None, &[bomb]));
        assert_eq!(code, RefusalCode::TooLarge, "{msg}");
    }

    /// Two phones edit the same stored record offline: both type into the title, each sets a
    /// different field, both append notes. Pushed one after the other, nothing is lost.
    #[test]
    fn concurrent_edits_merge() {
        let (phone, server) = stored();
        let base = phone.get_heads();
        let staff2 = grid_staff(OTHER_USER);
        let mut a = phone.fork().with_actor(ActorId::random());
        let mut b = phone.fork().with_actor(ActorId::random());
        edit(&mut a, |tx| {
            record::set_text(tx, "title", "金筑苑3幢门口暴露垃圾，已拍照").expect("text");
            tx.put(ROOT, "urgency", "urgent").expect("put");
            record::append_note(tx, USER, 10, "A: 已通知保洁").expect("note");
        });
        edit(&mut b, |tx| {
            record::set_text(tx, "title", "紧急：金筑苑3幢门口暴露垃圾").expect("text");
            tx.put(ROOT, "household", "3-201").expect("put");
            record::append_note(tx, OTHER_USER, 11, "B: 居民反映有异味").expect("note");
        });
        let after_a = push(
            &grid_staff(USER),
            ID,
            Some(&server),
            &changes_since(&a, &base),
        )
        .expect("a accepted")
        .doc;
        let applied =
            push(&staff2, ID, Some(&after_a), &changes_since(&b, &base)).expect("b accepted");
        let merged = &applied.doc;
        let r = &applied.record;
        assert_eq!(r.title, "紧急：金筑苑3幢门口暴露垃圾，已拍照");
        assert_eq!(r.urgency, record::Urgency::Urgent);
        let household = match merged.get(ROOT, "household").expect("ok") {
            Some((automerge::Value::Scalar(s), _)) => s.as_str().map(str::to_owned),
            _ => None,
        };
        assert_eq!(household.as_deref(), Some("3-201"));
        let (_, notes) = merged.get(ROOT, "notes").expect("ok").expect("notes");
        assert_eq!(merged.length(&notes), 2);
        // The phones converge on the server's document.
        a.merge(&mut b).expect("merge");
        assert_eq!(a.get_heads(), applied.heads);
        assert_eq!(record::read_record(&a).as_ref(), Ok(r));
    }

    /// A small deterministic generator, so the noise is the same on every run.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// No input makes `apply_push` panic: noise, every truncation and every single-byte
    /// corruption of real changes, alone and on top of a stored record.
    #[test]
    fn never_panics() {
        let (mut phone, server) = stored();
        let base = phone.get_heads();
        edit(&mut phone, |tx| {
            record::append_note(tx, USER, 1, "一条很长的备注".repeat(40).as_str()).expect("note");
            record::set_text(tx, "title", "改过的标题").expect("text");
        });
        let create = changes_since(&phone, &[]).remove(0);
        let update = changes_since(&phone, &base).remove(0);
        let user = grid_staff(USER);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);

        for _ in 0..300 {
            let len = (rng.next() % 300) as usize;
            let mut noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if rng.next().is_multiple_of(2) && noise.len() >= 4 {
                noise[..4].copy_from_slice(&[0x85, 0x6f, 0x4a, 0x83]); // Automerge's magic bytes
            }
            let _ = push(&user, ID, None, &[noise.clone()]);
            let _ = push(&user, ID, Some(&server), &[noise]);
        }
        for change in [&create, &update] {
            for cut in 0..change.len() {
                let r = push(&user, ID, Some(&server), &[change[..cut].to_vec()]);
                assert_eq!(r.expect_err("truncated").code, RefusalCode::Malformed);
            }
            for pos in 0..change.len() {
                let mut bad = change.clone();
                bad[pos] ^= 1 << (rng.next() % 8);
                let _ = push(&user, ID, None, &[bad.clone()]);
                let _ = push(&user, ID, Some(&server), &[bad]);
            }
        }
    }

    /// A well-formed change whose operations point at an object the document never had
    /// (its dependency stripped and re-hashed): refused, not applied, no panic.
    #[test]
    fn change_pointing_at_unknown_object_is_refused() {
        let (mut phone, server) = stored();
        let heads = phone.get_heads();
        edit(&mut phone, |tx| {
            let (_, loc) = tx.get(ROOT, "location").expect("ok").expect("location");
            tx.put(&loc, "accuracy_m", 3_i64).expect("put");
        });
        let mut change = phone.get_changes(&heads).remove(0).decode();
        change.deps.clear();
        change.hash = None;
        change.actor_id = ActorId::random();
        change.seq = 1;
        let mut forged = Change::from(change);
        let bytes = forged.bytes().into_owned();

        // Onto a new document, where the location map does not exist.
        let (code, msg) = code_of(push(
            &grid_staff(USER),
            ID,
            None,
            std::slice::from_ref(&bytes),
        ));
        assert_eq!(code, RefusalCode::Malformed, "{msg}");
        // Onto another stored record, whose location map has a different id.
        let other = new_record(ActorId::random(), &sample(ID2, USER));
        let other_server = push(&grid_staff(USER), ID2, None, &changes_since(&other, &[]))
            .expect("created")
            .doc;
        let (code, msg) = code_of(push(&grid_staff(USER), ID2, Some(&other_server), &[bytes]));
        assert_eq!(code, RefusalCode::Malformed, "{msg}");
        // The original record is untouched by any of this.
        assert_eq!(
            record::read_record(&server).map(|r| r.location.and_then(|l| l.accuracy_m)),
            Ok(Some(8.0))
        );
    }

    // Issue #11: each of these pushes was accepted before ingest read changes' operations,
    // judged every workflow step and compared the stored record with the merged one.

    const SUPERVISOR: i64 = 4;
    const SECTOR: &str = "/gusu/byw/ws1/jinzhu/g01/b1";

    fn leader(user_id: i64) -> Principal {
        Principal {
            user_id,
            role: Role::Leader,
            unit: SECTOR.into(),
            department: None,
        }
    }

    fn community_supervisor() -> Principal {
        Principal {
            user_id: SUPERVISOR,
            role: Role::CommunitySupervisor,
            unit: "/gusu/byw/ws1/jinzhu".into(),
            department: None,
        }
    }

    /// A record reported by a building leader and stored by the server.
    fn stored_by_leader() -> Automerge {
        let phone = new_record(ActorId::random(), &sample(ID, USER));
        push(&leader(USER), ID, None, &changes_since(&phone, &[]))
            .expect("accepted")
            .doc
    }

    fn timeline_entry(tx: &mut automerge::transaction::Transaction<'_>, action: &str, by: i64) {
        record::append_timeline(tx, action, by, TEST_NOW - 60_000, None).expect("timeline");
    }

    #[test]
    fn split_changes_cannot_set_the_workflow() {
        let server = stored_by_leader();
        let heads = server.get_heads();
        // A: drops the category (so its own state is no record) and dispatches as the
        // supervisor; B, concurrent: puts the category back.
        let mut a = server.fork().with_actor(ActorId::random());
        edit(&mut a, |tx| {
            tx.delete(ROOT, "category").expect("delete");
            tx.put(ROOT, "status", "dispatched").expect("status");
            tx.put(ROOT, "level", "district").expect("level");
            tx.put(ROOT, "department", "/gusu:police")
                .expect("department");
            timeline_entry(tx, "dispatch", SUPERVISOR);
        });
        let mut b = server.fork().with_actor(ActorId::random());
        edit(&mut b, |tx| {
            tx.put(ROOT, "category", "city.garbage_overflow")
                .expect("category");
        });
        let mut both = changes_since(&a, &heads);
        both.extend(changes_since(&b, &heads));
        let (code, msg) = code_of(push(&leader(USER), ID, Some(&server), &both));
        assert_eq!(code, RefusalCode::ForbiddenTransition, "{msg}");

        // The same without the timeline entry: a plain change of the workflow fields.
        let mut a = server.fork().with_actor(ActorId::random());
        edit(&mut a, |tx| {
            tx.delete(ROOT, "category").expect("delete");
            tx.put(ROOT, "status", "closed").expect("status");
        });
        let mut both = changes_since(&a, &heads);
        both.extend(changes_since(&b, &heads));
        let (code, _) = code_of(push(&leader(USER), ID, Some(&server), &both));
        assert_eq!(code, RefusalCode::ForbiddenTransition);
    }

    #[test]
    fn dependency_less_halves_cannot_make_a_dispatched_record() {
        let mut a = Automerge::new().with_actor(ActorId::random());
        let full = new_record(ActorId::random(), &sample(ID, USER));
        let record = read_record(&full).expect("valid");
        edit(&mut a, |tx| {
            tx.put(ROOT, "status", "dispatched").expect("status");
            tx.put(ROOT, "department", "/gusu:police")
                .expect("department");
            tx.put(ROOT, "level", "district").expect("level");
        });
        // The rest of a record, made apart: together they read as a whole record.
        let b = new_record(ActorId::random(), &sample(ID, USER));
        let mut both = changes_since(&a, &[]);
        both.extend(changes_since(&b, &[]));
        let result = push(&leader(USER), ID, None, &both);
        assert!(
            result.is_err(),
            "accepted a record made {:?}",
            record.status
        );
    }

    #[test]
    fn history_cannot_be_forged_or_rewritten() {
        let mut phone = new_record(ActorId::random(), &sample(ID, USER));
        edit(&mut phone, |tx| {
            record::append_note(tx, USER, TEST_NOW - 1000, "原文").expect("note")
        });
        let server = push(&leader(USER), ID, None, &changes_since(&phone, &[]))
            .expect("accepted")
            .doc;
        let heads = server.get_heads();
        let refused = |f: &dyn Fn(&mut automerge::transaction::Transaction<'_>)| {
            let mut d = server.fork().with_actor(ActorId::random());
            edit(&mut d, |tx| f(tx));
            code_of(push(
                &leader(USER),
                ID,
                Some(&server),
                &changes_since(&d, &heads),
            ))
        };
        let obj = |tx: &automerge::transaction::Transaction<'_>, list: &str, i: usize| {
            let (_, l) = tx.get(ROOT, list).expect("get").expect("list");
            tx.get(&l, i).expect("get").expect("item").1
        };
        // A note signed by someone else.
        let (code, msg) = refused(&|tx| {
            record::append_note(tx, OTHER_USER, TEST_NOW - 1000, "冒名").expect("note")
        });
        assert_eq!(code, RefusalCode::Forbidden, "{msg}");
        assert!(msg.contains("`by`"), "{msg}");
        // Someone's note edited or re-signed, a timeline entry edited, removed or swapped.
        for f in [
            &(|tx: &mut automerge::transaction::Transaction<'_>| {
                let note = obj(tx, "notes", 0);
                tx.put(&note, "text", "改写").expect("put");
            }) as &dyn Fn(&mut automerge::transaction::Transaction<'_>),
            &|tx| {
                let note = obj(tx, "notes", 0);
                tx.put(&note, "by", OTHER_USER).expect("put");
            },
            &|tx| {
                let e = obj(tx, "timeline", 0);
                tx.put(&e, "at", 1).expect("put");
            },
            &|tx| {
                let (_, l) = tx.get(ROOT, "timeline").expect("get").expect("list");
                tx.delete(&l, 0).expect("delete");
            },
            &|tx| {
                let (_, l) = tx.get(ROOT, "timeline").expect("get").expect("list");
                tx.delete(&l, 0).expect("delete");
                let e = tx
                    .insert_object(&l, 0, automerge::ObjType::Map)
                    .expect("insert");
                tx.put(&e, "action", "close").expect("put");
                tx.put(&e, "by", USER).expect("put");
                tx.put(&e, "at", TEST_NOW).expect("put");
            },
        ] {
            let (code, msg) = refused(f);
            assert_eq!(code, RefusalCode::Forbidden, "{msg}");
        }
    }

    #[test]
    fn workflow_steps_are_dated_by_the_servers_clock() {
        let server = stored_by_leader();
        let heads = server.get_heads();
        let accept_at = |at: i64| {
            let mut tablet = server.fork().with_actor(ActorId::random());
            let record = read_record(&tablet).expect("valid");
            let facts = workflow::Facts::of(&tablet, &record, false);
            let mut tx = tablet.transaction();
            let hours =
                crate::catalogue::find("city.garbage_exposed").map_or(0, |c| c.handling_hours);
            let params = workflow::Params {
                due_at: Some(workflow::due_at(at, hours, false)),
                ..Default::default()
            };
            workflow::perform(
                &mut tx,
                &facts,
                workflow::Action::Accept,
                SUPERVISOR,
                at,
                &params,
            )
            .expect("perform");
            tx.commit();
            push(
                &community_supervisor(),
                ID,
                Some(&server),
                &changes_since(&tablet, &heads),
            )
        };
        if let Err(r) = accept_at(TEST_NOW - 60_000) {
            panic!("a plausible accept is refused: {r}");
        }
        for at in [
            TEST_NOW + 3_600_000,                    // in the future
            1_717_000_000_000 - 1,                   // before the report
            TEST_NOW - workflow::MAX_OFFLINE_MS - 1, // implausibly old
        ] {
            let (code, msg) = code_of(accept_at(at));
            assert_eq!(code, RefusalCode::ForbiddenTransition, "{at}: {msg}");
            assert!(msg.contains("dated"), "{msg}");
        }
        // A record reported in the future.
        let mut fields = sample(ID2, USER);
        fields.reported_at = TEST_NOW + 3_600_000;
        let phone = new_record(ActorId::random(), &fields);
        let (code, _) = code_of(push(&leader(USER), ID2, None, &changes_since(&phone, &[])));
        assert_eq!(code, RefusalCode::ForbiddenTransition);
    }

    #[test]
    fn a_hidden_record_answers_as_an_unknown_one() {
        let server = stored_by_leader();
        let outsider = Principal {
            user_id: OTHER_USER,
            role: Role::GridStaff,
            unit: "/gusu/byw/ws1/jinzhu/g02".into(),
            department: None,
        };
        let unknown = code_of(push(&outsider, ID2, None, &[]));
        let (code, msg) = code_of(push(&outsider, ID, Some(&server), &[]));
        assert_eq!(code, unknown.0);
        assert_eq!(msg.replace(ID, ID2), unknown.1);
    }

    #[test]
    fn a_record_has_a_size_cap() {
        let (mut phone, mut server) = stored();
        let mut refused = None;
        for round in 0..4 {
            let heads = phone.get_heads();
            edit(&mut phone, |tx| {
                let junk: Vec<u8> = (0..900_000u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                tx.put(ROOT, format!("junk{round}"), junk).expect("put");
            });
            match push(
                &grid_staff(USER),
                ID,
                Some(&server),
                &changes_since(&phone, &heads),
            ) {
                Ok(applied) => server = applied.doc,
                Err(r) => {
                    refused = Some(r);
                    break;
                }
            }
        }
        let refusal = refused.expect("a record cannot grow without bound");
        assert_eq!(refusal.code, RefusalCode::TooLarge, "{}", refusal.message);
    }

    #[test]
    fn a_change_that_does_not_load_back_is_refused() {
        let (mut phone, server) = stored();
        let heads = phone.get_heads();
        edit(&mut phone, |tx| {
            record::append_note(tx, USER, TEST_NOW - 1000, "补充").expect("note")
        });
        let mut change = phone.get_changes(&heads)[0].clone();
        let bad = crate::testing::with_surplus_bytes(change.raw_bytes());
        // It does decode: the bytes are a valid change to Automerge.
        let decoded = Change::try_from(bad.as_slice()).expect("decodes");
        assert_ne!(decoded.hash(), change.hash());
        let _ = change.bytes();
        let (code, msg) = code_of(push(&grid_staff(USER), ID, Some(&server), &[bad]));
        assert_eq!(code, RefusalCode::Malformed, "{msg}");
        assert!(msg.contains("load back"), "{msg}");
    }
}
