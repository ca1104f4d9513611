//! Background jobs, run every `jobs_interval_secs` by [`run`]. The escalation job (督办):
//! records left unaccepted too long go up a level and are marked urged; records past their
//! handling deadline are urged (and go up when the rules allow). Which records, from the
//! projection (`Db::neglected`); what it does to each, `records::escalate`. Then the
//! collection of orphan photos and abandoned uploads.

use crate::AppState;
use crate::db::{DbError, now_ms};
use automerge::ActorId;
use std::time::Duration;

/// How many neglected records one run handles at most; the rest wait for the next run.
const BATCH: usize = 500;

/// The server's actor id, made once and kept in the database.
pub async fn server_actor(state: &AppState) -> Result<ActorId, DbError> {
    server_actor_of(&state.db).await
}

pub async fn server_actor_of(db: &crate::db::Db) -> Result<ActorId, DbError> {
    let bytes = db
        .setting_or_insert("server_actor", ActorId::random().to_bytes().to_vec())
        .await?;
    Ok(ActorId::from(bytes))
}

/// One pass as of `now` (ms). Returns how many records it escalated or urged.
pub async fn escalate_once(state: &AppState, now: i64) -> Result<usize, DbError> {
    let actor = server_actor(state).await?;
    let hour = 3_600_000;
    let unaccepted_before = now - state.config.escalate_after_hours as i64 * hour;
    let overdue_before = now - state.config.urge_overdue_after_hours as i64 * hour;
    let mut done = 0;
    for (id, why) in state
        .db
        .neglected(unaccepted_before, overdue_before, BATCH)
        .await?
    {
        // One record that cannot be escalated (a damaged document, say) must not stop the
        // pass for all the others.
        let actions = match state
            .records
            .escalate(actor.clone(), id.clone(), why, now)
            .await
        {
            Ok(actions) => actions,
            Err(e) => {
                tracing::error!(record = %id, error = %e, "escalation job skipped a record");
                continue;
            }
        };
        if !actions.is_empty() {
            tracing::info!(record = %id, ?why, ?actions, "escalation job acted");
            done += 1;
        }
    }
    Ok(done)
}

/// Removes photos no record references once they are older than the grace period (a
/// phone may still be about to push the record that references a photo it uploaded
/// first), and uploads abandoned half-way once untouched for `upload_expiry_minutes`: a
/// phone resumes within minutes, and until removed they count against their uploader's
/// quota. Returns how many photos it removed.
pub async fn collect_blobs_once(state: &AppState, now: i64) -> Result<usize, DbError> {
    let grace = state.config.blob_grace_hours;
    let mut removed = 0;
    for sha in state
        .db
        .orphan_blobs(now - grace as i64 * 3_600_000, BATCH)
        .await?
    {
        // The row goes first: a blob without a row is invisible and re-uploadable, while a
        // row without its file would be served as missing.
        if state.db.forget_orphan(sha.clone()).await? {
            let store = state.blobs.clone();
            let s = sha.clone();
            let gone = tokio::task::spawn_blocking(move || store.remove(&s)).await;
            if !matches!(gone, Ok(Ok(()))) {
                tracing::warn!(blob = %sha, "could not remove an orphan photo file");
            }
            removed += 1;
        }
    }
    let store = state.blobs.clone();
    let expiry_ms = state.config.upload_expiry_minutes as i64 * 60_000;
    let cutoff = std::time::UNIX_EPOCH + Duration::from_millis((now - expiry_ms).max(0) as u64);
    if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || store.sweep_partials(cutoff)).await
        && n > 0
    {
        tracing::info!(uploads = n, "removed abandoned partial uploads");
    }
    Ok(removed)
}

/// Runs the jobs every `jobs_interval_secs` until the task is dropped.
pub async fn run(state: AppState) {
    let mut tick =
        tokio::time::interval(Duration::from_secs(state.config.jobs_interval_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = escalate_once(&state, now_ms()).await {
            tracing::error!(error = %e, "escalation job failed; it runs again at the next tick");
        }
        if let Err(e) = collect_blobs_once(&state, now_ms()).await {
            tracing::error!(error = %e, "photo collection failed; it runs again at the next tick");
        }
    }
}
