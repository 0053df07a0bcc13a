//! The profile database: one SQLite file (`data/siperb.db`) shared by the app and the CLI.
//!
//! Write-ahead logging (readers never wait for the engine's writes, a crash never leaves a
//! half-written page), foreign keys on, and a busy timeout so two processes on one profile
//! take turns instead of failing. The schema moves forward only: each migration runs once, in
//! a transaction, and `PRAGMA user_version` says how many have run. A database from a newer
//! version of the app is refused rather than damaged.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// The migrations, in order: `MIGRATIONS[n]` takes a database from version `n` to `n + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: call history.
    "CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
        remote_uri TEXT NOT NULL,
        number TEXT NOT NULL DEFAULT '',
        display_name TEXT NOT NULL DEFAULT '',
        started_at INTEGER NOT NULL,
        answered_at INTEGER,
        ended_at INTEGER,
        disposition TEXT NOT NULL DEFAULT 'ongoing',
        sip_code INTEGER,
        sip_reason TEXT,
        codec TEXT,
        mos REAL,
        seen INTEGER NOT NULL DEFAULT 0,
        -- The process that writes the call while it runs, and when it last said so.
        owner INTEGER NOT NULL DEFAULT 0,
        last_seen_at INTEGER
    );
    CREATE INDEX calls_by_start ON calls (started_at DESC);
    CREATE INDEX calls_unseen_missed ON calls (seen) WHERE disposition = 'missed';
    CREATE INDEX calls_ongoing ON calls (disposition) WHERE disposition = 'ongoing';
    CREATE VIRTUAL TABLE calls_search USING fts5 (
        remote_uri, number, display_name,
        content = 'calls', content_rowid = 'id', tokenize = 'trigram'
    );
    CREATE TRIGGER calls_search_insert AFTER INSERT ON calls BEGIN
        INSERT INTO calls_search (rowid, remote_uri, number, display_name)
        VALUES (new.id, new.remote_uri, new.number, new.display_name);
    END;
    CREATE TRIGGER calls_search_delete AFTER DELETE ON calls BEGIN
        INSERT INTO calls_search (calls_search, rowid, remote_uri, number, display_name)
        VALUES ('delete', old.id, old.remote_uri, old.number, old.display_name);
    END;
    CREATE TRIGGER calls_search_update AFTER UPDATE OF remote_uri, number, display_name ON calls BEGIN
        INSERT INTO calls_search (calls_search, rowid, remote_uri, number, display_name)
        VALUES ('delete', old.id, old.remote_uri, old.number, old.display_name);
        INSERT INTO calls_search (rowid, remote_uri, number, display_name)
        VALUES (new.id, new.remote_uri, new.number, new.display_name);
    END;",
    // 2: contacts, their numbers and addresses (with the comparable form caller IDs are
    // matched on), and their search index (kept by the code, in each write's transaction).
    "CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        company TEXT NOT NULL DEFAULT '',
        favourite INTEGER NOT NULL DEFAULT 0,
        notes TEXT NOT NULL DEFAULT '',
        photo BLOB,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE contact_addresses (
        id INTEGER PRIMARY KEY,
        contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('phone', 'sip')),
        label TEXT NOT NULL DEFAULT '',
        value TEXT NOT NULL,
        normalized TEXT NOT NULL,
        position INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX contact_addresses_by_contact ON contact_addresses (contact_id);
    CREATE INDEX contact_addresses_by_normalized ON contact_addresses (normalized);
    CREATE INDEX contacts_by_name ON contacts (favourite DESC, name COLLATE NOCASE);
    CREATE VIRTUAL TABLE contacts_search USING fts5 (
        name, company, addresses, tokenize = 'trigram'
    );",
    // 3: the settings and the accounts (no secrets), as typed JSON documents.
    "CREATE TABLE documents (
        name TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );",
];

/// What can go wrong with the database, in words a person can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    #[error("cannot open the profile database {path}: {source}")]
    Open {
        path: std::path::PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the profile database is from a newer Siperb (schema {found}, this one knows {known}); update Siperb to use this profile"
    )]
    TooNew { found: u32, known: u32 },
    #[error("the profile database could not be updated to schema {version}: {source}")]
    Migration {
        version: u32,
        source: rusqlite::Error,
    },
    #[error("the profile database failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database could not be opened earlier (said then); every request gets this.
    #[error("the call history is not available: {0}")]
    Unavailable(String),
}

