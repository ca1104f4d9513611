//! Pushing: each document of a request judged and written on its own.
//!
//! For a request: decode every document's changes (`sync::ingest::decode`), look up the
//! catalogue and who the changes' actors belong to, then for each document load the stored
//! document, judge the push on a worker thread as the type it names
//! (`sync::ingest::apply_push` with that type's `DocKind`; [`judge`] is where a type is
//! picked), ask the org tree about its position, assignee and photos, and hand every
//! accepted document to the writer at once. The writer re-checks the document's `seq` and
//! the actors; a document that changed underneath is prepared again, up to
//! [`MAX_ATTEMPTS`] times, then answered `busy`. Nothing refused reaches the writer.

use super::projection::{Place, Projected, Projection, Times};
use super::{Records, damaged, load_stored};
use crate::db::docs::{Committed, DocWrite, StoredDoc};
use crate::db::org::OrgPlace;
use crate::db::users::User;
use crate::db::{DbError, now_ms};
use automerge::{ActorId, Automerge};
use haitang_sync::doctype::DocType;
use haitang_sync::household::HouseholdKind;
use haitang_sync::ingest::{self, Applied, Decoded, PushContext, Refusal, RefusalCode};
use haitang_sync::protocol::{PushDoc, PushResult};
use haitang_sync::record::RecordKind;
use haitang_sync::scope::{Principal, Role, UnitKind, parent_path};
use haitang_sync::workflow::CategoryRules;
use serde_bytes::ByteBuf;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A push that keeps losing races on the same document gives up after this many tries and
/// asks the client to send it again.
pub const MAX_ATTEMPTS: usize = 5;

/// A push judged acceptable, with what the org tree and the photo store must still
/// confirm.
struct Judged {
    write: DocWrite,
    refs: Refs,
}

/// What an accepted push newly names that only storage can confirm, whatever the
/// document's type: the sans-IO check knows users and photos only by their shape.
#[derive(Debug, Default)]
struct Refs {
    /// A user the push newly assigns the document to.
    assignee: Option<i64>,
    /// Photos the document names that it did not name before.
    photos: Vec<String>,
    /// People a household newly lists, who must not be listed by another household.
    members: Vec<String>,
}

/// What the types' checks need from storage, read once per request (`DocKind::Facts`).
struct Facts {
    categories: HashMap<String, CategoryRules>,
}

