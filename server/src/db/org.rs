//! Units of the org tree and departments.

use super::{Db, DbError};
use crate::org_import::{OrgRow, RowError, RowKind};
use haitang_sync::scope::{UnitKind, parent_path};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unit {
    pub id: i64,
    pub path: String,
    pub kind: UnitKind,
    pub sector_kind: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Department {
    pub id: i64,
    pub key: String,
    pub code: String,
    pub unit: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub units_created: usize,
    pub units_updated: usize,
    pub departments_created: usize,
    pub departments_updated: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} bad row(s); nothing was imported", .0.len())]
    Rows(Vec<RowError>),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> Self {
        ImportError::Db(DbError::Sqlite(e))
    }
}

fn unit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Unit> {
    let kind: String = r.get(2)?;
    Ok(Unit {
        id: r.get(0)?,
        path: r.get(1)?,
        kind: kind.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        sector_kind: r.get(3)?,
        name: r.get(4)?,
    })
}

const UNIT_COLS: &str = "id, path, kind, sector_kind, name";

pub(crate) fn unit_by_path(c: &Connection, path: &str) -> rusqlite::Result<Option<Unit>> {
    c.query_row(
        &format!("SELECT {UNIT_COLS} FROM units WHERE path = ?1"),
        [path],
        unit_from_row,
    )
    .optional()
}

pub(crate) fn department_by_key(c: &Connection, key: &str) -> rusqlite::Result<Option<Department>> {
    c.query_row(
        "SELECT d.id, d.key, d.code, u.path, d.name FROM departments d JOIN units u ON u.id = d.unit_id WHERE d.key = ?1",
        [key],
        |r| {
            Ok(Department {
                id: r.get(0)?,
                key: r.get(1)?,
                code: r.get(2)?,
                unit: r.get(3)?,
                name: r.get(4)?,
            })
        },
    )
    .optional()
}

/// What the org tree holds at a record's position: the kinds of the units at its grid and
/// sector paths, and whether its department exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgPlace {
    pub grid: Option<UnitKind>,
    pub sector: Option<UnitKind>,
    pub department: bool,
}

impl Db {
    /// What the org tree has at `grid`, `sector` and `department`, in one read.
    pub async fn org_place(
        &self,
        grid: String,
        sector: Option<String>,
        department: Option<String>,
    ) -> Result<OrgPlace, DbError> {
        self.read(move |c| {
            let kind_at = |path: &str| -> rusqlite::Result<Option<UnitKind>> {
                let kind: Option<String> = c
                    .prepare_cached("SELECT kind FROM units WHERE path = ?1")?
                    .query_row([path], |row| row.get(0))
                    .optional()?;
                Ok(kind.and_then(|k| k.parse().ok()))
            };
            Ok(OrgPlace {
                grid: kind_at(&grid)?,
                sector: sector.as_deref().map(kind_at).transpose()?.flatten(),
                department: match &department {
                    Some(key) => department_by_key(c, key)?.is_some(),
                    None => false,
                },
            })
        })
        .await
    }

    pub async fn unit(&self, path: String) -> Result<Option<Unit>, DbError> {
        self.read(move |c| Ok(unit_by_path(c, &path)?)).await
    }

    pub async fn department(&self, key: String) -> Result<Option<Department>, DbError> {
        self.read(move |c| Ok(department_by_key(c, &key)?)).await
    }

    /// Units at or under `path`, in tree order.
    pub async fn units_under(&self, path: String) -> Result<Vec<Unit>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {UNIT_COLS} FROM units WHERE path = ?1 OR (path >= ?1 || '/' AND path < ?1 || '0') ORDER BY path"
            ))?;
            let rows = stmt.query_map([&path], unit_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn departments(&self) -> Result<Vec<Department>, DbError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.key, d.code, u.path, d.name FROM departments d JOIN units u ON u.id = d.unit_id ORDER BY d.key",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(Department {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    code: r.get(2)?,
                    unit: r.get(3)?,
                    name: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Imports org rows in one transaction: every row is checked against the file and the
    /// tree already stored, and either all of them land or none does. Importing the same
    /// file again changes nothing.
    pub async fn import_org(&self, rows: Vec<OrgRow>) -> Result<ImportReport, ImportError> {
        let outcome = self
            .write(move |c| match import_rows(c, &rows) {
                Ok(report) => Ok(Ok(report)),
                // Every row is checked before the first write, so nothing needs rolling back.
                Err(ImportError::Rows(errors)) => Ok(Err(errors)),
                // A failure part-way through writing fails the job, which rolls it back.
                Err(ImportError::Db(e)) => Err(e),
            })
            .await?;
        outcome.map_err(ImportError::Rows)
    }
}

