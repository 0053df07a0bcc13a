//! Settings and accounts as typed documents in the profile database (one row each, JSON
//! through serde, written in a transaction). A profile from before the database brings its
//! `settings.json` and `accounts.json` in on first open (the files are kept, renamed
//! `.imported`). A damaged document is kept aside in the database and the defaults used, so
//! nothing the user set is silently lost and the phone still starts.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::{DbError, now_ms};
use crate::{Profile, StoreError};

/// The profile's settings and accounts documents.
#[derive(Debug)]
pub struct ProfileDocuments {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl ProfileDocuments {
    pub fn open(profile: &Profile) -> Result<Self, StoreError> {
        let path = profile.data_dir().join("siperb.db");
        Ok(Self {
            conn: Mutex::new(crate::db::open(&path)?),
            path,
        })
    }

    /// The document `name`; on first use, the profile's older JSON file `legacy` brought in.
    pub fn load<T: DeserializeOwned + Serialize + Default>(
        &self,
        name: &str,
        legacy: &Path,
    ) -> Result<T, StoreError> {
        let body: Option<String> = {
            let conn = self.lock()?;
            conn.query_row("SELECT body FROM documents WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(DbError::from)?
        };
        match body {
            Some(body) => serde_json::from_str(&body).map_err(|source| {
                let backup = format!("{name}.damaged.{}", now_ms());
                let kept = self.lock().and_then(|conn| {
                    conn.execute(
                        "UPDATE documents SET name = ?2 WHERE name = ?1",
                        params![name, backup],
                    )
                    .map_err(|e| StoreError::Db(e.into()))
                });
                if let Err(e) = kept {
                    tracing::warn!("the damaged {name} could not be kept aside: {e}");
                }
                StoreError::Corrupt {
                    path: self.path.clone(),
                    backup: PathBuf::from(format!("the document '{backup}' in it")),
                    source,
                }
            }),
            None if legacy.exists() => {
                let value: T = crate::settings::read_json(legacy)?;
                self.save(name, &value)?;
                let _ = std::fs::rename(legacy, legacy.with_extension("json.imported"));
                Ok(value)
            }
            None => Ok(T::default()),
        }
    }

    pub fn save<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        let body = serde_json::to_string(value).map_err(|e| {
            StoreError::Db(DbError::Unavailable(format!(
                "{name} cannot be written: {e}"
            )))
        })?;
        self.lock()?
            .execute(
                "INSERT INTO documents (name, body, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET body = excluded.body,
                     updated_at = excluded.updated_at",
                params![name, body, now_ms()],
            )
            .map_err(DbError::from)?;
        Ok(())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Db(DbError::Unavailable("a writer failed".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Accounts, Settings, ThemePreference};

    fn profile() -> (tempfile::TempDir, Profile) {
        let dir = tempfile::tempdir().expect("dir");
        let p = Profile::at(dir.path());
        p.ensure().expect("folders");
        (dir, p)
    }

    #[test]
    fn settings_are_kept_in_the_database_across_opens() {
        let (_d, p) = profile();
        let docs = ProfileDocuments::open(&p).expect("open");
        let s: Settings = docs.load("settings", &p.settings_file()).expect("load");
        assert_eq!(s, Settings::default());
        let dark = Settings {
            theme: ThemePreference::Dark,
            ..Settings::default()
        };
        docs.save("settings", &dark).expect("save");
        drop(docs);
        let docs = ProfileDocuments::open(&p).expect("reopen");
        let s: Settings = docs.load("settings", &p.settings_file()).expect("load");
        assert_eq!(s, dark);
        assert!(!p.settings_file().exists(), "no JSON file is written");
    }

    #[test]
    fn an_older_profiles_json_files_are_brought_in_once() {
        let (_d, p) = profile();
        std::fs::write(p.settings_file(), br#"{"theme": "light"}"#).expect("write");
        std::fs::write(p.accounts_file(), br#"{"accounts": []}"#).expect("write");
        let docs = ProfileDocuments::open(&p).expect("open");
        let s: Settings = docs.load("settings", &p.settings_file()).expect("load");
        assert_eq!(s.theme, ThemePreference::Light);
        let a: Accounts = docs.load("accounts", &p.accounts_file()).expect("load");
        assert!(a.accounts.is_empty());
        assert!(!p.settings_file().exists());
        assert!(p.settings_file().with_extension("json.imported").exists());
        // Changed later: the database wins, the old file is not read again.
        docs.save(
            "settings",
            &Settings {
                theme: ThemePreference::Dark,
                ..Settings::default()
            },
        )
        .expect("save");
        let s: Settings = docs.load("settings", &p.settings_file()).expect("load");
        assert_eq!(s.theme, ThemePreference::Dark);
    }

    #[test]
    fn a_damaged_document_is_kept_aside_and_reported() {
        let (_d, p) = profile();
        let docs = ProfileDocuments::open(&p).expect("open");
        docs.lock()
            .expect("lock")
            .execute(
                "INSERT INTO documents (name, body, updated_at) VALUES ('settings', '{bad', 0)",
                [],
            )
            .expect("insert");
        let e = docs
            .load::<Settings>("settings", &p.settings_file())
            .expect_err("damaged");
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("settings.damaged"), "{e}");
        // Kept, and the next load starts from the defaults.
        let kept: i64 = docs
            .lock()
            .expect("lock")
            .query_row(
                "SELECT count(*) FROM documents WHERE name LIKE 'settings.damaged.%' AND body = '{bad'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(kept, 1);
        let s: Settings = docs.load("settings", &p.settings_file()).expect("load");
        assert_eq!(s, Settings::default());
    }
}
