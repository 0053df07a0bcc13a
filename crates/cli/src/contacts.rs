//! `siperb-cli contacts …`: the profile's contacts, the same the app shows.

use siperb_engine::{AddressKind, Contact, ContactAddress};

use crate::error::CliError;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ContactsCommand {
    /// Add a contact.
    Add {
        name: String,
        #[arg(long)]
        company: Option<String>,
        /// A phone number, optionally labelled: `mobile=07911 123456` (repeatable).
        #[arg(long, value_name = "[LABEL=]NUMBER")]
        phone: Vec<String>,
        /// A SIP address, optionally labelled: `work=sip:alice@pbx` (repeatable).
        #[arg(long, value_name = "[LABEL=]URI")]
        sip: Vec<String>,
        #[arg(long)]
        favourite: bool,
        #[arg(long)]
        notes: Option<String>,
    },
    /// List the contacts, favourites first.
    List {
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Contacts whose name, company, number or address contains TEXT.
    Search {
        text: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Remove a contact by its id (as `list` shows it).
    Remove { id: i64 },
    /// Add the contacts of a vCard file (2.1, 3.0 or 4.0); says what it left out.
    Import { file: std::path::PathBuf },
    /// Write every contact to a vCard 4.0 file.
    Export { file: std::path::PathBuf },
}

fn address(kind: AddressKind, text: &str) -> ContactAddress {
    // `label=value`, unless the `=` belongs to the value (a URI parameter).
    let (label, value) = match text.split_once('=') {
        Some((l, v)) if !l.contains([':', ';', '@']) => (l.trim().to_owned(), v.trim().to_owned()),
        _ => (String::new(), text.trim().to_owned()),
    };
    ContactAddress { kind, label, value }
}

pub(crate) async fn run(
    engine: &siperb_engine::EngineHandle,
    cmd: ContactsCommand,
    json: bool,
) -> Result<(), CliError> {
    match cmd {
        ContactsCommand::Add {
            name,
            company,
            phone,
            sip,
            favourite,
            notes,
        } => {
            let contact = Contact {
                name,
                company: company.unwrap_or_default(),
                favourite,
                notes: notes.unwrap_or_default(),
                addresses: phone
                    .iter()
                    .map(|p| address(AddressKind::Phone, p))
                    .chain(sip.iter().map(|s| address(AddressKind::Sip, s)))
                    .collect(),
                ..Contact::default()
            };
            let id = engine.contacts(move |c| c.add(&contact)).await?;
            if json {
                println!("{}", serde_json::json!({ "added": id }));
            } else {
                println!("added contact {id}");
            }
        }
        ContactsCommand::List { limit } => {
            let list = engine.contacts(move |c| c.list(limit)).await?;
            print(&list, json);
        }
        ContactsCommand::Search { text, limit } => {
            let list = engine.contacts(move |c| c.search(&text, limit)).await?;
            print(&list, json);
        }
        ContactsCommand::Import { file } => {
            let text = std::fs::read(&file)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
            let report = engine
                .import_vcards(String::from_utf8_lossy(&text).into_owned())
                .await?;
            if json {
                println!("{}", crate::to_json(&report));
            } else {
                println!("imported {} contact(s)", report.imported);
                for why in &report.skipped_cards {
                    println!("skipped {why}");
                }
                for (property, n) in &report.skipped_properties {
                    println!("left out {n} {property}");
                }
            }
        }
        ContactsCommand::Export { file } => {
            let (text, count) = engine.export_vcards().await?;
            std::fs::write(&file, text)
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", file.display())))?;
            if json {
                println!("{}", serde_json::json!({ "exported": count }));
            } else {
                println!("exported {count} contact(s) to {}", file.display());
            }
        }
        ContactsCommand::Remove { id } => {
            engine.contacts(move |c| c.delete(id)).await?;
            if !json {
                println!("removed contact {id}");
            }
        }
    }
    Ok(())
}

fn print(list: &[Contact], json: bool) {
    if json {
        println!("{}", crate::to_json(&list));
        return;
    }
    if list.is_empty() {
        println!("no contacts");
    }
    for c in list {
        let star = if c.favourite { "*" } else { " " };
        let company = if c.company.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.company)
        };
        let addresses: Vec<String> = c
            .addresses
            .iter()
            .map(|a| {
                if a.label.is_empty() {
                    a.value.clone()
                } else {
                    format!("{}: {}", a.label, a.value)
                }
            })
            .collect();
        println!(
            "{:>5} {star} {}{company}  {}",
            c.id.unwrap_or_default(),
            c.name,
            addresses.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_split_off_but_uri_parameters_stay() {
        let a = address(AddressKind::Phone, "mobile=07911 123456");
        assert_eq!(
            (a.label.as_str(), a.value.as_str()),
            ("mobile", "07911 123456")
        );
        let a = address(AddressKind::Sip, "sip:bob@pbx;transport=tcp");
        assert_eq!(
            (a.label.as_str(), a.value.as_str()),
            ("", "sip:bob@pbx;transport=tcp")
        );
        let a = address(AddressKind::Sip, "work=sip:bob@pbx;user=phone");
        assert_eq!(
            (a.label.as_str(), a.value.as_str()),
            ("work", "sip:bob@pbx;user=phone")
        );
        let a = address(AddressKind::Phone, "2001");
        assert_eq!((a.label.as_str(), a.value.as_str()), ("", "2001"));
    }
}
