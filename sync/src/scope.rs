//! The scope rule: who may see and act on which record. Every part of Haitang that asks
//! "may this user see / change this?" asks here, so the rule has exactly one definition.
//!
//! Positions are org-tree paths such as `/gusu/byw/ws1/jinzhu/g01`. A path lies *under*
//! another when it equals it or continues it after a `/`, so `/gusu/byw` does not contain
//! `/gusu/bywx`.

use crate::names::named_enum;
use serde::{Deserialize, Serialize};

/// A user's role. The names are the wire and database spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Leader,
    GridStaff,
    CommunitySupervisor,
    WorkstationSupervisor,
    StreetSupervisor,
    DistrictAdmin,
    DepartmentHandler,
}

named_enum!(Role {
    Leader => "leader",
    GridStaff => "grid_staff",
    CommunitySupervisor => "community_supervisor",
    WorkstationSupervisor => "workstation_supervisor",
    StreetSupervisor => "street_supervisor",
    DistrictAdmin => "district_admin",
    DepartmentHandler => "department_handler",
});

impl Role {
    /// The kind of unit a user of this role must be attached to. Handlers sit in the unit
    /// that owns their department (a district or a street), so any non-sector kind is allowed.
    pub fn home_kinds(self) -> &'static [UnitKind] {
        match self {
            Role::Leader => &[UnitKind::Sector],
            Role::GridStaff => &[UnitKind::Grid],
            Role::CommunitySupervisor => &[UnitKind::Community],
            Role::WorkstationSupervisor => &[UnitKind::Workstation],
            Role::StreetSupervisor => &[UnitKind::Street],
            Role::DistrictAdmin => &[UnitKind::District],
            Role::DepartmentHandler => &[UnitKind::District, UnitKind::Street],
        }
    }

    /// Field roles work on phones and report; the others supervise.
    pub fn is_field(self) -> bool {
        matches!(self, Role::Leader | Role::GridStaff)
    }
}

/// The five levels of the org tree, then the sector a leader looks after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    District,
    Street,
    Workstation,
    Community,
    Grid,
    Sector,
}

named_enum!(UnitKind {
    District => "district",
    Street => "street",
    Workstation => "workstation",
    Community => "community",
    Grid => "grid",
    Sector => "sector",
});

impl UnitKind {
    /// The kind a unit of this kind hangs under; `None` for the root.
    pub fn parent(self) -> Option<UnitKind> {
        match self {
            UnitKind::District => None,
            UnitKind::Street => Some(UnitKind::District),
            UnitKind::Workstation => Some(UnitKind::Street),
            UnitKind::Community => Some(UnitKind::Workstation),
            UnitKind::Grid => Some(UnitKind::Community),
            UnitKind::Sector => Some(UnitKind::Grid),
        }
    }
}

pub use crate::names::UnknownName;

/// Who is asking: enough of a user to apply the scope rule without a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: i64,
    pub role: Role,
    /// Path of the user's home unit (a sector for leaders).
    pub unit: String,
    /// Department key (`<owning unit path>:<code>`) for department handlers.
    pub department: Option<String>,
}

/// Where a record sits, as far as scope is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    pub grid: &'a str,
    pub sector: Option<&'a str>,
    /// Department key the record is dispatched to, if any.
    pub department: Option<&'a str>,
}

/// What a user's scope is, in a form a client can show and a query can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every record whose grid lies under `path`.
    Subtree { path: String },
    /// Every record in the sector at `path` (a leader's patch).
    Sector { path: String },
    /// Every record dispatched to `department` (a department key).
    Department { department: String },
}

impl Principal {
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Leader => Scope::Sector {
                path: self.unit.clone(),
            },
            Role::DepartmentHandler => Scope::Department {
                // A handler without a department sees nothing; an empty key matches no record.
                department: self.department.clone().unwrap_or_default(),
            },
            _ => Scope::Subtree {
                path: self.unit.clone(),
            },
        }
    }

    /// May this user see a record at `pos`?
    pub fn can_see(&self, pos: Position<'_>) -> bool {
        self.scope().contains(pos)
    }
}

impl Scope {
    pub fn contains(&self, pos: Position<'_>) -> bool {
        match self {
            Scope::Subtree { path } => is_under(pos.grid, path),
            Scope::Sector { path } => pos.sector == Some(path.as_str()),
            Scope::Department { department } => {
                !department.is_empty() && pos.department == Some(department.as_str())
            }
        }
    }
}

/// `path` equals `prefix` or continues it after a `/`.
pub fn is_under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with('/'),
        None => false,
    }
}

/// The parent of a path, or `None` for a root (`/gusu`) or something that is not a path.
pub fn parent_path(path: &str) -> Option<&str> {
    let idx = path.rfind('/')?;
    (idx > 0).then(|| &path[..idx])
}

