//! Which catalog the servers of a test run use. `CALLVAULT_TEST_BACKEND` unset (or
//! `sqlite`): the default SQLite file in the data directory. `CALLVAULT_TEST_BACKEND=postgres`:
//! a fresh database `callvault_e2e_<random>` on the local PostgreSQL server for each data
//! directory, found again when a server restarts on the same directory, and dropped once the
//! directory is gone (the test's temp dir removed) or the test process has ended.
//!
//! The server is the one the store's tests use: `CALLVAULT_TEST_POSTGRES` (an admin URL)
//! overrides `postgres://postgres@127.0.0.1:5432/test`. Databases are created and dropped
//! with `psql`. When PostgreSQL is asked for but cannot be reached, tests fail: a run that
//! asked for PostgreSQL must really run on it.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

const DEFAULT_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

enum Backend {
    Sqlite,
    Postgres { admin: String },
}

fn backend() -> &'static Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        match std::env::var("CALLVAULT_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
            Ok("postgres") => {
                let admin = std::env::var("CALLVAULT_TEST_POSTGRES")
                    .ok()
                    .filter(|a| !a.is_empty() && a != "off")
                    .unwrap_or_else(|| DEFAULT_ADMIN.to_string());
                Backend::Postgres { admin }
            }
            Ok(other) => panic!(
                "CALLVAULT_TEST_BACKEND={other:?} is not a backend: use sqlite (the default) or postgres"
            ),
        }
    })
}

/// The databases created by this process, by data directory.
fn databases() -> &'static Mutex<HashMap<PathBuf, String>> {
    static DATABASES: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    DATABASES.get_or_init(Default::default)
}

/// The processes that drop those databases once their directory is gone.
fn droppers() -> &'static Mutex<Vec<Child>> {
    static DROPPERS: OnceLock<Mutex<Vec<Child>>> = OnceLock::new();
    DROPPERS.get_or_init(Default::default)
}

/// The `--database` to give a server on `data_dir` (which must exist), or `None` for the
/// default SQLite catalog inside it.
pub fn database_for(data_dir: &Path) -> Option<String> {
    let Backend::Postgres { admin } = backend() else {
        return None;
    };
    let mut dbs = databases().lock().unwrap_or_else(|e| e.into_inner());
    let name = match dbs.get(data_dir) {
        Some(name) => name.clone(),
        None => {
            let name = create_database(admin);
            watch_and_drop(admin, &name, data_dir);
            dbs.insert(data_dir.to_path_buf(), name.clone());
            name
        }
    };
    Some(database_url(admin, &name))
}

fn psql(admin: &str, sql: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5");
    cmd
}

fn create_database(admin: &str) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let name = format!("callvault_e2e_{:016x}", h.finish());
    let out = psql(admin, &format!("CREATE DATABASE {name}"))
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => name,
        Ok(out) => panic!(
            "CALLVAULT_TEST_BACKEND=postgres, but the test database could not be created on \
             {admin}: {}\nStart PostgreSQL (scripts/test.sh shows how), set \
             CALLVAULT_TEST_POSTGRES to another server, or unset CALLVAULT_TEST_BACKEND to \
             test on SQLite.",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "CALLVAULT_TEST_BACKEND=postgres needs psql to create test databases, and it \
             could not be run: {e}"
        ),
    }
}

/// Starts a small process that drops `name` once `data_dir` no longer exists or this test
/// process has ended, whichever comes first. A process of its own, because the test
/// harness exits without running destructors and the last temp dirs go away just before.
fn watch_and_drop(admin: &str, name: &str, data_dir: &Path) {
    const SCRIPT: &str = r#"while [ -e "$1" ] && kill -0 "$2" 2>/dev/null; do sleep 0.2; done
exec psql -X -q -d "$3" -c "DROP DATABASE IF EXISTS $4 WITH (FORCE)""#;
    let child = Command::new("sh")
        .args(["-c", SCRIPT, "drop-test-database"])
        .arg(data_dir)
        .arg(std::process::id().to_string())
        .args([admin, name])
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the process that drops the test database");
    let mut children = droppers().lock().unwrap_or_else(|e| e.into_inner());
    // Reap the ones that have finished.
    children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
    children.push(child);
}

/// The admin URL with its database replaced by `name`.
fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let (server, _db) = base
        .rsplit_once('/')
        .expect("CALLVAULT_TEST_POSTGRES is a postgres:// URL with a database");
    format!("{server}/{name}{query}")
}
