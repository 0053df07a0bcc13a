//! vCard import (2.1, 3.0 and 4.0, as phones, Google and Apple export them) and export (4.0),
//! with a report of what was not taken. Written here to be tolerant where exports differ:
//! folded lines, `TYPE=` lists in either style, bare 2.1 types, `tel:` URIs, quoted-printable
//! names, base64 photos inline or as data URIs.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use specta::Type;

use crate::contacts::{AddressKind, Contact, ContactAddress};

/// What an import found and left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Cards read into contacts.
    pub imported: usize,
    /// Cards left out, each with why (`card 3 ("Acme"): no name, number or address`).
    pub skipped_cards: Vec<String>,
    /// Properties a contact here has no place for, and how many of each (`EMAIL: 12`).
    pub skipped_properties: BTreeMap<String, usize>,
}

/// One property line: name, parameters (upper-case names, lower-case values), value.
struct Property {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Property {
    fn param(&self, name: &str) -> impl Iterator<Item = &str> {
        self.params
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// TYPE values, in both the `TYPE=a,b` style and 2.1's bare `;CELL`.
    fn types(&self) -> Vec<String> {
        self.param("TYPE")
            .chain(self.param(""))
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_matches('"').to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }
}

/// Lines joined where they were folded (a line that starts with a space or tab continues
/// the one before; 2.1's quoted-printable soft breaks too).
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut soft_break = false;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if soft_break {
            if let Some(last) = lines.last_mut() {
                last.push_str(line);
            }
        } else if let (Some(rest), Some(last)) = (
            line.strip_prefix(' ').or_else(|| line.strip_prefix('\t')),
            lines.last_mut(),
        ) {
            last.push_str(rest);
        } else {
            lines.push(line.to_owned());
        }
        // quoted-printable: a line ending in '=' goes on.
        soft_break = lines.last().is_some_and(|l| {
            l.to_ascii_uppercase().contains("QUOTED-PRINTABLE") && l.ends_with('=')
        });
        if soft_break && let Some(last) = lines.last_mut() {
            last.pop();
        }
    }
    lines
}

fn parse_line(line: &str) -> Option<Property> {
    // The value starts at the first ':' outside double quotes.
    let mut quoted = false;
    let colon = line.char_indices().find_map(|(i, c)| match c {
        '"' => {
            quoted = !quoted;
            None
        }
        ':' if !quoted => Some(i),
        _ => None,
    })?;
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let mut parts = head.split(';');
    let name = parts.next()?.trim();
    // `item1.TEL`: the group is not part of the name.
    let name = name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase();
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.trim().to_ascii_uppercase(), v.trim().to_owned()),
            None => (String::new(), p.trim().to_owned()),
        })
        .collect();
    Some(Property {
        name,
        params,
        value: value.to_owned(),
    })
}

