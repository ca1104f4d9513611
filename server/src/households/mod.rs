//! The household registry's orchestration beyond a push: importing a community's register
//! and exporting it. An import writes through the same paths as the phones: each household
//! becomes Automerge changes made by the importing user and pushed through
//! `Records::push` (judged like any push), then the people's personal fields go to
//! `residents` through the same edit the API takes.

pub mod import;

use crate::db::residents::{EditProblem, ResidentEdit, ResidentRow};
use crate::db::users::User;
use crate::db::{Db, DbError, now_ms};
use crate::records::Records;
use crate::residents::IdHasher;
use automerge::{ActorId, Automerge};
use haitang_sync::doctype::DocType;
use haitang_sync::household::{
    self, NewHousehold, NewMember, add_member, read_household, set_household_text,
    set_member_relation, set_member_status, set_sector,
};
use haitang_sync::personal::{self, ResidentStatus};
use haitang_sync::protocol::PushDoc;
use haitang_sync::scope::{UnitKind, is_under};
use import::{PersonRow, RowError};
use serde::Serialize;
use serde_bytes::ByteBuf;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub households_created: usize,
    pub households_updated: usize,
    pub people_added: usize,
    pub people_updated: usize,
    pub people_unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} bad row(s)", .0.len())]
    Rows(Vec<RowError>),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn rows_err(line: usize, message: impl Into<String>) -> ImportError {
    ImportError::Rows(vec![RowError {
        line,
        message: message.into(),
    }])
}

/// One household of the file: its rows, where it goes, and the people as validated.
struct Group {
    grid: String,
    sector: Option<String>,
    number: String,
    address: String,
    first_line: usize,
    people: Vec<(PersonRow, ResidentEdit)>,
}

