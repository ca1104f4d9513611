//! `haitang`: the command line. Parsing only; the work is in the library.

use clap::{Parser, Subcommand};
use haitang_server::commands::{self, AddUser};
use haitang_server::config::{Config, ConfigArgs};
use haitang_server::db::Db;
use haitang_server::records::Records;
use haitang_sync::scope::Role;
use std::path::PathBuf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Opts the server out of transparent huge pages. The allocator maps memory in large
/// arenas, and with huge pages a few bytes touched make 2 MiB resident: under
/// `haitang-bench sync` that was most of the server's memory (a peak of 150–230 MiB
/// against 85–95 MiB without). A small district server is short of memory, not of TLB.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::warn!(error = %e, "could not opt out of transparent huge pages");
    }
}

/// Haitang (海棠): offline-first grid patrol — the sync server and the field app in one binary.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app and the sync API.
    Serve(ConfigArgs),
    /// Manage the org tree.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The household registry.
    Household {
        #[command(subcommand)]
        command: HouseholdCommand,
    },
    /// Find and repair damaged records.
    Records {
        #[command(subcommand)]
        command: RecordsCommand,
    },
}

#[derive(Subcommand)]
enum RecordsCommand {
    /// List records whose saved state does not load (they take no pushes until repaired).
    /// Exits non-zero if there are any.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Rebuild a damaged record from its change log, setting aside the changes that broke it.
    Repair {
        /// The record's id.
        id: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum HouseholdCommand {
    /// Import a community's register from an Excel workbook (.xlsx, its first sheet) or a
    /// CSV file (UTF-8 or GBK; `-` for stdin), one
    /// row per person, as the account `--as` (a supervisor or administrator). All rows or
    /// none; a re-import of the same file changes nothing.
    Import {
        file: PathBuf,
        /// The account the import is made by: its area bounds what the file may hold.
        #[arg(long = "as")]
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Import units and departments from a JSON or CSV file (`-` for stdin). All rows or none.
    Import {
        file: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account.
    Add {
        #[arg(long)]
        username: String,
        /// Display name, e.g. 张伟.
        #[arg(long)]
        name: String,
        /// leader, grid_staff, community_supervisor, workstation_supervisor, street_supervisor, district_admin or department_handler.
        #[arg(long)]
        role: Role,
        /// Path of the home unit, e.g. /gusu/byw/ws1/jinzhu/g01.
        #[arg(long)]
        unit: String,
        /// Department key for handlers, e.g. /gusu:police.
        #[arg(long)]
        department: Option<String>,
        /// Initial password (at least 8 characters).
        #[arg(long, env = "HAITANG_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Disable an account and revoke its sessions.
    Disable {
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Enable a disabled account.
    Enable {
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Set a new password and revoke every session.
    ResetPassword {
        username: String,
        #[arg(long, env = "HAITANG_NEW_PASSWORD", hide_env_values = true)]
        password: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Revoke every session of an account (a lost phone).
    RevokeSessions {
        username: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List accounts at or under a unit.
    List {
        #[arg(long, default_value = "/")]
        under: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

fn open_db(args: &ConfigArgs) -> anyhow::Result<Db> {
    let config = Config::load(args)?;
    Ok(Db::open(&config.db, 1)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(&args)?;
            haitang_server::init_tracing(config.log_json);
            tracing::info!(?config, "starting");
            no_huge_pages();
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            haitang_server::serve(config, listener, haitang_server::shutdown_signal()).await
        }
        Command::Org {
            command: OrgCommand::Import { file, config },
        } => {
            haitang_server::init_tracing(false);
            commands::org_import(&open_db(&config)?, &file).await
        }
        Command::Household {
            command:
                HouseholdCommand::Import {
                    file,
                    username,
                    config,
                },
        } => {
            haitang_server::init_tracing(false);
            let config = Config::load(&config)?;
            let state = haitang_server::AppState::open(config).await?;
            commands::household_import(&state, &file, &username).await
        }
        Command::Records { command } => match command {
            RecordsCommand::Check { config } => {
                commands::records_check(&Records::new(open_db(&config)?, 1)).await
            }
            RecordsCommand::Repair { id, config } => {
                let db = open_db(&config)?;
                commands::records_repair(&db, &Records::new(db.clone(), 1), id).await
            }
        },
        Command::User { command } => {
            haitang_server::init_tracing(false);
            match command {
                UserCommand::Add {
                    username,
                    name,
                    role,
                    unit,
                    department,
                    password,
                    config,
                } => {
                    let db = open_db(&config)?;
                    commands::user_add(
                        &db,
                        AddUser {
                            username,
                            name,
                            role,
                            unit,
                            department,
                            password,
                        },
                    )
                    .await
                }
                UserCommand::Disable { username, config } => {
                    commands::user_set_active(&open_db(&config)?, username, false).await
                }
                UserCommand::Enable { username, config } => {
                    commands::user_set_active(&open_db(&config)?, username, true).await
                }
                UserCommand::ResetPassword {
                    username,
                    password,
                    config,
                } => commands::user_reset_password(&open_db(&config)?, username, password).await,
                UserCommand::RevokeSessions { username, config } => {
                    commands::user_revoke_sessions(&open_db(&config)?, username).await
                }
                UserCommand::List { under, config } => {
                    let under = if under == "/" { String::new() } else { under };
                    commands::user_list(&open_db(&config)?, under).await
                }
            }
        }
    }
}
