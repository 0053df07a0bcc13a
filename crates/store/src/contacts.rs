//! Contacts: a name, a company, several phone numbers and SIP addresses with labels, a
//! favourite mark, notes and an optional photo. Each address is also kept in its comparable
//! form ([`crate::numbers`]) so an incoming caller ID finds its contact however either was
//! written; names, companies and addresses are searchable as you type (a trigram index:
//! any fragment of three characters or more; shorter ones are scanned).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::db::{DbError, now_ms};
use crate::numbers::normalize_address;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    /// A phone number.
    Phone,
    /// A SIP address.
    Sip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ContactAddress {
    pub kind: AddressKind,
    /// "mobile", "work", "home"… (free text, may be empty).
    #[serde(default)]
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    /// `None` for a contact not saved yet.
    pub id: Option<i64>,
    pub name: String,
    pub company: String,
    pub favourite: bool,
    pub notes: String,
    pub addresses: Vec<ContactAddress>,
    /// A JPEG or PNG, as the vCard carried it.
    #[serde(skip)]
    pub photo: Option<Vec<u8>>,
}

/// Why a contact cannot be saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContactError {
    #[error("a contact needs a name, a company, or at least one number or address")]
    Empty,
    #[error("there is no contact {0}")]
    NoSuchContact(i64),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for ContactError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Db(DbError::Sql(e))
    }
}

/// The contacts of one profile.
pub struct Contacts {
    conn: Connection,
    region: Option<String>,
}

impl std::fmt::Debug for Contacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contacts")
            .field("region", &self.region)
            .finish()
    }
}

impl Contacts {
    /// The profile's contacts (`data_dir/siperb.db`); `region` reads national numbers.
    pub fn open(data_dir: &Path, region: Option<String>) -> Result<Self, DbError> {
        Ok(Self {
            conn: crate::db::open(&data_dir.join("siperb.db"))?,
            region,
        })
    }