/// A unit path: `/` then one or more segments of lower-case ASCII letters, digits, `_` or `-`.
pub fn is_valid_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    !rest.is_empty()
        && rest.split('/').all(|seg| {
            !seg.is_empty()
                && seg.len() <= 64
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID1: &str = "/gusu/byw/ws1/jinzhu/g01";
    const GRID2: &str = "/gusu/byw/ws1/jinzhu/g02";
    const SECTOR_B1: &str = "/gusu/byw/ws1/jinzhu/g01/b1";
    const SECTOR_L1: &str = "/gusu/byw/ws1/jinzhu/g01/l1";
    const OTHER_STREET_GRID: &str = "/gusu/pj/ws2/dongyuan/g01";
    const POLICE: &str = "/gusu:police";

    fn principal(role: Role, unit: &str, department: Option<&str>) -> Principal {
        Principal {
            user_id: 1,
            role,
            unit: unit.into(),
            department: department.map(Into::into),
        }
    }

    /// Records at every interesting position: (name, position).
    fn positions() -> Vec<(&'static str, Position<'static>)> {
        vec![
            (
                "g01/b1",
                Position {
                    grid: GRID1,
                    sector: Some(SECTOR_B1),
                    department: None,
                },
            ),
            (
                "g01/l1",
                Position {
                    grid: GRID1,
                    sector: Some(SECTOR_L1),
                    department: None,
                },
            ),
            (
                "g01 no sector",
                Position {
                    grid: GRID1,
                    sector: None,
                    department: None,
                },
            ),
            (
                "g02",
                Position {
                    grid: GRID2,
                    sector: None,
                    department: None,
                },
            ),
            (
                "other street",
                Position {
                    grid: OTHER_STREET_GRID,
                    sector: None,
                    department: None,
                },
            ),
            (
                "other street, police",
                Position {
                    grid: OTHER_STREET_GRID,
                    sector: None,
                    department: Some(POLICE),
                },
            ),
            (
                "g01/b1, police",
                Position {
                    grid: GRID1,
                    sector: Some(SECTOR_B1),
                    department: Some(POLICE),
                },
            ),
        ]
    }

    /// The whole role × position matrix, written out so a change to the rule shows up here.
    #[test]
    fn role_position_matrix() {
        let cases: Vec<(Principal, [bool; 7])> = vec![
            (
                principal(Role::Leader, SECTOR_B1, None),
                [true, false, false, false, false, false, true],
            ),
            (
                principal(Role::GridStaff, GRID1, None),
                [true, true, true, false, false, false, true],
            ),
            (
                principal(Role::CommunitySupervisor, "/gusu/byw/ws1/jinzhu", None),
                [true, true, true, true, false, false, true],
            ),
            (
                principal(Role::WorkstationSupervisor, "/gusu/byw/ws1", None),
                [true, true, true, true, false, false, true],
            ),
            (
                principal(Role::StreetSupervisor, "/gusu/byw", None),
                [true, true, true, true, false, false, true],
            ),
            (
                principal(Role::StreetSupervisor, "/gusu/pj", None),
                [false, false, false, false, true, true, false],
            ),
            (principal(Role::DistrictAdmin, "/gusu", None), [true; 7]),
            (
                principal(Role::DepartmentHandler, "/gusu", Some(POLICE)),
                [false, false, false, false, false, true, true],
            ),
            (
                principal(Role::DepartmentHandler, "/gusu", Some("/gusu:fire")),
                [false; 7],
            ),
            (
                principal(Role::DepartmentHandler, "/gusu", None),
                [false; 7],
            ),
        ];
        for (p, expected) in cases {
            for ((name, pos), want) in positions().into_iter().zip(expected) {
                assert_eq!(p.can_see(pos), want, "{} at {} sees {name}", p.role, p.unit);
            }
        }
    }

    #[test]
    fn under_respects_segment_boundaries() {
        assert!(is_under("/gusu/byw", "/gusu/byw"));
        assert!(is_under("/gusu/byw/ws1", "/gusu/byw"));
        assert!(!is_under("/gusu/bywx", "/gusu/byw"));
        assert!(!is_under("/gusu", "/gusu/byw"));
        assert!(!is_under("/gusux/byw", "/gusu"));
    }

    #[test]
    fn paths() {
        assert!(is_valid_path("/gusu/byw/ws1/jinzhu/g01"));
        for bad in [
            "",
            "/",
            "gusu",
            "/gusu/",
            "//x",
            "/Gusu",
            "/gu su",
            "/gusu/../x",
            "/金筑",
        ] {
            assert!(!is_valid_path(bad), "{bad:?}");
        }
        assert_eq!(parent_path("/gusu/byw"), Some("/gusu"));
        assert_eq!(parent_path("/gusu"), None);
    }

    #[test]
    fn names_round_trip() {
        for &r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        for &k in UnitKind::ALL {
            assert_eq!(k.as_str().parse::<UnitKind>(), Ok(k));
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
