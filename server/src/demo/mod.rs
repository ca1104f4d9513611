//! The demo district (`--demo`): a small 姑苏区 modelled on the source articles, with two
//! streets, a linkage workstation each, two communities per workstation, three grids per
//! community, a building, a lane and a courtyard in every grid, the five departments, and
//! one account per role. Seeding is idempotent, so a second start changes nothing. With
//! `--demo-history`, `history` then gives the district three weeks of work.

pub mod history;
pub mod households;

use crate::auth::Passwords;
use crate::db::Db;
use crate::db::users::NewUser;
use crate::org_import::{OrgRow, RowKind, SectorKind};
use haitang_sync::scope::{Role, UnitKind};

pub const PASSWORD: &str = "demo";

pub const LOGINS_BANNER: &str = "\
DEMO MODE — demo accounts, password `demo`:
  admin       district administrator   姑苏区
  street1     street supervisor        白洋湾街道
  ws1         workstation supervisor   白洋湾街道第一联动工作站
  community1  community supervisor     金筑社区
  grid1       grid staff               金筑社区第一网格
  grid2       grid staff               金筑社区第二网格
  lou1        building leader          金筑社区第一网格 · 金筑苑3幢
  xiang1      lane leader              金筑社区第一网格 · 西园弄
  yuan1       courtyard leader         金筑社区第二网格 · 潘家大院
  police1     department handler       公安姑苏分局";

struct Street {
    code: &'static str,
    name: &'static str,
    workstation: &'static str,
    communities: [(&'static str, &'static str, [Sectors; 3]); 2],
}