/// Imports a register (.xlsx or CSV bytes) as `user`. Every row is checked before anything is
/// written, so a wrong row means nothing is imported; a re-import of the same file finds
/// the same households (by grid and number) and people (by ID number, else by name and
/// birth year) and changes nothing.
pub async fn import(
    db: &Db,
    records: &Records,
    ids: &IdHasher,
    user: &User,
    bytes: &[u8],
) -> Result<ImportReport, ImportError> {
    let register = import::decode(bytes).map_err(|e| ImportError::Rows(vec![e]))?;
    let (rows, mut errors) = import::parse_all(&register);
    let principal = user.principal();
    if user.role.is_field() || !personal::may_see_residents(user.role) {
        return Err(rows_err(
            1,
            format!(
                "a {} may not import a register; a supervisor or administrator imports it",
                user.role
            ),
        ));
    }
    let units = db.units_under(user.unit.clone()).await?;
    let tags = db.care_tags().await?;
    let tag_code = |t: &str| {
        tags.iter()
            .find(|(code, zh, en, _)| code == t || zh == t || en == t)
            .map(|(code, ..)| code.clone())
    };
    let resolve = |text: &str, kind: UnitKind, under: Option<&str>| {
        units
            .iter()
            .filter(|u| u.kind == kind && under.is_none_or(|p| is_under(&u.path, p)))
            .find(|u| u.path == text || u.name == text)
            .map(|u| u.path.clone())
    };
    let year = crate::routes::residents::this_year(now_ms());
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut seen_ids: HashMap<Vec<u8>, usize> = HashMap::new();
    for row in rows {
        let line = row.line;
        let Some(grid) = resolve(&row.grid, UnitKind::Grid, None) else {
            errors.push(RowError {
                line,
                message: format!(
                    "网格 {:?} is not a grid in your area (give its name or path)",
                    row.grid
                ),
            });
            continue;
        };
        let sector = match &row.sector {
            None => None,
            Some(s) => match resolve(s, UnitKind::Sector, Some(&grid)) {
                Some(p) => Some(p),
                None => {
                    errors.push(RowError {
                        line,
                        message: format!("片区 {s:?} is not a sector of grid {grid}"),
                    });
                    continue;
                }
            },
        };
        let mut codes = Vec::new();
        for t in &row.tags {
            match tag_code(t) {
                Some(code) => codes.push(code),
                None => errors.push(RowError {
                    line,
                    message: format!("关爱标签 {t:?} is not in the care-tag catalogue"),
                }),
            }
        }
        let edit = crate::residents::EditIn {
            pid: uuid::Uuid::new_v4().to_string(),
            name: Some(row.name.clone()),
            gender: Some(row.gender.map(|g| g.as_str().to_owned())),
            birth_year: Some(row.birth_year),
            phone: Some(row.phone.clone()),
            id_number: Some(row.id_number.clone()),
            tags_add: codes,
            tags_remove: Vec::new(),
        };
        let edit = match crate::residents::validate(edit, ids, year) {
            Ok(e) => e,
            Err(m) => {
                errors.push(RowError { line, message: m });
                continue;
            }
        };
        if let Some(Some((_, hash))) = &edit.id_number
            && let Some(first) = seen_ids.insert(hash.clone(), line)
        {
            errors.push(RowError {
                line,
                message: format!("身份证号 is the same as on line {first}"),
            });
            continue;
        }
        let key = (grid.clone(), row.household_no.clone());
        let group = groups.entry(key).or_insert_with(|| Group {
            grid,
            sector: sector.clone(),
            number: row.household_no.clone(),
            address: row.address.clone(),
            first_line: line,
            people: Vec::new(),
        });
        if group.address != row.address || group.sector != sector {
            errors.push(RowError {
                line,
                message: format!(
                    "户号 {} has another 地址 or 片区 on line {}; a household has one",
                    row.household_no, group.first_line
                ),
            });
            continue;
        }
        if group.people.len() >= household::MAX_MEMBERS {
            errors.push(RowError {
                line,
                message: format!(
                    "户号 {} lists more than {} people",
                    row.household_no,
                    household::MAX_MEMBERS
                ),
            });
            continue;
        }
        group.people.push((row, edit));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(ImportError::Rows(errors));
    }

    let stored = db
        .households_by_number(groups.keys().cloned().collect())
        .await?;
    let stored: HashMap<(String, String), (String, Vec<u8>)> = stored
        .into_iter()
        .map(|h| ((h.grid, h.number), (h.id, h.state)))
        .collect();
    let mut report = ImportReport::default();
    let mut pushes = Vec::new();
    let mut edits: Vec<(usize, ResidentEdit, Option<ResidentRow>)> = Vec::new();
    let now = now_ms();
    for (key, mut group) in groups {
        let existing = match stored.get(&key) {
            Some((id, _)) => db.household_residents(id.clone()).await?,
            None => Vec::new(),
        };
        // Match each row to a person the household already lists.
        let mut taken = HashSet::new();
        for (row, edit) in &mut group.people {
            let hash = edit
                .id_number
                .as_ref()
                .and_then(|i| i.as_ref())
                .map(|(_, h)| h.clone());
            let found = existing.iter().find(|r| {
                !taken.contains(&r.pid)
                    && match (&hash, &r.id_hash) {
                        (Some(h), Some(stored)) => h == stored,
                        _ => {
                            r.name.as_deref() == Some(row.name.as_str())
                                && r.birth_year == row.birth_year
                        }
                    }
            });
            if let Some(r) = found {
                edit.pid = r.pid.clone();
                taken.insert(r.pid.clone());
            } else if let Some(h) = &hash
                && let Some(other) = db.resident_by_id_hash(principal.clone(), h.clone()).await?
            {
                return Err(rows_err(
                    row.line,
                    format!(
                        "身份证号 is registered for a person of another household ({})",
                        other.household
                    ),
                ));
            }
        }
        let actor = ActorId::random();
        let (doc_id, base, changes) = match stored.get(&key) {
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let mut doc = household::new_household(
                    actor,
                    &NewHousehold {
                        id: id.clone(),
                        grid: group.grid.clone(),
                        sector: group.sector.clone(),
                        number: group.number.clone(),
                        address: group.address.clone(),
                        created_by: user.id,
                        created_at: now,
                        members: group
                            .people
                            .iter()
                            .map(|(row, e)| NewMember {
                                pid: e.pid.clone(),
                                relation: row.relation,
                            })
                            .collect(),
                    },
                );
                let mut tx = doc.transaction();
                for (row, e) in &group.people {
                    if row.status != ResidentStatus::Living {
                        set_member_status(&mut tx, &e.pid, row.status).map_err(doc_err)?;
                    }
                }
                tx.commit();
                report.households_created += 1;
                (
                    id,
                    Vec::new(),
                    doc.get_changes(&[])
                        .into_iter()
                        .map(|c| c.raw_bytes().to_vec())
                        .collect::<Vec<_>>(),
                )
            }
            Some((id, state)) => {
                let doc = Automerge::load(state)
                    .map_err(|e| DbError::Corrupt(format!("household {id}: {e}")))?;
                let heads = doc.get_heads();
                let h = read_household(&doc)
                    .map_err(|e| DbError::Corrupt(format!("household {id}: {e}")))?;
                let mut doc = doc.with_actor(actor);
                let mut tx = doc.transaction();
                if h.address != group.address {
                    set_household_text(&mut tx, "address", &group.address).map_err(doc_err)?;
                }
                if h.sector != group.sector {
                    set_sector(&mut tx, group.sector.as_deref()).map_err(doc_err)?;
                }
                for (row, e) in &group.people {
                    match h.member(&e.pid) {
                        None => {
                            add_member(&mut tx, &e.pid, row.relation, now).map_err(doc_err)?;
                            if row.status != ResidentStatus::Living {
                                set_member_status(&mut tx, &e.pid, row.status).map_err(doc_err)?;
                            }
                        }
                        Some(m) => {
                            if m.status != row.status {
                                set_member_status(&mut tx, &e.pid, row.status).map_err(doc_err)?;
                            }
                            if m.relation != row.relation {
                                set_member_relation(&mut tx, &e.pid, row.relation)
                                    .map_err(doc_err)?;
                            }
                        }
                    }
                }
                tx.commit();
                let changes: Vec<Vec<u8>> = doc
                    .get_changes(&heads)
                    .into_iter()
                    .map(|c| c.raw_bytes().to_vec())
                    .collect();
                if !changes.is_empty() {
                    report.households_updated += 1;
                }
                (id.clone(), heads, changes)
            }
        };
        let _ = base;
        if !changes.is_empty() {
            pushes.push((
                group.first_line,
                PushDoc {
                    doc: doc_id,
                    doc_type: Some(DocType::Household.as_str().to_owned()),
                    changes: changes.into_iter().map(ByteBuf::from).collect(),
                },
            ));
        }
        for (row, mut edit) in group.people {
            let before = existing.iter().find(|r| r.pid == edit.pid).cloned();
            if let Some(b) = &before {
                edit.tags_remove = b
                    .tags
                    .iter()
                    .filter(|t| !edit.tags_add.contains(t))
                    .cloned()
                    .collect();
            }
            edits.push((row.line, edit, before));
        }
    }
    // Households first: a person's row needs the household that lists them.
    for chunk in pushes.chunks(haitang_sync::protocol::MAX_PUSH_DOCS) {
        let (lines, docs): (Vec<usize>, Vec<PushDoc>) = chunk.iter().cloned().unzip();
        let results = records.push(&principal, docs).await?;
        let refused: Vec<RowError> = lines
            .iter()
            .zip(&results)
            .filter(|(_, r)| !r.ok)
            .map(|(line, r)| RowError {
                line: *line,
                message: format!(
                    "the household was refused: {}",
                    r.message.clone().unwrap_or_default()
                ),
            })
            .collect();
        if !refused.is_empty() {
            return Err(ImportError::Rows(refused));
        }
    }
    let mut to_store = Vec::new();
    let mut lines = Vec::new();
    for (line, edit, before) in edits {
        match &before {
            None => report.people_added += 1,
            Some(b) if unchanged(b, &edit) => {
                report.people_unchanged += 1;
                continue;
            }
            Some(_) => report.people_updated += 1,
        }
        lines.push(line);
        to_store.push(edit);
    }
    let stored = db.edit_residents(principal, to_store).await?;
    let problems: Vec<RowError> = lines
        .into_iter()
        .zip(stored)
        .filter_map(|(line, r)| {
            r.err().map(|p| RowError {
                line,
                message: match p {
                    EditProblem::DuplicateId(_) => {
                        "身份证号 is registered for another person".to_owned()
                    }
                    EditProblem::Erased => {
                        "this person's data was erased and cannot be imported again".to_owned()
                    }
                    EditProblem::OutOfScope => "the household is outside your area".to_owned(),
                    EditProblem::UnknownTag(t) => format!("care tag {t:?} is not in the catalogue"),
                },
            })
        })
        .collect();
    if !problems.is_empty() {
        return Err(ImportError::Rows(problems));
    }
    Ok(report)
}

fn doc_err(e: automerge::AutomergeError) -> ImportError {
    ImportError::Db(DbError::Corrupt(format!(
        "building a household change: {e}"
    )))
}

/// Whether storing `edit` would leave `row` as it is.
fn unchanged(row: &ResidentRow, edit: &ResidentEdit) -> bool {
    let same = |a: &Option<Option<String>>, b: &Option<String>| a.as_ref().is_none_or(|a| a == b);
    let mut tags = edit.tags_add.clone();
    tags.sort();
    edit.name
        .as_ref()
        .is_none_or(|n| row.name.as_ref() == Some(n))
        && edit
            .gender
            .as_ref()
            .is_none_or(|g| g.map(|g| g.as_str().to_owned()) == row.gender)
        && edit
            .birth_year
            .as_ref()
            .is_none_or(|y| *y == row.birth_year)
        && same(&edit.phone, &row.phone)
        && edit
            .id_number
            .as_ref()
            .is_none_or(|i| i.as_ref().map(|(_, h)| h) == row.id_hash.as_ref())
        && tags == row.tags
        && edit.tags_remove.is_empty()
}
