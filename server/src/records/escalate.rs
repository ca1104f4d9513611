//! The escalation job's changes (督办): which actions the server takes on a neglected record
//! and the note it writes, made with the server's own actor and written through the same
//! commit as any push, so they sync, merge and show in the timeline like anyone's. The
//! job that finds the records and runs this is `jobs::escalate_once`.

use super::{Records, load_stored, server_change};
use crate::db::DbError;
use crate::db::docs::{Committed, DocWrite, StoredDoc};
use automerge::ActorId;
use haitang_sync::record::{Record, read_record};
use haitang_sync::workflow::{self, Action, Facts, Params, Who};

/// Why the escalation job looks at a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neglect {
    /// Reported and not accepted for too long.
    Unaccepted,
    /// Past its handling deadline and not urged yet.
    Overdue,
}

impl Neglect {
    /// The note on the server's timeline entries, in Chinese for the staff and in English
    /// for anyone else reading the console.
    fn note(self) -> &'static str {
        match self {
            Neglect::Unaccepted => {
                "超时未受理，系统自动升级督办 (not accepted in time: escalated and urged)"
            }
            Neglect::Overdue => "超过处置时限，系统自动督办 (past the handling deadline: urged)",
        }
    }
}

/// The actions the server takes: escalate whenever the rules allow it; urge once.
fn actions(record: &Record, facts: &Facts) -> Vec<Action> {
    [Action::Escalate, Action::Urge]
        .into_iter()
        .filter(|&action| action != Action::Urge || !record.urged)
        .filter(|&action| workflow::check(Who::Server, facts, action).is_ok())
        .collect()
}

impl Records {
    /// Escalates and urges one neglected record with the server's own actor. Returns the
    /// actions taken (none if the record moved on meanwhile).
    pub async fn escalate(
        &self,
        server_actor: ActorId,
        doc_id: String,
        why: Neglect,
        now: i64,
    ) -> Result<Vec<Action>, DbError> {
        let Some(stored) = self.db.stored_doc(doc_id.clone()).await? else {
            return Ok(Vec::new());
        };
        let made = self
            .compute(move || change(stored, server_actor, doc_id, why, now))
            .await??;
        let Some((write, actions)) = made else {
            return Ok(Vec::new());
        };
        match self.db.commit(None, vec![write]).await?.pop() {
            Some(Committed::Ok { .. }) => Ok(actions),
            // Someone acted on the record meanwhile: the next run looks again.
            Some(Committed::Stale | Committed::ForeignActor { .. }) | None => Ok(Vec::new()),
        }
    }
}

/// The server's change to the stored record, if the rules let it take any action.
fn change(
    stored: StoredDoc,
    server_actor: ActorId,
    doc_id: String,
    why: Neglect,
    now: i64,
) -> Result<Option<(DocWrite, Vec<Action>)>, DbError> {
    let Some(doc) = load_stored(&stored.state) else {
        return Err(DbError::Corrupt(format!(
            "stored document {doc_id} does not load; run `haitang records check`"
        )));
    };
    let mut doc = doc.with_actor(server_actor);
    let record = read_record(&doc)
        .map_err(|e| DbError::Corrupt(format!("stored record {doc_id} is invalid: {e}")))?;
    let facts = Facts::of(&doc, &record, false);
    let actions = actions(&record, &facts);
    if actions.is_empty() {
        return Ok(None);
    }
    let mut tx = doc.transaction();
    for action in &actions {
        // Each action sees the facts as the previous one left them.
        let params = Params {
            note: Some(why.note()),
            ..Default::default()
        };
        workflow::perform(&mut tx, &facts, *action, 0, now, &params)
            .map_err(|e| DbError::Corrupt(format!("escalating {doc_id}: {e}")))?;
    }
    tx.commit();
    Ok(server_change(
        doc,
        haitang_sync::doctype::DocType::Record,
        doc_id,
        stored.seq,
    )?
    .map(|w| (w, actions)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::fixture;
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};
    use haitang_sync::protocol::PushDoc;
    use serde_bytes::ByteBuf;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    fn with(
        doc: &Automerge,
        f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) -> Automerge {
        let mut doc = doc.fork();
        let mut tx = doc.transaction();
        f(&mut tx);
        tx.commit();
        doc
    }

    fn actions_of(doc: &Automerge) -> Vec<Action> {
        let record = read_record(doc).expect("valid");
        actions(&record, &Facts::of(doc, &record, false))
    }

    #[test]
    fn the_server_escalates_while_the_rules_allow_and_urges_once() {
        let reported = haitang_sync::record::new_record(ActorId::random(), &fixture::record(ID, 7));
        assert_eq!(actions_of(&reported), [Action::Escalate, Action::Urge]);
        let urged = with(&reported, |tx| tx.put(ROOT, "urged", true).expect("put"));
        assert_eq!(actions_of(&urged), [Action::Escalate]);
        let at_the_top = with(&reported, |tx| {
            tx.put(ROOT, "level", "district").expect("put")
        });
        assert_eq!(actions_of(&at_the_top), [Action::Urge]);
        let closed = with(&reported, |tx| {
            tx.put(ROOT, "status", "closed").expect("put")
        });
        assert!(actions_of(&closed).is_empty());
    }

    #[tokio::test]
    async fn an_escalation_is_a_change_by_the_server_with_its_note() {
        let (_dir, db) = fixture::open().await;
        let records = Records::new(db.clone(), 1);
        let staff = fixture::grid_staff(&db, "staff").await;
        let who = db.user(staff).await.expect("db").expect("user").principal();
        let phone =
            haitang_sync::record::new_record(ActorId::random(), &fixture::record(ID, staff));
        let changes = phone
            .get_changes(&[])
            .into_iter()
            .map(|mut c| ByteBuf::from(c.bytes().into_owned()))
            .collect();
        let pushed = records
            .push(
                &who,
                vec![PushDoc {
                    doc: ID.into(),
                    doc_type: None,
                    changes,
                }],
            )
            .await
            .expect("push");
        assert!(pushed[0].ok);
        let actor = ActorId::random();
        let now = crate::db::now_ms();
        let done = records
            .escalate(actor.clone(), ID.into(), Neglect::Unaccepted, now)
            .await
            .expect("escalate");
        assert_eq!(done, [Action::Escalate, Action::Urge]);
        let stored = db.stored_doc(ID.into()).await.expect("db").expect("stored");
        let doc = Automerge::load(&stored.state).expect("loads");
        let record = read_record(&doc).expect("valid");
        assert!(record.urged);
        let last = workflow::timeline(&doc).pop().expect("an entry");
        assert_eq!((last.by, last.at), (0, now));
        assert_eq!(last.note.as_deref(), Some(Neglect::Unaccepted.note()));
        // The server's actor is bound to no user, so no phone can ever use it.
        assert!(db.actor_users(vec![actor]).await.expect("db").is_empty());
        // A record that is not there is left alone.
        let none = records
            .escalate(
                ActorId::random(),
                "7c9e6679-7425-40de-944b-e07fc1f90ae7".into(),
                Neglect::Overdue,
                now,
            )
            .await
            .expect("escalate");
        assert!(none.is_empty());
    }
}
