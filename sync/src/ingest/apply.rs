//! Step 3: the changes the server lacks, applied to a copy of the stored document in one
//! call, none of them missing a dependency.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use automerge::{Automerge, AutomergeError, Change, ChangeHash, ReadDoc};

use super::{Decoded, NewChange, Refusal, RefusalCode, guarded, refuse};
use crate::doctype::DocKind;
use crate::record::SchemaError;

/// The document with the push applied, and what the later steps judge it by.
pub(super) struct Merged<K: DocKind> {
    pub doc: Automerge,
    /// The push's changes in causal order, as applied: what `DocKind::check_changes` reads.
    pub changes: Vec<Change>,
    /// What the type took from the document before the push (`DocKind::before`).
    pub known: K::Before,
    /// The push's changes in causal order, to store.
    pub new_changes: Vec<NewChange>,
    /// The merged document read through its type's schema (judged by
    /// `validate::check_value`).
    pub value: Result<K::Value, SchemaError>,
}

/// The decoded changes `stored` does not have yet, each once. A phone that lost the
/// previous response pushes the same changes again.
pub(super) fn fresh(decoded: Decoded, stored: Option<&Automerge>) -> Vec<(usize, Vec<u8>, Change)> {
    let mut changes = decoded.changes;
    let mut seen = HashSet::with_capacity(changes.len());
    changes.retain(|(_, _, change)| {
        let hash = change.hash();
        seen.insert(hash) && !stored.is_some_and(|doc| has_change(doc, hash))
    });
    changes
}

/// Applies `fresh` (not empty) to `doc`, the stored document or a new one.
pub(super) fn apply<K: DocKind>(
    doc_id: &str,
    mut doc: Automerge,
    fresh: Vec<(usize, Vec<u8>, Change)>,
) -> Result<Merged<K>, Refusal> {
    let what = K::TYPE;
    let ordered = causal_order(fresh);
    let mut new_changes = Vec::with_capacity(ordered.len());
    let mut batch = Vec::with_capacity(ordered.len());
    for (_, bytes, change) in ordered {
        new_changes.push(NewChange {
            hash: change.hash(),
            bytes,
            actor: change.actor_id().clone(),
        });
        batch.push(change);
    }
    let known = K::before(&doc);
    // Kept to judge workflow actions change by change, in the applied document's history.
    let changes = batch.clone();
    let outcome = guarded(move || {
        // One call for the whole push: applying is the expensive part, and a batch is
        // applied far faster than the same changes one by one.
        doc.apply_changes(batch)?;
        // Changes whose dependencies are missing wait in the document's queue instead of
        // failing; they are refused below, so that nothing half-applied is ever stored.
        let missing = doc.get_missing_deps(&[]);
        let value = K::read(&doc);
        Ok::<_, AutomergeError>((doc, missing, value))
    });
    let (doc, missing, value) = match outcome {
        Some(Ok(applied)) => applied,
        Some(Err(e)) => return Err(apply_error(what, doc_id, e)),
        None => {
            return refuse(
                RefusalCode::Malformed,
                format!(
                    "{what} {doc_id}: the changes do not fit the {what}'s history and could not be applied"
                ),
            );
        }
    };
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(3).map(|h| hex::encode(h.0)).collect();
        let more = if missing.len() > 3 { ", …" } else { "" };
        return refuse(
            RefusalCode::MissingDeps,
            format!(
                "the push for {what} {doc_id} depends on {} change(s) the server does not have ({}{more}); push all of the {what}'s unconfirmed changes together",
                missing.len(),
                shown.join(", ")
            ),
        );
    }
    Ok(Merged {
        doc,
        changes,
        known,
        new_changes,
        value,
    })
}

/// Whether `doc` already holds the change with this hash. A stored document has no queued
/// changes, so asking which of `[hash]` is missing answers exactly that, without
/// materialising the change as `get_change_by_hash` would.
fn has_change(doc: &Automerge, hash: ChangeHash) -> bool {
    doc.get_missing_deps(&[hash]).is_empty()
}

/// Sorts changes so each comes after those of its dependencies that are also in the push,
/// keeping the phone's order otherwise (Kahn's algorithm, smallest original index first).
fn causal_order<T>(changes: Vec<(usize, T, Change)>) -> Vec<(usize, T, Change)> {
    let index: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(pos, (_, _, c))| (c.hash(), pos))
        .collect();
    let mut waiting_on = vec![0usize; changes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (pos, (_, _, change)) in changes.iter().enumerate() {
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
    let mut slots: Vec<Option<(usize, T, Change)>> = changes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|p| slots[p].take()).collect()
}

fn apply_error(what: crate::doctype::DocType, doc_id: &str, e: AutomergeError) -> Refusal {
    let message = match e {
        AutomergeError::DuplicateSeqNumber(seq, actor) => format!(
            "{what} {doc_id}: actor {actor} already made a different change number {seq}; the same actor id was used twice (an app restored from a backup must start a new actor id)"
        ),
        other => format!("{what} {doc_id}: the changes could not be applied: {other}"),
    };
    Refusal::new(RefusalCode::Malformed, message)
}