/// A grid's building, lane and courtyard.
type Sectors = [&'static str; 3];

const STREETS: [Street; 2] = [
    Street {
        code: "byw",
        name: "白洋湾街道",
        workstation: "白洋湾街道第一联动工作站",
        communities: [
            (
                "jinzhu",
                "金筑社区",
                [
                    ["金筑苑3幢", "西园弄", "潘家院"],
                    ["金筑苑7幢", "山塘后巷", "潘家大院"],
                    ["金筑苑12幢", "虎阜弄", "吴家院"],
                ],
            ),
            (
                "xinzhuang",
                "新庄社区",
                [
                    ["新庄新村5幢", "新庄前巷", "陆家院"],
                    ["新庄新村9幢", "新庄后巷", "沈家院"],
                    ["新庄新村15幢", "桐泾弄", "钱家院"],
                ],
            ),
        ],
    },
    Street {
        code: "pj",
        name: "平江街道",
        workstation: "平江街道第一联动工作站",
        communities: [
            (
                "daru",
                "大儒社区",
                [
                    ["大儒新村2幢", "大儒巷", "丁宅"],
                    ["大儒新村6幢", "悬桥巷", "顾宅"],
                    ["大儒新村8幢", "丁香巷", "洪宅"],
                ],
            ),
            (
                "cangjie",
                "仓街社区",
                [
                    ["仓街小区1幢", "胡厢使巷", "方宅"],
                    ["仓街小区4幢", "萧家巷", "许宅"],
                    ["仓街小区10幢", "钮家巷", "潘宅"],
                ],
            ),
        ],
    },
];

const DEPARTMENTS: [(&str, &str); 5] = [
    ("police", "公安姑苏分局"),
    ("urban", "城市管理局"),
    ("emergency", "应急管理局"),
    ("environment", "生态环境局"),
    ("fire", "消防救援大队"),
];

const GRID_NUMBERS: [&str; 3] = ["第一网格", "第二网格", "第三网格"];

/// The demo org tree as import rows, so it goes through the same checks as any file.
pub fn org_rows() -> Vec<OrgRow> {
    let mut rows = Vec::new();
    let mut push = |kind: RowKind, path: String, name: String| {
        rows.push(OrgRow {
            line: 0,
            kind,
            path,
            name,
        });
    };
    let unit = |k| RowKind::Unit(k, None);
    push(unit(UnitKind::District), "/gusu".into(), "姑苏区".into());
    for (code, name) in DEPARTMENTS {
        push(RowKind::Department, format!("/gusu:{code}"), name.into());
    }
    for street in &STREETS {
        let street_path = format!("/gusu/{}", street.code);
        push(
            unit(UnitKind::Street),
            street_path.clone(),
            street.name.into(),
        );
        let ws = format!("{street_path}/ws1");
        push(
            unit(UnitKind::Workstation),
            ws.clone(),
            street.workstation.into(),
        );
        for (code, name, grids) in &street.communities {
            let community = format!("{ws}/{code}");
            push(unit(UnitKind::Community), community.clone(), (*name).into());
            for (i, [building, lane, courtyard]) in grids.iter().enumerate() {
                let grid = format!("{community}/g{:02}", i + 1);
                push(
                    unit(UnitKind::Grid),
                    grid.clone(),
                    format!("{name}{}", GRID_NUMBERS[i]),
                );
                for (code, kind, sector_name) in [
                    ("b1", SectorKind::Building, building),
                    ("l1", SectorKind::Lane, lane),
                    ("c1", SectorKind::Courtyard, courtyard),
                ] {
                    push(
                        RowKind::Unit(UnitKind::Sector, Some(kind)),
                        format!("{grid}/{code}"),
                        (*sector_name).into(),
                    );
                }
            }
        }
    }
    rows
}

/// (username, display name, role, unit, department)
pub const ACCOUNTS: [(&str, &str, Role, &str, Option<&str>); 10] = [
    ("admin", "周海棠", Role::DistrictAdmin, "/gusu", None),
    (
        "street1",
        "陈建华",
        Role::StreetSupervisor,
        "/gusu/byw",
        None,
    ),
    (
        "ws1",
        "王立新",
        Role::WorkstationSupervisor,
        "/gusu/byw/ws1",
        None,
    ),
    (
        "community1",
        "李秀英",
        Role::CommunitySupervisor,
        "/gusu/byw/ws1/jinzhu",
        None,
    ),
    (
        "grid1",
        "张伟",
        Role::GridStaff,
        "/gusu/byw/ws1/jinzhu/g01",
        None,
    ),
    (
        "grid2",
        "刘芳",
        Role::GridStaff,
        "/gusu/byw/ws1/jinzhu/g02",
        None,
    ),
    (
        "lou1",
        "顾阿姨",
        Role::Leader,
        "/gusu/byw/ws1/jinzhu/g01/b1",
        None,
    ),
    (
        "xiang1",
        "沈伯伯",
        Role::Leader,
        "/gusu/byw/ws1/jinzhu/g01/l1",
        None,
    ),
    (
        "yuan1",
        "潘阿婆",
        Role::Leader,
        "/gusu/byw/ws1/jinzhu/g02/c1",
        None,
    ),
    (
        "police1",
        "赵警官",
        Role::DepartmentHandler,
        "/gusu",
        Some("/gusu:police"),
    ),
];

pub async fn seed(db: &Db) -> anyhow::Result<()> {
    let report = db.import_org(org_rows()).await?;
    let mut hash = None;
    let mut added = 0;
    for (username, name, role, unit, department) in ACCOUNTS {
        if db.user_by_username(username.into()).await?.is_some() {
            continue;
        }
        // One hash for all: the password is public anyway, and hashing is slow on purpose.
        let password_hash = match &hash {
            Some(h) => String::clone(h),
            None => {
                let h = Passwords::new(1).hash(PASSWORD.into()).await?;
                hash = Some(h.clone());
                h
            }
        };
        db.add_user(NewUser {
            username: username.into(),
            name: name.into(),
            role,
            unit: unit.into(),
            department: department.map(Into::into),
            password_hash,
        })
        .await?;
        added += 1;
    }
    tracing::info!(
        units = report.units_created,
        departments = report.departments_created,
        users = added,
        "demo district seeded"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_tree_shape() {
        let rows = org_rows();
        let count = |k: UnitKind| {
            rows.iter()
                .filter(|r| matches!(r.kind, RowKind::Unit(kind, _) if kind == k))
                .count()
        };
        assert_eq!(count(UnitKind::District), 1);
        assert_eq!(count(UnitKind::Street), 2);
        assert_eq!(count(UnitKind::Workstation), 2);
        assert_eq!(count(UnitKind::Community), 4);
        assert_eq!(count(UnitKind::Grid), 12);
        assert_eq!(count(UnitKind::Sector), 36);
        for (_, _, _, unit, _) in ACCOUNTS {
            assert!(rows.iter().any(|r| r.path == unit), "{unit} missing");
        }
    }
}
