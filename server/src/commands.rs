//! The administrator's command line (`haitang org ...`, `haitang user ...`): the same
//! operations as the admin API, run straight against the database file.

use crate::auth::{Passwords, password_policy};
use crate::db::Db;
use crate::db::org::ImportError;
use crate::db::users::NewUser;
use crate::org_import::{self, Format};
use crate::records::Records;
use haitang_sync::scope::Role;
use std::io::Read;
use std::path::Path;

/// Imports an org file (JSON or CSV, chosen by extension or content; `-` reads stdin).
pub async fn org_import(db: &Db, file: &Path) -> anyhow::Result<()> {
    let name = file.to_string_lossy().into_owned();
    let text = if name == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
    };
    let format = Format::detect(&name, &text);
    let rows = match org_import::parse(format, &text) {
        Ok(rows) => rows,
        Err(errors) => return Err(rows_error(&name, &errors)),
    };
    match db.import_org(rows).await {
        Ok(r) => {
            println!(
                "imported {name}: {} units created, {} renamed; {} departments created, {} renamed",
                r.units_created, r.units_updated, r.departments_created, r.departments_updated
            );
            Ok(())
        }
        Err(ImportError::Rows(errors)) => Err(rows_error(&name, &errors)),
        Err(ImportError::Db(e)) => Err(e.into()),
    }
}

fn rows_error(name: &str, errors: &[org_import::RowError]) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| format!("  {name}:{e}")).collect();
    anyhow::anyhow!(
        "{} bad row(s); nothing was imported:\n{}",
        errors.len(),
        lines.join("\n")
    )
}

pub struct AddUser {
    pub username: String,
    pub name: String,
    pub role: Role,
    pub unit: String,
    pub department: Option<String>,
    pub password: String,
}

pub async fn user_add(db: &Db, a: AddUser) -> anyhow::Result<()> {
    password_policy(&a.password).map_err(anyhow::Error::msg)?;
    let password_hash = Passwords::new(1).hash(a.password).await?;
    let user = db
        .add_user(NewUser {
            username: a.username,
            name: a.name,
            role: a.role,
            unit: a.unit,
            department: a.department,
            password_hash,
        })
        .await?;
    println!(
        "added user {} (id {}), {} at {}",
        user.username, user.id, user.role, user.unit
    );
    Ok(())
}

pub async fn user_set_active(db: &Db, username: String, active: bool) -> anyhow::Result<()> {
    let user = db.set_active(username, active).await?;
    let state = if active {
        "enabled"
    } else {
        "disabled; every session revoked"
    };
    println!("user {} {state}", user.username);
    Ok(())
}

pub async fn user_reset_password(
    db: &Db,
    username: String,
    password: String,
) -> anyhow::Result<()> {
    password_policy(&password).map_err(anyhow::Error::msg)?;
    let hash = Passwords::new(1).hash(password).await?;
    let user = db.set_password(username, hash).await?;
    println!("password of {} reset; every session revoked", user.username);
    Ok(())
}

pub async fn user_revoke_sessions(db: &Db, username: String) -> anyhow::Result<()> {
    let user = db
        .user_by_username(username.clone())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user `{username}`"))?;
    let n = db.revoke_user_sessions(user.id).await?;
    println!("revoked {n} session(s) of {}", user.username);
    Ok(())
}

pub async fn user_list(db: &Db, under: String) -> anyhow::Result<()> {
    let users = db.users_under(under).await?;
    println!(
        "{:<16} {:<10} {:<24} {:<8} unit",
        "username", "name", "role", "active"
    );
    for u in users {
        println!(
            "{:<16} {:<10} {:<24} {:<8} {}{}",
            u.username,
            u.name,
            u.role.as_str(),
            if u.active { "yes" } else { "no" },
            u.unit,
            u.department.map(|d| format!(" ({d})")).unwrap_or_default()
        );
    }
    Ok(())
}

/// Lists damaged records; an error (non-zero exit) if there are any.
pub async fn records_check(records: &Records) -> anyhow::Result<()> {
    let damaged = records.damaged().await?;
    if damaged.is_empty() {
        println!("every record loads");
        return Ok(());
    }
    for id in &damaged {
        println!("{id}");
    }
    anyhow::bail!(
        "{} damaged record(s); repair each with `haitang records repair ID`",
        damaged.len()
    )
}

/// Rebuilds one damaged record and says what was set aside.
pub async fn records_repair(db: &Db, records: &Records, id: String) -> anyhow::Result<()> {
    let actor = crate::jobs::server_actor_of(db).await?;
    match records.repair(actor, id.clone()).await? {
        None => anyhow::bail!("no record {id}"),
        Some(report) => {
            println!(
                "record {id}: kept {} change(s), set aside {}",
                report.kept,
                report.dropped.len()
            );
            for (hash, why) in report.dropped {
                println!("  set aside {hash}: {why}");
            }
            Ok(())
        }
    }
}

/// `haitang household import FILE --as USERNAME`.
pub async fn household_import(
    state: &crate::AppState,
    file: &Path,
    username: &str,
) -> anyhow::Result<()> {
    let name = file.to_string_lossy().into_owned();
    let bytes = if name == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
        b
    } else {
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
    };
    let user = state
        .db
        .user_for_login(username.to_owned())
        .await?
        .map(|(u, _)| u)
        .filter(|u| u.active)
        .ok_or_else(|| anyhow::anyhow!("no active account {username:?}"))?;
    match crate::households::import(&state.db, &state.records, &state.ids, &user, &bytes).await {
        Ok(r) => {
            println!(
                "imported {name}: {} households created, {} updated; {} people added, {} updated, {} unchanged",
                r.households_created,
                r.households_updated,
                r.people_added,
                r.people_updated,
                r.people_unchanged
            );
            Ok(())
        }
        Err(crate::households::ImportError::Rows(errors)) => {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {name}:{e}")).collect();
            Err(anyhow::anyhow!(
                "{} bad row(s); nothing was imported:\n{}",
                errors.len(),
                lines.join("\n")
            ))
        }
        Err(crate::households::ImportError::Db(e)) => Err(e.into()),
    }
}
