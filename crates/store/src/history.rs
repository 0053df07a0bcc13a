//! Call history: a call is written when it starts and completed when it ends, so a crash or
//! a `kill -9` mid-call leaves it in the history; the next process to open the history marks
//! it interrupted (once its owner is gone: several processes share one profile).
//!
//! Who owns an ongoing call: each process holds an OS file lock on `data/owners/<pid>.lock`
//! for as long as it runs. A call whose owner's lock can be taken has lost its owner.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::db::{DbError, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum CallDirection {
    Incoming,
    Outgoing,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Not over yet.
    Ongoing,
    Answered,
    /// An incoming call nobody answered (the caller gave up, or no answer in time).
    Missed,
    /// We declined it (or Do Not Disturb did).
    Rejected,
    /// The far end was busy.
    Busy,
    /// The call could not be made (refused, network, media).
    Failed,
    /// We gave up on our own outgoing call before the answer.
    Cancelled,
    /// The phone stopped during the call (a crash, a kill, a power cut).
    Interrupted,
}

impl Disposition {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ongoing => "ongoing",
            Self::Answered => "answered",
            Self::Missed => "missed",
            Self::Rejected => "rejected",
            Self::Busy => "busy",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "answered" => Self::Answered,
            "missed" => Self::Missed,
            "rejected" => Self::Rejected,
            "busy" => Self::Busy,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "interrupted" => Self::Interrupted,
            _ => Self::Ongoing,
        }
    }
}

/// A call as the history shows it. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    pub id: i64,
    pub account: String,
    pub direction: CallDirection,
    pub remote_uri: String,
    pub number: String,
    pub display_name: String,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Talk time (answer to end), seconds.
    pub duration_secs: Option<f64>,
    pub disposition: Disposition,
    /// The SIP status that ended it, when one did (486, 603, 404…).
    pub sip_code: Option<u16>,
    pub sip_reason: Option<String>,
    pub codec: Option<String>,
    /// The call's quality (E-model MOS, last reported).
    pub mos: Option<f32>,
    pub seen: bool,
}

/// A call that starts.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub account: String,
    pub direction: CallDirection,
    pub remote_uri: String,
    pub number: String,
    pub display_name: String,
}

/// How a call ended.
#[derive(Debug, Clone, Default)]
pub struct CallEnd {
    pub disposition: Option<Disposition>,
    pub sip_code: Option<u16>,
    pub sip_reason: Option<String>,
    pub codec: Option<String>,
    pub mos: Option<f32>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub missed_only: bool,
    /// Calls whose address, number or name contains this (any case).
    pub search: Option<String>,
    /// At most this many, newest first (0: 100).
    pub limit: usize,
}

/// The history of one profile, for one process.
pub struct History {
    conn: Connection,
    /// This process's owner lock (held while the process lives).
    _owner: std::fs::File,
    pid: u32,
    /// The lock file, removed when this history closes normally.
    lock_path: PathBuf,
}

impl Drop for History {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").field("pid", &self.pid).finish()
    }
}

fn owners_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("owners")
}