    /// Saves a new contact (its `id` is ignored); its id.
    pub fn add(&mut self, contact: &Contact) -> Result<i64, ContactError> {
        check(contact)?;
        let tx = self.conn.transaction()?;
        let now = now_ms();
        tx.execute(
            "INSERT INTO contacts (name, company, favourite, notes, photo, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                contact.name.trim(),
                contact.company.trim(),
                contact.favourite,
                contact.notes,
                contact.photo,
                now
            ],
        )?;
        let id = tx.last_insert_rowid();
        write_addresses(&tx, id, contact, self.region.as_deref())?;
        tx.commit()?;
        Ok(id)
    }

    /// Replaces a saved contact (by its `id`). Its photo stays unless a new one is given (the
    /// UI edits the other fields and never carries the photo).
    pub fn update(&mut self, contact: &Contact) -> Result<(), ContactError> {
        check(contact)?;
        let id = contact.id.ok_or(ContactError::NoSuchContact(0))?;
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE contacts SET name = ?2, company = ?3, favourite = ?4, notes = ?5,
                 photo = coalesce(?6, photo), updated_at = ?7 WHERE id = ?1",
            params![
                id,
                contact.name.trim(),
                contact.company.trim(),
                contact.favourite,
                contact.notes,
                contact.photo,
                now_ms()
            ],
        )?;
        if n == 0 {
            return Err(ContactError::NoSuchContact(id));
        }
        tx.execute("DELETE FROM contact_addresses WHERE contact_id = ?1", [id])?;
        tx.execute("DELETE FROM contacts_search WHERE rowid = ?1", [id])?;
        write_addresses(&tx, id, contact, self.region.as_deref())?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete(&mut self, id: i64) -> Result<(), ContactError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM contacts_search WHERE rowid = ?1", [id])?;
        if tx.execute("DELETE FROM contacts WHERE id = ?1", [id])? == 0 {
            return Err(ContactError::NoSuchContact(id));
        }
        tx.commit()?;
        Ok(())
    }

    pub fn get(&self, id: i64) -> Result<Option<Contact>, ContactError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, name, company, favourite, notes, photo FROM contacts WHERE id = ?1",
                [id],
                contact_row,
            )
            .optional()?;
        row.map(|c| self.with_addresses(c)).transpose()
    }

    /// Every contact, favourites first, then by name.
    pub fn list(&self, limit: usize) -> Result<Vec<Contact>, ContactError> {
        let mut q = self.conn.prepare_cached(
            "SELECT id, name, company, favourite, notes, photo FROM contacts
             ORDER BY favourite DESC, name COLLATE NOCASE, id LIMIT ?1",
        )?;
        let rows: Vec<Contact> = q
            .query_map([limit_of(limit)], contact_row)?
            .collect::<Result<_, _>>()?;
        rows.into_iter().map(|c| self.with_addresses(c)).collect()
    }

    /// Contacts whose name, company, number or address contains `text` (any case; a number
    /// as typed or in its international form), favourites first.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<Contact>, ContactError> {
        let text = text.trim();
        if text.is_empty() {
            return self.list(limit);
        }
        // "7946 00" finds +442079460018: separators typed in a number do not count.
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let wanted = if compact.chars().all(|c| c.is_ascii_digit() || c == '+') {
            compact
        } else {
            text.to_owned()
        };
        let rows: Vec<Contact> = if wanted.chars().count() >= 3 {
            let mut q = self.conn.prepare_cached(
                "SELECT c.id, c.name, c.company, c.favourite, c.notes, c.photo
                 FROM contacts_search s JOIN contacts c ON c.id = s.rowid
                 WHERE contacts_search MATCH ?1
                 ORDER BY c.favourite DESC, c.name COLLATE NOCASE, c.id LIMIT ?2",
            )?;
            let phrase = format!("\"{}\"", wanted.replace('"', "\"\""));
            q.query_map(params![phrase, limit_of(limit)], contact_row)?
                .collect::<Result<_, _>>()?
        } else {
            let mut q = self.conn.prepare_cached(
                "SELECT c.id, c.name, c.company, c.favourite, c.notes, c.photo
                 FROM contacts_search s JOIN contacts c ON c.id = s.rowid
                 WHERE instr(lower(s.name), lower(?1)) OR instr(lower(s.company), lower(?1))
                       OR instr(lower(s.addresses), lower(?1))
                 ORDER BY c.favourite DESC, c.name COLLATE NOCASE, c.id LIMIT ?2",
            )?;
            q.query_map(params![wanted, limit_of(limit)], contact_row)?
                .collect::<Result<_, _>>()?
        };
        rows.into_iter().map(|c| self.with_addresses(c)).collect()
    }

    /// The contact a caller ID (a SIP URI, a `tel:` URI or a number) belongs to.
    pub fn find_by_address(&self, caller: &str) -> Result<Option<Contact>, ContactError> {
        let key = normalize_address(caller, self.region.as_deref());
        if key.is_empty() {
            return Ok(None);
        }
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT contact_id FROM contact_addresses WHERE normalized = ?1
                 ORDER BY contact_id LIMIT 1",
                [&key],
                |r| r.get(0),
            )
            .optional()?;
        id.map_or(Ok(None), |id| self.get(id))
    }

    pub fn count(&self) -> Result<usize, ContactError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn with_addresses(&self, mut c: Contact) -> Result<Contact, ContactError> {
        let mut q = self.conn.prepare_cached(
            "SELECT kind, label, value FROM contact_addresses WHERE contact_id = ?1
             ORDER BY position",
        )?;
        c.addresses = q
            .query_map([c.id], |r| {
                Ok(ContactAddress {
                    kind: if r.get::<_, String>(0)? == "sip" {
                        AddressKind::Sip
                    } else {
                        AddressKind::Phone
                    },
                    label: r.get(1)?,
                    value: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(c)
    }

    /// The connection, for tests and benchmarks.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

fn limit_of(limit: usize) -> i64 {
    if limit == 0 {
        i64::MAX
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }
}

fn check(c: &Contact) -> Result<(), ContactError> {
    let nothing = c.name.trim().is_empty()
        && c.company.trim().is_empty()
        && c.addresses.iter().all(|a| a.value.trim().is_empty());
    if nothing {
        Err(ContactError::Empty)
    } else {
        Ok(())
    }
}

fn contact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Contact> {
    Ok(Contact {
        id: Some(r.get(0)?),
        name: r.get(1)?,
        company: r.get(2)?,
        favourite: r.get(3)?,
        notes: r.get(4)?,
        photo: r.get(5)?,
        addresses: Vec::new(),
    })
}

/// The contact's addresses and its search row, in the caller's transaction.
fn write_addresses(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    c: &Contact,
    region: Option<&str>,
) -> Result<(), ContactError> {
    let mut searchable = Vec::new();
    for (position, a) in c
        .addresses
        .iter()
        .filter(|a| !a.value.trim().is_empty())
        .enumerate()
    {
        let value = a.value.trim();
        let normalized = match a.kind {
            AddressKind::Sip if !value.contains(':') => {
                normalize_address(&format!("sip:{value}"), region)
            }
            _ => normalize_address(value, region),
        };
        tx.execute(
            "INSERT INTO contact_addresses (contact_id, kind, label, value, normalized, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                match a.kind {
                    AddressKind::Phone => "phone",
                    AddressKind::Sip => "sip",
                },
                a.label.trim(),
                value,
                normalized,
                position as i64
            ],
        )?;
        searchable.push(value.to_owned());
        // The number as typed without separators, and its international form.
        searchable.push(
            value
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect(),
        );
        searchable.push(normalized);
    }
    tx.execute(
        "INSERT INTO contacts_search (rowid, name, company, addresses) VALUES (?1, ?2, ?3, ?4)",
        params![id, c.name.trim(), c.company.trim(), searchable.join(" ")],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
