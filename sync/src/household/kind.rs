//! The household as a synced document type: who may create one, what is fixed, and that a
//! person is never removed and a visit interval is set only by a supervisor.

use automerge::{Automerge, Change};

use super::{Household, MAX_HOUSEHOLD_BYTES, SchemaError, read_household};
use crate::doctype::{DocKind, DocType};
use crate::ingest::{PushContext, Refusal, RefusalCode, refuse};
use crate::personal::may_set_interval;
use crate::scope::{Position, Role};

/// The household document type.
pub struct HouseholdKind;

impl DocKind for HouseholdKind {
    const TYPE: DocType = DocType::Household;
    const MAX_BYTES: usize = MAX_HOUSEHOLD_BYTES;
    type Value = Household;
    /// Households need nothing from storage beyond the org tree the server checks anyway.
    type Facts = ();
    type Before = ();

    fn read(doc: &Automerge) -> Result<Household, SchemaError> {
        read_household(doc)
    }

    fn id(h: &Household) -> &str {
        &h.id
    }

    fn position(h: &Household) -> Position<'_> {
        h.position()
    }

    fn check_state(
        doc_id: &str,
        h: &Household,
        before: Option<&Household>,
        ctx: &PushContext<'_>,
        _facts: &(),
    ) -> Result<(), Refusal> {
        use RefusalCode::*;
        let role = ctx.principal.role;
        if role == Role::DepartmentHandler {
            return refuse(
                Forbidden,
                format!(
                    "household {doc_id}: department handlers do not keep the household registry"
                ),
            );
        }
        match before {
            None => {
                if h.created_by != ctx.principal.user_id {
                    return refuse(
                        Forbidden,
                        format!(
                            "household {doc_id}: a new household must be created by you (user {}), but field `created_by` is {}",
                            ctx.principal.user_id, h.created_by
                        ),
                    );
                }
            }
            Some(b) => {
                if b.created_by != h.created_by || b.created_at != h.created_at {
                    return refuse(
                        Forbidden,
                        format!(
                            "household {doc_id}: fields `created_by` and `created_at` cannot change once a household exists"
                        ),
                    );
                }
                for m in &b.members {
                    match h.member(&m.pid) {
                        None => {
                            return refuse(
                                Forbidden,
                                format!(
                                    "household {doc_id}: person {} cannot be removed; mark them moved out or deceased",
                                    m.pid
                                ),
                            );
                        }
                        Some(now) if now.since != m.since => {
                            return refuse(
                                Forbidden,
                                format!(
                                    "household {doc_id}: field `members.{}.since` cannot change",
                                    m.pid
                                ),
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        if !may_set_interval(role) {
            let was = |pid: &str| {
                before
                    .and_then(|b| b.member(pid))
                    .and_then(|m| m.interval_days)
            };
            let household_changed = before.and_then(|b| b.interval_days) != h.interval_days;
            let member_changed = h.members.iter().find(|m| m.interval_days != was(&m.pid));
            if household_changed || member_changed.is_some() {
                let field = match member_changed {
                    Some(m) if !household_changed => format!("members.{}.interval_days", m.pid),
                    _ => "interval_days".to_owned(),
                };
                return refuse(
                    Forbidden,
                    format!(
                        "household {doc_id}: field `{field}` is the care plan, which a supervisor sets, not a {role}"
                    ),
                );
            }
        }
        Ok(())
    }

    fn before(_stored: &Automerge) {}

    fn check_changes(
        _doc_id: &str,
        _doc: &Automerge,
        _changes: &[Change],
        _known: &(),
        _before: Option<&Household>,
        _value: &Household,
        _ctx: &PushContext<'_>,
        _facts: &(),
    ) -> Result<(), Refusal> {
        // Every rule on a household is about the state it reaches (`check_state`): it has
        // no workflow and no append-only history whose steps must be judged one by one.
        Ok(())
    }
}