impl History {
    /// Opens the profile's history (`data_dir/siperb.db`) and marks interrupted the calls of
    /// processes that are gone.
    pub fn open(data_dir: &Path) -> Result<Self, DbError> {
        std::fs::create_dir_all(owners_dir(data_dir)).map_err(|e| DbError::Open {
            path: owners_dir(data_dir),
            source: rusqlite::Error::InvalidPath(PathBuf::from(e.to_string())),
        })?;
        let pid = std::process::id();
        let lock_path = owners_dir(data_dir).join(format!("{pid}.lock"));
        let owner = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| DbError::Open {
                path: lock_path.clone(),
                source: rusqlite::Error::InvalidPath(PathBuf::from(e.to_string())),
            })?;
        // Held for the life of this process (the OS lets go when it ends, however it ends).
        // Never waited for: a second history of this process on the same profile (tests)
        // finds it held already, by us.
        let _ = owner.try_lock();
        let conn = crate::db::open(&data_dir.join("siperb.db"))?;
        let history = Self {
            conn,
            _owner: owner,
            pid,
            lock_path,
        };
        history.recover(data_dir)?;
        Self::sweep(data_dir, pid);
        Ok(history)
    }

    /// Calls left ongoing by a process that is gone: interrupted, ended when last known.
    fn recover(&self, data_dir: &Path) -> Result<(), DbError> {
        let mut q = self
            .conn
            .prepare("SELECT DISTINCT owner FROM calls WHERE disposition = 'ongoing'")?;
        let owners: Vec<u32> = q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        for owner in owners {
            if owner == self.pid {
                continue;
            }
            let lock = owners_dir(data_dir).join(format!("{owner}.lock"));
            let gone = match std::fs::File::open(&lock) {
                // Its lock can be taken: nobody holds it.
                Ok(f) => f.try_lock().is_ok(),
                Err(_) => true,
            };
            if gone {
                self.conn.execute(
                    "UPDATE calls SET disposition = 'interrupted',
                         ended_at = coalesce(ended_at, last_seen_at, answered_at, started_at)
                     WHERE disposition = 'ongoing' AND owner = ?1",
                    params![owner],
                )?;
                let _ = std::fs::remove_file(&lock);
            }
        }
        Ok(())
    }

    /// Writes a call that starts; its id.
    pub fn start(&self, call: &NewCall) -> Result<i64, DbError> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO calls (account, direction, remote_uri, number, display_name,
                                started_at, last_seen_at, owner)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
            params![
                call.account,
                match call.direction {
                    CallDirection::Incoming => "incoming",
                    CallDirection::Outgoing => "outgoing",
                },
                call.remote_uri,
                call.number,
                call.display_name,
                now,
                self.pid
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The call was answered (now).
    pub fn answered(&self, id: i64) -> Result<(), DbError> {
        let now = now_ms();
        self.conn.execute(
            "UPDATE calls SET answered_at = coalesce(answered_at, ?2), last_seen_at = ?2
             WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// The call is still up (now): what an interrupted call's end time will say.
    pub fn alive(&self, id: i64, codec: Option<&str>, mos: Option<f32>) -> Result<(), DbError> {
        self.conn.execute(
            "UPDATE calls SET last_seen_at = ?2, codec = coalesce(?3, codec), mos = coalesce(?4, mos)
             WHERE id = ?1 AND disposition = 'ongoing'",
            params![id, now_ms(), codec, mos],
        )?;
        Ok(())
    }

    /// The call ended (now). Without a disposition: answered if it was, else failed.
    pub fn ended(&self, id: i64, end: &CallEnd) -> Result<(), DbError> {
        let now = now_ms();
        let answered: Option<Option<i64>> = self
            .conn
            .query_row("SELECT answered_at FROM calls WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(answered) = answered else {
            return Ok(());
        };
        let disposition = end.disposition.unwrap_or(if answered.is_some() {
            Disposition::Answered
        } else {
            Disposition::Failed
        });
        self.conn.execute(
            "UPDATE calls SET ended_at = ?2, last_seen_at = ?2, disposition = ?3, sip_code = ?4,
                 sip_reason = ?5, codec = coalesce(?6, codec), mos = coalesce(?7, mos)
             WHERE id = ?1",
            params![
                id,
                now,
                disposition.as_str(),
                end.sip_code,
                end.sip_reason,
                end.codec,
                end.mos
            ],
        )?;
        Ok(())
    }

    /// Calls, newest first.
    pub fn list(&self, query: &HistoryQuery) -> Result<Vec<CallRecord>, DbError> {
        let limit = if query.limit == 0 { 100 } else { query.limit } as i64;
        let missed = if query.missed_only {
            "AND c.disposition = 'missed'"
        } else {
            ""
        };
        // "7946 00" finds 02079460018: separators typed in a number do not count.
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let compact: String = s
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                    .collect();
                if !compact.is_empty() && compact.chars().all(|c| c.is_ascii_digit() || c == '+') {
                    compact
                } else {
                    s.to_owned()
                }
            });
        let search = search.as_deref();
        let columns = "c.id, c.account, c.direction, c.remote_uri, c.number, c.display_name,
                       c.started_at, c.answered_at, c.ended_at, c.disposition, c.sip_code,
                       c.sip_reason, c.codec, c.mos, c.seen";
        let rows = match search {
            // Three characters or more: the trigram index; fewer: a scan (short anyway).
            Some(s) if s.chars().count() >= 3 => {
                let sql = format!(
                    "SELECT {columns} FROM calls_search JOIN calls c ON c.id = calls_search.rowid
                     WHERE calls_search MATCH ?1 {missed}
                     ORDER BY c.started_at DESC, c.id DESC LIMIT ?2"
                );
                let phrase = format!("\"{}\"", s.replace('"', "\"\""));
                self.collect(&sql, params![phrase, limit])?
            }
            Some(s) => {
                let sql = format!(
                    "SELECT {columns} FROM calls c
                     WHERE (instr(lower(c.remote_uri), lower(?1)) OR instr(lower(c.number), lower(?1))
                            OR instr(lower(c.display_name), lower(?1))) {missed}
                     ORDER BY c.started_at DESC, c.id DESC LIMIT ?2"
                );
                self.collect(&sql, params![s, limit])?
            }
            None => {
                let sql = format!(
                    "SELECT {columns} FROM calls c WHERE 1 {missed}
                     ORDER BY c.started_at DESC, c.id DESC LIMIT ?1"
                );
                self.collect(&sql, params![limit])?
            }
        };
        Ok(rows)
    }

    fn collect(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<CallRecord>, DbError> {
        let mut q = self.conn.prepare_cached(sql)?;
        let rows = q.query_map(args, |r| {
            let answered: Option<i64> = r.get(7)?;
            let ended: Option<i64> = r.get(8)?;
            Ok(CallRecord {
                id: r.get(0)?,
                account: r.get(1)?,
                direction: if r.get::<_, String>(2)? == "incoming" {
                    CallDirection::Incoming
                } else {
                    CallDirection::Outgoing
                },
                remote_uri: r.get(3)?,
                number: r.get(4)?,
                display_name: r.get(5)?,
                started_at: r.get(6)?,
                answered_at: answered,
                ended_at: ended,
                duration_secs: answered
                    .zip(ended)
                    .map(|(a, e)| (e - a).max(0) as f64 / 1000.0),
                disposition: Disposition::parse(&r.get::<_, String>(9)?),
                sip_code: r.get(10)?,
                sip_reason: r.get(11)?,
                codec: r.get(12)?,
                mos: r.get(13)?,
                seen: r.get(14)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Missed calls the user has not seen yet (the tray badge).
    pub fn unseen_missed(&self) -> Result<u32, DbError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM calls WHERE disposition = 'missed' AND seen = 0",
            [],
            |r| r.get(0),
        )?)
    }

    /// The user has seen the missed calls.
    pub fn mark_seen(&self) -> Result<(), DbError> {
        self.conn
            .execute("UPDATE calls SET seen = 1 WHERE seen = 0", [])?;
        Ok(())
    }

    /// Forgets every finished call (ongoing ones stay).
    pub fn clear(&self) -> Result<usize, DbError> {
        Ok(self
            .conn
            .execute("DELETE FROM calls WHERE disposition != 'ongoing'", [])?)
    }

    /// Owner locks left by processes that are gone without a call to recover (killed while
    /// idle): removed.
    fn sweep(data_dir: &Path, pid: u32) {
        let Ok(entries) = std::fs::read_dir(owners_dir(data_dir)) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let theirs = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok());
            if theirs.is_some_and(|p| p != pid)
                && std::fs::File::open(&path).is_ok_and(|f| f.try_lock().is_ok())
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// The database connection, for tests and maintenance.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests;