impl Records {
    /// Pushes each document atomically; one refused document does not affect the others.
    /// One result per document, in push order.
    pub async fn push(
        &self,
        principal: &Principal,
        docs: Vec<PushDoc>,
    ) -> Result<Vec<PushResult>, DbError> {
        let ids: Vec<String> = docs.iter().map(|d| d.doc.clone()).collect();
        let mut results: Vec<Option<PushResult>> = vec![None; docs.len()];
        let decoded = self
            .compute(move || {
                docs.into_iter()
                    .map(|d| {
                        let changes = d.changes.into_iter().map(ByteBuf::into_vec).collect();
                        ingest::decode(d.doc_type.as_deref(), &d.doc, changes)
                    })
                    .collect::<Vec<_>>()
            })
            .await?;
        let mut pending: Vec<(usize, Decoded)> = Vec::with_capacity(decoded.len());
        for (i, d) in decoded.into_iter().enumerate() {
            match d {
                Ok(d) => pending.push((i, d)),
                Err(refusal) => results[i] = Some(PushResult::refused(ids[i].clone(), &refusal)),
            }
        }
        if !pending.is_empty() {
            let facts = Arc::new(Facts {
                categories: self.db.category_rules().await?,
            });
            for _ in 0..MAX_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                pending = self
                    .attempt(principal, pending, &facts, &mut results)
                    .await?;
            }
        }
        for (i, _) in pending {
            let refusal = Refusal::new(
                RefusalCode::Busy,
                "others kept changing this document at the same moment; send it again",
            );
            results[i] = Some(PushResult::refused(ids[i].clone(), &refusal));
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// Prepares and writes every pending document once; returns those that went stale.
    async fn attempt(
        &self,
        principal: &Principal,
        pending: Vec<(usize, Decoded)>,
        facts: &Arc<Facts>,
        results: &mut [Option<PushResult>],
    ) -> Result<Vec<(usize, Decoded)>, DbError> {
        let mut seen = HashSet::new();
        let actors: Vec<ActorId> = pending
            .iter()
            .flat_map(|(_, d)| d.actors())
            .filter(|a| seen.insert(a.clone()))
            .collect();
        let actor_users = Arc::new(self.db.actor_users(actors).await?);
        let mut writes = Vec::with_capacity(pending.len());
        let mut written = Vec::with_capacity(pending.len());
        for (i, decoded) in pending {
            let doc_id = decoded.doc_id().to_owned();
            let prepared = self
                .prepare(principal, decoded.clone(), &actor_users, facts)
                .await?;
            match prepared {
                Ok(write) => {
                    writes.push(write);
                    written.push((i, decoded));
                }
                Err(refusal) => results[i] = Some(PushResult::refused(doc_id, &refusal)),
            }
        }
        let committed = self.db.commit(Some(principal.user_id), writes).await?;
        let mut stale = Vec::new();
        for ((i, decoded), outcome) in written.into_iter().zip(committed) {
            let doc_id = decoded.doc_id();
            results[i] = Some(match outcome {
                Committed::Ok { heads } => PushResult::accepted(doc_id, &heads),
                Committed::ForeignActor { actor, change } => {
                    let refusal = Refusal::new(
                        RefusalCode::ForeignActor,
                        format!(
                            "change {change} was made by actor {actor} which belongs to another user"
                        ),
                    );
                    PushResult::refused(doc_id, &refusal)
                }
                Committed::Stale => {
                    stale.push((i, decoded));
                    continue;
                }
            });
        }
        Ok(stale)
    }

    /// Judges one document's push against the stored document. `Ok(Err(_))` is a refusal
    /// to send back; nothing is stored either way.
    async fn prepare(
        &self,
        principal: &Principal,
        decoded: Decoded,
        actor_users: &Arc<HashMap<ActorId, i64>>,
        facts: &Arc<Facts>,
    ) -> Result<Result<DocWrite, Refusal>, DbError> {
        let stored = self.db.stored_doc(decoded.doc_id().to_owned()).await?;
        let (who, actor_users, facts) = (principal.clone(), actor_users.clone(), facts.clone());
        let judged = self
            .compute(move || {
                let ctx = PushContext {
                    principal: &who,
                    actor_users: &actor_users,
                    now: now_ms(),
                };
                judge(decoded, stored, &ctx, &facts)
            })
            .await?;
        let judged = match judged {
            Ok(judged) => judged,
            Err(refusal) => return Ok(Err(refusal)),
        };
        Ok(match self.org_problem(principal, &judged).await? {
            Some(refusal) => Err(refusal),
            None => Ok(judged.write),
        })
    }

    /// What the org tree and the photo store say against an accepted push: the sans-IO
    /// check knows paths, users and photos only by their shape.
    async fn org_problem(
        &self,
        principal: &Principal,
        judged: &Judged,
    ) -> Result<Option<Refusal>, DbError> {
        let Judged { write, refs } = judged;
        let doc_id = &write.doc_id;
        let place = write.projection.place();
        if !write.changes.is_empty() {
            let found = self
                .db
                .org_place(
                    place.grid.clone(),
                    place.sector.clone(),
                    place.department.clone(),
                )
                .await?;
            if let Some(problem) = position_problem(&place, &found) {
                return Ok(Some(Refusal::new(RefusalCode::InvalidDocument, problem)));
            }
        }
        if let Some(assignee) = refs.assignee {
            let user = self.db.user(assignee).await?;
            if let Some(problem) = assignee_problem(assignee, user.as_ref(), &place) {
                return Ok(Some(Refusal::new(
                    RefusalCode::ForbiddenTransition,
                    format!("{} {doc_id}: {problem}", write.projection.doc_type()),
                )));
            }
        }
        if !refs.members.is_empty()
            && let Some(pid) = self
                .db
                .listed_elsewhere(doc_id.clone(), refs.members.clone())
                .await?
        {
            return Ok(Some(Refusal::new(
                RefusalCode::InvalidDocument,
                format!(
                    "household {doc_id}: person {pid} is listed by another household; a person who moves is added to the new household as a new entry"
                ),
            )));
        }
        // A photo named for the first time must be one the pusher sent or may see: knowing
        // a hash is no right to a photo (`db::blobs::readable`).
        for sha in &refs.photos {
            if !self
                .db
                .may_reference_blob(principal.clone(), sha.clone())
                .await?
            {
                return Ok(Some(Refusal::new(
                    RefusalCode::Forbidden,
                    format!(
                        "{} {doc_id} names photo {sha}, which you did not upload and may not see; attach photos from this phone",
                        write.projection.doc_type()
                    ),
                )));
            }
        }
        Ok(None)
    }
}

/// Loads the stored document and judges the push against it as the type it names
/// (Automerge's work, on a worker thread); the applied document is dropped once its
/// projection is taken, since a live document costs many times its saved size and a
/// request may hold dozens while it waits for the writer.
fn judge(
    decoded: Decoded,
    stored: Option<StoredDoc>,
    ctx: &PushContext<'_>,
    facts: &Facts,
) -> Result<Judged, Refusal> {
    let doc_id = decoded.doc_id().to_owned();
    let doc_type = decoded.doc_type();
    let (base_seq, current) = match stored {
        // Ids are unique across types; a push naming another type for a stored id is told
        // nothing more than a push for an id it may not see.
        Some(stored) if stored.doc_type != doc_type => {
            return Err(Refusal::new(
                RefusalCode::OutOfScope,
                format!("{doc_type} {doc_id} is not on the server or is outside your scope"),
            ));
        }
        Some(StoredDoc { seq, state, .. }) => match load_stored(&state) {
            Some(doc) => (Some(seq), Some(doc)),
            None => {
                tracing::error!(record = %doc_id, "stored document does not load; run `haitang records check`");
                return Err(damaged(&doc_id));
            }
        },
        None => (None, None),
    };
    match doc_type {
        DocType::Record => judge_record(decoded, current, base_seq, ctx, &facts.categories),
        DocType::Household => judge_household(decoded, current, base_seq, ctx),
    }
}

fn judge_household(
    decoded: Decoded,
    current: Option<Automerge>,
    base_seq: Option<i64>,
    ctx: &PushContext<'_>,
) -> Result<Judged, Refusal> {
    let doc_id = decoded.doc_id().to_owned();
    let Applied {
        value: household,
        before,
        new_changes,
        heads,
        state,
        ..
    } = ingest::apply_push::<HouseholdKind>(decoded, current, ctx, &())?;
    let members = household
        .members
        .iter()
        .filter(|m| before.as_ref().is_none_or(|b| b.member(&m.pid).is_none()))
        .map(|m| m.pid.clone())
        .collect();
    let old = before.as_ref().map(|b| Place {
        grid: b.grid.clone(),
        sector: b.sector.clone(),
        department: None,
    });
    Ok(Judged {
        write: DocWrite {
            doc_id,
            base_seq,
            changes: new_changes,
            heads,
            state,
            projection: Projected::Household(household),
            old,
        },
        refs: Refs {
            members,
            ..Refs::default()
        },
    })
}

fn judge_record(
    decoded: Decoded,
    current: Option<Automerge>,
    base_seq: Option<i64>,
    ctx: &PushContext<'_>,
    categories: &HashMap<String, CategoryRules>,
) -> Result<Judged, Refusal> {
    let doc_id = decoded.doc_id().to_owned();
    let Applied {
        doc,
        value: record,
        before,
        new_changes,
        heads,
        state,
        ..
    } = ingest::apply_push::<RecordKind>(decoded, current, ctx, categories)?;
    let assignee = record
        .assignee
        .filter(|a| before.as_ref().and_then(|b| b.assignee) != Some(*a));
    let old_photos = before.as_ref().map_or(&[][..], |b| &b.attachments[..]);
    let photos = record
        .attachments
        .iter()
        .filter(|sha| !old_photos.contains(sha))
        .cloned()
        .collect();
    // The state was saved undeflated by ingest: it goes to phones as a pull snapshot inside
    // a gzipped response, and a phone loads it about a tenth faster undeflated.
    let projection = if new_changes.is_empty() {
        Projection {
            record,
            times: Times::default(),
        }
    } else {
        Projection::of(&doc, record)
    };
    Ok(Judged {
        write: DocWrite {
            doc_id,
            base_seq,
            changes: new_changes,
            heads,
            state,
            projection: projection.into(),
            old: before.as_ref().map(Place::of),
        },
        refs: Refs {
            assignee,
            photos,
            ..Refs::default()
        },
    })
}

/// Whether the grid, sector and department a document names exist in the org tree and
/// fit together.
fn position_problem(at: &Place, place: &OrgPlace) -> Option<String> {
    if place.grid != Some(UnitKind::Grid) {
        return Some(format!(
            "field `grid`: `{}` is not a grid of the org tree",
            at.grid
        ));
    }
    if let Some(sector) = &at.sector
        && (place.sector != Some(UnitKind::Sector) || parent_path(sector) != Some(at.grid.as_str()))
    {
        return Some(format!(
            "field `sector`: `{sector}` is not a sector of grid `{}`",
            at.grid
        ));
    }
    if let Some(department) = &at.department
        && !place.department
    {
        return Some(format!("field `department`: no department `{department}`"));
    }
    None
}

/// A document is assigned only to an active grid staff member of its own grid: for a
/// record, the one person who can then start and report back on it
/// (`workflow::is_handler`).
fn assignee_problem(user: i64, found: Option<&User>, at: &Place) -> Option<String> {
    match found {
        Some(u) if u.active && u.role == Role::GridStaff && u.unit == at.grid => None,
        _ => Some(format!(
            "assign names user {user}, who is not an active grid staff member of grid {}",
            at.grid
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::docs::tests::{projection, write};
    use crate::db::fixture::{self, GRID, GRID2, SECTOR};
    use automerge::Automerge;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const ID2: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

    fn push_doc(id: &str, doc: &Automerge) -> PushDoc {
        PushDoc {
            doc: id.to_owned(),
            doc_type: None,
            changes: doc
                .get_changes(&[])
                .into_iter()
                .map(|mut c| ByteBuf::from(c.bytes().into_owned()))
                .collect(),
        }
    }

    async fn staff(db: &crate::db::Db) -> Principal {
        let id = fixture::grid_staff(db, "staff").await;
        db.user(id).await.expect("db").expect("user").principal()
    }

    #[tokio::test]
    async fn a_push_is_stored_once_and_a_repeat_answers_the_same() {
        let (_dir, db) = fixture::open().await;
        let records = Records::new(db.clone(), 2);
        let who = staff(&db).await;
        let phone =
            haitang_sync::record::new_record(ActorId::random(), &fixture::record(ID, who.user_id));
        let first = records
            .push(&who, vec![push_doc(ID, &phone)])
            .await
            .expect("push");
        assert!(first[0].ok, "{first:?}");
        let again = records
            .push(&who, vec![push_doc(ID, &phone)])
            .await
            .expect("push");
        assert_eq!(first, again);
        assert_eq!(db.record_counts().await.expect("counts"), (1, 1));
    }

    #[tokio::test]
    async fn each_document_is_judged_alone_and_results_keep_the_push_order() {
        let (_dir, db) = fixture::open().await;
        let records = Records::new(db.clone(), 2);
        let who = staff(&db).await;
        // A record damaged on the server: its state does not load.
        let mut broken = write(ID2, None, &ActorId::random(), 1, projection(ID2));
        broken.state = vec![1, 2, 3];
        db.commit(None, vec![broken]).await.expect("plant");
        let good =
            haitang_sync::record::new_record(ActorId::random(), &fixture::record(ID, who.user_id));
        let mut nowhere = fixture::record("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b", who.user_id);
        nowhere.sector = Some(format!("{GRID}/nope"));
        let nowhere = haitang_sync::record::new_record(ActorId::random(), &nowhere);
        let results = records
            .push(
                &who,
                vec![
                    PushDoc {
                        doc: "not-a-uuid".into(),
                        doc_type: None,
                        changes: Vec::new(),
                    },
                    push_doc(ID2, &good),
                    push_doc("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b", &nowhere),
                    push_doc(ID, &good),
                ],
            )
            .await
            .expect("push");
        let codes: Vec<Option<&str>> = results.iter().map(|r| r.code.as_deref()).collect();
        assert_eq!(
            codes,
            [
                Some("malformed"),
                Some("damaged"),
                Some("invalid_document"),
                None
            ],
            "{results:?}"
        );
        assert_eq!(results[3].doc, ID);
        assert_eq!(db.record_counts().await.expect("counts"), (2, 2));
    }

    #[test]
    fn the_org_tree_judges_the_position() {
        let mut r = projection(ID).record;
        let place = OrgPlace {
            grid: Some(UnitKind::Grid),
            sector: Some(UnitKind::Sector),
            department: false,
        };
        assert_eq!(position_problem(&Place::of(&r), &place), None);
        let not_a_grid = OrgPlace {
            grid: Some(UnitKind::Community),
            ..place
        };
        assert!(
            position_problem(&Place::of(&r), &not_a_grid).is_some_and(|p| p.contains("`grid`"))
        );
        // A sector of another grid.
        r.grid = GRID2.into();
        assert!(position_problem(&Place::of(&r), &place).is_some_and(|p| p.contains("`sector`")));
        r.grid = GRID.into();
        r.sector = Some(SECTOR.into());
        r.department = Some("/gusu:nope".into());
        assert!(
            position_problem(&Place::of(&r), &place).is_some_and(|p| p.contains("no department"))
        );
        r.department = None;
        r.sector = None;
        let no_sector = OrgPlace {
            sector: None,
            ..place
        };
        assert_eq!(position_problem(&Place::of(&r), &no_sector), None);
    }

    #[test]
    fn only_an_active_grid_staff_member_of_the_grid_may_be_assigned() {
        let r = projection(ID).record;
        let staff = User {
            id: 9,
            username: "g".into(),
            name: "g".into(),
            role: Role::GridStaff,
            unit: GRID.into(),
            unit_name: "g".into(),
            department: None,
            active: true,
        };
        assert_eq!(assignee_problem(9, Some(&staff), &Place::of(&r)), None);
        for other in [
            User {
                active: false,
                ..staff.clone()
            },
            User {
                unit: GRID2.into(),
                ..staff.clone()
            },
            User {
                role: Role::Leader,
                ..staff.clone()
            },
        ] {
            assert!(
                assignee_problem(9, Some(&other), &Place::of(&r)).is_some(),
                "{other:?}"
            );
        }
        assert!(assignee_problem(9, None, &Place::of(&r)).is_some_and(|p| p.contains("user 9")));
    }
}
