//! A real database file with a small org tree, for the tests of storage and of the domain.

use super::Db;
use super::users::NewUser;
use crate::org_import::{OrgRow, RowKind, SectorKind};
use haitang_sync::record::{Kind, NewRecord, Urgency};
use haitang_sync::scope::{Role, UnitKind};
use tempfile::TempDir;

pub const COMMUNITY: &str = "/gusu/byw/ws1/jinzhu";
pub const GRID: &str = "/gusu/byw/ws1/jinzhu/g01";
pub const SECTOR: &str = "/gusu/byw/ws1/jinzhu/g01/b1";
pub const GRID2: &str = "/gusu/byw/ws1/jinzhu/g02";
pub const DEPARTMENT: &str = "/gusu:police";

/// A fresh database in its own directory: migrated, the catalogue seeded, and the org tree
/// from 姑苏区 down to two grids of 金筑社区, a building in the first, and one department.
pub async fn open() -> (TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(&dir.path().join("haitang.db"), 2).expect("open");
    db.seed_catalogue().await.expect("catalogue");
    let unit = |line, kind, path: &str| OrgRow {
        line,
        kind: RowKind::Unit(
            kind,
            (kind == UnitKind::Sector).then_some(SectorKind::Building),
        ),
        path: path.to_owned(),
        name: path.to_owned(),
    };
    let rows = vec![
        unit(1, UnitKind::District, "/gusu"),
        unit(2, UnitKind::Street, "/gusu/byw"),
        unit(3, UnitKind::Workstation, "/gusu/byw/ws1"),
        unit(4, UnitKind::Community, COMMUNITY),
        unit(5, UnitKind::Grid, GRID),
        unit(6, UnitKind::Grid, GRID2),
        unit(7, UnitKind::Sector, SECTOR),
        OrgRow {
            line: 8,
            kind: RowKind::Department,
            path: DEPARTMENT.to_owned(),
            name: "公安".to_owned(),
        },
    ];
    db.import_org(rows).await.expect("org");
    (dir, db)
}

/// Adds a grid staff member of [`GRID`]; returns the user id.
pub async fn grid_staff(db: &Db, username: &str) -> i64 {
    user(db, username, Role::GridStaff, GRID).await
}

pub async fn user(db: &Db, username: &str, role: Role, unit: &str) -> i64 {
    db.add_user(NewUser {
        username: username.to_owned(),
        name: username.to_owned(),
        role,
        unit: unit.to_owned(),
        department: None,
        // Never checked: these tests do not sign in.
        password_hash: "x".to_owned(),
    })
    .await
    .expect("user")
    .id
}

/// A patrol event in [`SECTOR`], reported by `reported_by` a moment ago.
pub fn record(id: &str, reported_by: i64) -> NewRecord {
    NewRecord {
        id: id.to_owned(),
        kind: Kind::Event,
        grid: GRID.to_owned(),
        sector: Some(SECTOR.to_owned()),
        category: "city.garbage_exposed".to_owned(),
        title: "门口暴露垃圾".to_owned(),
        description: String::new(),
        address: String::new(),
        location: None,
        household: None,
        persons: Vec::new(),
        raised_from: None,
        checks: Default::default(),
        reported_by,
        reported_at: super::now_ms() - 60_000,
        urgency: Urgency::Normal,
    }
}