/// The schema this build knows.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Opens (creating if needed) the database at `path` and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let opened = |source| DbError::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(opened)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(opened)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(opened)?;
    // With WAL, NORMAL loses at most the last transactions on power loss, never consistency.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(opened)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(opened)?;
    migrate(&conn, SCHEMA_VERSION)?;
    Ok(conn)
}

/// Runs the migrations a database at an earlier version needs, up to `target`.
pub(crate) fn migrate(conn: &Connection, target: u32) -> Result<(), DbError> {
    let target = target.min(SCHEMA_VERSION);
    loop {
        // The version is read inside the write lock: two processes opening a new profile
        // at once must not both run a step.
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|source| DbError::Migration { version: 0, source })?;
        let found: u32 = match conn.pragma_query_value(None, "user_version", |r| r.get(0)) {
            Ok(v) => v,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        };
        if found > SCHEMA_VERSION {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(DbError::TooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found >= target {
            conn.execute_batch("COMMIT")?;
            return Ok(());
        }
        // One transaction per step: a crash mid-way leaves the previous version intact.
        let failed = |source| DbError::Migration {
            version: found + 1,
            source,
        };
        let step = conn
            .execute_batch(MIGRATIONS[found as usize])
            .and_then(|()| conn.pragma_update(None, "user_version", found + 1));
        match step {
            Ok(()) => conn.execute_batch("COMMIT").map_err(failed)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(failed(e));
            }
        }
    }
}

/// Milliseconds since the Unix epoch, as the database stores times.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> u32 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version")
    }

    #[test]
    fn a_new_database_gets_the_whole_schema_in_wal_mode() {
        let dir = tempfile::tempdir().expect("dir");
        let conn = open(&dir.path().join("p.db")).expect("open");
        assert_eq!(version(&conn), SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .expect("fk");
        assert!(fk);
    }

    #[test]
    fn every_earlier_schema_migrates_to_the_current_one() {
        for start in 0..SCHEMA_VERSION {
            let dir = tempfile::tempdir().expect("dir");
            let path = dir.path().join("p.db");
            {
                let conn = Connection::open(&path).expect("open");
                migrate(&conn, start).expect("earlier schema");
                assert_eq!(version(&conn), start);
            }
            let conn = open(&path).expect("migrate");
            assert_eq!(version(&conn), SCHEMA_VERSION, "from {start}");
            // The same schema as a new database's.
            let schema = |c: &Connection| -> Vec<String> {
                let mut q = c
                    .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
                    .expect("schema");
                q.query_map([], |r| r.get(0))
                    .expect("rows")
                    .map(|r| r.expect("row"))
                    .collect()
            };
            let fresh = open(&dir.path().join("fresh.db")).expect("fresh");
            assert_eq!(schema(&conn), schema(&fresh), "from {start}");
        }
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
                .expect("version");
        }
        let e = open(&path).expect_err("too new");
        assert!(e.to_string().contains("newer Siperb"), "{e}");
        let conn = Connection::open(&path).expect("open");
        assert_eq!(version(&conn), SCHEMA_VERSION + 5);
    }

    #[test]
    fn a_failed_migration_leaves_the_database_as_it_was() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.db");
        let conn = Connection::open(&path).expect("open");
        // Something in the way of migration 1: a table of that name already.
        conn.execute_batch("CREATE TABLE calls (x INTEGER)")
            .expect("table");
        let e = migrate(&conn, SCHEMA_VERSION).expect_err("must fail");
        assert!(matches!(e, DbError::Migration { version: 1, .. }), "{e}");
        assert_eq!(version(&conn), 0);
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'calls_by_start'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(n, 0, "nothing of the failed step stays");
    }

    #[test]
    fn processes_opening_a_new_profile_at_once_migrate_it_once() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.db");
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || open(&path).map(|c| version(&c)))
            })
            .collect();
        for o in openers {
            assert_eq!(o.join().expect("thread").expect("open"), SCHEMA_VERSION);
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.db");
        std::fs::write(
            &path,
            b"this is not a database, just text, long enough to matter....",
        )
        .expect("write");
        let e = open(&path).expect_err("not a database");
        assert!(e.to_string().contains("profile database"), "{e}");
    }
}