/// A text value with its escapes (`\,` `\;` `\n` `\\`) undone.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits a structured value (N, ORG) at unescaped `;`.
fn components(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in v.chars() {
        match (escaped, c) {
            (false, '\\') => {
                escaped = true;
                continue;
            }
            (false, ';') => out.push(String::new()),
            _ => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
        escaped = false;
    }
    out.into_iter()
        .map(|s| unescape(&s).trim().to_owned())
        .collect()
}

fn quoted_printable(v: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = (bytes[i] == b'=')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match pair {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn label_of(types: &[String]) -> String {
    for (t, label) in [
        ("cell", "mobile"),
        ("mobile", "mobile"),
        ("iphone", "mobile"),
        ("main", "main"),
        ("work", "work"),
        ("home", "home"),
        ("fax", "fax"),
        ("pager", "pager"),
    ] {
        if types.iter().any(|x| x == t) {
            return label.into();
        }
    }
    String::new()
}

/// Reads every card in `text` into contacts; what was left out is in the report.
pub fn parse(text: &str) -> (Vec<Contact>, ImportReport) {
    // Windows tools start files with a byte-order mark.
    let text = text.trim_start_matches('\u{feff}');
    let mut report = ImportReport::default();
    let mut contacts = Vec::new();
    let mut card: Option<Vec<Property>> = None;
    let mut number = 0usize;
    for line in unfold(text) {
        if line.trim().is_empty() {
            continue;
        }
        let Some(p) = parse_line(&line) else {
            continue;
        };
        match (
            p.name.as_str(),
            p.value.trim().to_ascii_uppercase().as_str(),
        ) {
            ("BEGIN", "VCARD") => card = Some(Vec::new()),
            ("END", "VCARD") => {
                if let Some(props) = card.take() {
                    number += 1;
                    match contact_of(&props, &mut report) {
                        Ok(c) => contacts.push(c),
                        Err(why) => report.skipped_cards.push(format!("card {number}{why}")),
                    }
                }
            }
            _ => {
                if let Some(props) = card.as_mut() {
                    props.push(p);
                }
            }
        }
    }
    if card.is_some() {
        report.skipped_cards.push(format!(
            "card {}: it has no END:VCARD (the file is cut short)",
            number + 1
        ));
    }
    report.imported = contacts.len();
    (contacts, report)
}

fn contact_of(props: &[Property], report: &mut ImportReport) -> Result<Contact, String> {
    let mut c = Contact::default();
    let mut structured_name = None;
    for p in props {
        let encoded_qp = p
            .param("ENCODING")
            .any(|e| e.eq_ignore_ascii_case("quoted-printable"))
            || p.param("")
                .any(|e| e.eq_ignore_ascii_case("quoted-printable"));
        let value = if encoded_qp {
            quoted_printable(&p.value)
        } else {
            p.value.clone()
        };
        match p.name.as_str() {
            "VERSION" | "PRODID" | "UID" | "REV" | "KIND" => {}
            "FN" => c.name = unescape(&value).trim().to_owned(),
            "N" => {
                let n = components(&value);
                let get = |i: usize| n.get(i).cloned().unwrap_or_default();
                // Prefix Given Additional Family Suffix.
                let parts = [get(3), get(1), get(2), get(0), get(4)];
                let joined: Vec<String> = parts.into_iter().filter(|s| !s.is_empty()).collect();
                structured_name = Some(joined.join(" "));
            }
            "ORG" => c.company = components(&value).into_iter().next().unwrap_or_default(),
            "NOTE" => c.notes = unescape(&value),
            "TEL" => {
                let v = unescape(&value);
                let v = v.strip_prefix("tel:").unwrap_or(&v).trim().to_owned();
                if !v.is_empty() {
                    c.addresses.push(ContactAddress {
                        kind: AddressKind::Phone,
                        label: label_of(&p.types()),
                        value: v,
                    });
                }
            }
            "IMPP" | "X-SIP" | "X-SIPURI" | "URL" => {
                let v = unescape(&value).trim().to_owned();
                let lower = v.to_ascii_lowercase();
                let is_sip = lower.starts_with("sip:") || lower.starts_with("sips:");
                if is_sip || (p.name != "IMPP" && p.name != "URL" && !v.is_empty()) {
                    let value = if is_sip { v } else { format!("sip:{v}") };
                    c.addresses.push(ContactAddress {
                        kind: AddressKind::Sip,
                        label: label_of(&p.types()),
                        value,
                    });
                } else {
                    *report.skipped_properties.entry(p.name.clone()).or_default() += 1;
                }
            }
            "X-SIPERB-FAVOURITE" => c.favourite = value.trim() == "1",
            "PHOTO" => match photo_of(p, &value) {
                Some(bytes) => c.photo = Some(bytes),
                None => {
                    *report
                        .skipped_properties
                        .entry("PHOTO (link)".into())
                        .or_default() += 1
                }
            },
            other => {
                *report
                    .skipped_properties
                    .entry(other.to_owned())
                    .or_default() += 1
            }
        }
    }
    if c.name.is_empty() {
        c.name = structured_name.unwrap_or_default();
    }
    if c.name.is_empty() && c.company.is_empty() && c.addresses.is_empty() {
        return Err(": no name, company, number or SIP address".into());
    }
    Ok(c)
}

/// An inline photo: 4.0's data URI, or 3.0's `ENCODING=b` base64. Links are not fetched.
fn photo_of(p: &Property, value: &str) -> Option<Vec<u8>> {
    let b64 = if let Some(rest) = value.strip_prefix("data:") {
        rest.split_once(";base64,")?.1
    } else if p
        .param("ENCODING")
        .any(|e| e.eq_ignore_ascii_case("b") || e.eq_ignore_ascii_case("base64"))
    {
        value
    } else {
        return None;
    };
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(';', "\\;")
        .replace('\n', "\\n")
}

/// A property line folded at 75 octets (on character boundaries), CRLF-terminated.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The contacts as vCard 4.0.
pub fn write(contacts: &[Contact]) -> String {
    let mut out = String::new();
    for c in contacts {
        fold("BEGIN:VCARD", &mut out);
        fold("VERSION:4.0", &mut out);
        fold(&format!("FN:{}", escape(&c.name)), &mut out);
        fold(&format!("N:{};;;;", escape(&c.name)), &mut out);
        if !c.company.is_empty() {
            fold(&format!("ORG:{}", escape(&c.company)), &mut out);
        }
        for a in &c.addresses {
            let ty = match a.label.as_str() {
                "mobile" => ";TYPE=cell".to_owned(),
                "" => String::new(),
                other if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                    format!(";TYPE={other}")
                }
                _ => String::new(),
            };
            match a.kind {
                AddressKind::Phone => fold(
                    &format!("TEL;VALUE=text{ty}:{}", escape(&a.value)),
                    &mut out,
                ),
                AddressKind::Sip => fold(&format!("IMPP{ty}:{}", a.value), &mut out),
            }
        }
        if !c.notes.is_empty() {
            fold(&format!("NOTE:{}", escape(&c.notes)), &mut out);
        }
        if c.favourite {
            fold("X-SIPERB-FAVOURITE:1", &mut out);
        }
        if let Some(photo) = &c.photo {
            let mime = if photo.starts_with(&[0x89, b'P', b'N', b'G']) {
                "image/png"
            } else {
                "image/jpeg"
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(photo);
            fold(&format!("PHOTO:data:{mime};base64,{b64}"), &mut out);
        }
        fold("END:VCARD", &mut out);
    }
    out
}

#[cfg(test)]
mod tests;