fn import_rows(c: &Connection, rows: &[OrgRow]) -> Result<ImportReport, ImportError> {
    // Kinds known for each path: from the file first, then from the database.
    let in_file: HashMap<&str, &OrgRow> = rows.iter().map(|r| (r.path.as_str(), r)).collect();
    let kind_of = |path: &str| -> Result<Option<UnitKind>, DbError> {
        if let Some(row) = in_file.get(path)
            && let RowKind::Unit(k, _) = row.kind
        {
            return Ok(Some(k));
        }
        Ok(unit_by_path(c, path)?.map(|u| u.kind))
    };

    let mut errors = Vec::new();
    for row in rows {
        let fail = |message: String| RowError {
            line: row.line,
            message,
        };
        match &row.kind {
            RowKind::Unit(kind, _) => {
                if let Some(existing) = unit_by_path(c, &row.path)?
                    && existing.kind != *kind
                {
                    errors.push(fail(format!(
                        "`{}` already exists as a {}, not a {kind}",
                        row.path, existing.kind
                    )));
                    continue;
                }
                if let Some(want) = kind.parent() {
                    let parent = parent_path(&row.path).unwrap_or_default();
                    match kind_of(parent)? {
                        Some(k) if k == want => {}
                        Some(k) => errors.push(fail(format!(
                            "a {kind} must sit under a {want}, but `{parent}` is a {k}"
                        ))),
                        None => errors.push(fail(format!(
                            "the parent `{parent}` is neither in the file nor in the database"
                        ))),
                    }
                }
            }
            RowKind::Department => {
                let (unit, _) = row.path.split_once(':').unwrap_or_default();
                match kind_of(unit)? {
                    Some(UnitKind::District | UnitKind::Street) => {}
                    Some(k) => errors.push(fail(format!(
                        "departments belong to a district or a street, but `{unit}` is a {k}"
                    ))),
                    None => errors.push(fail(format!(
                        "the unit `{unit}` is neither in the file nor in the database"
                    ))),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Rows(errors));
    }

    let mut report = ImportReport::default();
    let mut units: Vec<&OrgRow> = rows
        .iter()
        .filter(|r| matches!(r.kind, RowKind::Unit(..)))
        .collect();
    // Parents before children, whatever order the file used.
    units.sort_by_key(|r| r.path.matches('/').count());
    for row in units {
        let RowKind::Unit(kind, sector) = &row.kind else {
            continue;
        };
        match unit_by_path(c, &row.path)? {
            Some(u) if u.name == row.name => {}
            Some(u) => {
                c.execute(
                    "UPDATE units SET name = ?1 WHERE id = ?2",
                    params![row.name, u.id],
                )
                .map_err(DbError::from)?;
                report.units_updated += 1;
            }
            None => {
                let parent_id = match parent_path(&row.path) {
                    Some(p) => unit_by_path(c, p)?.map(|u| u.id),
                    None => None,
                };
                c.execute(
                    "INSERT INTO units(path, parent_id, kind, sector_kind, name) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![row.path, parent_id, kind.as_str(), sector.map(|s| s.as_str()), row.name],
                )
                .map_err(DbError::from)?;
                report.units_created += 1;
            }
        }
    }
    for row in rows.iter().filter(|r| r.kind == RowKind::Department) {
        let (unit, code) = row.path.split_once(':').unwrap_or_default();
        match department_by_key(c, &row.path)? {
            Some(d) if d.name == row.name => {}
            Some(d) => {
                c.execute(
                    "UPDATE departments SET name = ?1 WHERE id = ?2",
                    params![row.name, d.id],
                )
                .map_err(DbError::from)?;
                report.departments_updated += 1;
            }
            None => {
                let unit_id = unit_by_path(c, unit)?.map(|u| u.id);
                c.execute(
                    "INSERT INTO departments(key, unit_id, code, name) VALUES (?1, ?2, ?3, ?4)",
                    params![row.path, unit_id, code, row.name],
                )
                .map_err(DbError::from)?;
                report.departments_created += 1;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, DEPARTMENT, GRID, SECTOR};
    use super::*;

    #[tokio::test]
    async fn a_place_is_told_by_the_kinds_the_tree_has_there() {
        let (_dir, db) = fixture::open().await;
        let place = db
            .org_place(GRID.into(), Some(SECTOR.into()), Some(DEPARTMENT.into()))
            .await
            .expect("place");
        assert_eq!(
            place,
            OrgPlace {
                grid: Some(UnitKind::Grid),
                sector: Some(UnitKind::Sector),
                department: true
            }
        );
        let nowhere = db
            .org_place(
                format!("{GRID}/nope"),
                Some(GRID.into()),
                Some("/gusu:nope".into()),
            )
            .await
            .expect("place");
        assert_eq!(
            nowhere,
            OrgPlace {
                grid: None,
                sector: Some(UnitKind::Grid),
                department: false
            }
        );
    }
}
