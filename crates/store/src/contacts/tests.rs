use super::*;

fn open() -> (tempfile::TempDir, Contacts) {
    let dir = tempfile::tempdir().expect("dir");
    let c = Contacts::open(dir.path(), Some("GB".into())).expect("open");
    (dir, c)
}

fn phone(label: &str, value: &str) -> ContactAddress {
    ContactAddress {
        kind: AddressKind::Phone,
        label: label.into(),
        value: value.into(),
    }
}

fn sip(value: &str) -> ContactAddress {
    ContactAddress {
        kind: AddressKind::Sip,
        label: "work".into(),
        value: value.into(),
    }
}

fn alice() -> Contact {
    Contact {
        name: "Alice Smith".into(),
        company: "Acme Ltd".into(),
        addresses: vec![
            phone("mobile", "07911 123456"),
            phone("work", "020 7946 0018"),
            sip("sip:alice@pbx.example.com"),
        ],
        notes: "Prefers mornings".into(),
        ..Contact::default()
    }
}

#[test]
fn a_contact_is_saved_read_changed_and_deleted() {
    let (_d, mut c) = open();
    let id = c.add(&alice()).expect("add");
    let mut got = c.get(id).expect("get").expect("there");
    assert_eq!(got.name, "Alice Smith");
    assert_eq!(got.addresses, alice().addresses, "in order, with labels");
    got.favourite = true;
    got.addresses.pop();
    c.update(&got).expect("update");
    let again = c.get(id).expect("get").expect("there");
    assert!(again.favourite);
    assert_eq!(again.addresses.len(), 2);
    assert!(
        c.find_by_address("sip:alice@pbx.example.com")
            .expect("find")
            .is_none()
    );
    c.delete(id).expect("delete");
    assert!(c.get(id).expect("get").is_none());
    assert!(matches!(c.delete(id), Err(ContactError::NoSuchContact(_))));
    assert!(
        c.search("alice", 10).expect("search").is_empty(),
        "index follows"
    );
    let n: i64 = c
        .connection_mut()
        .query_row("SELECT count(*) FROM contact_addresses", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 0, "addresses go with their contact");
}

#[test]
fn an_empty_contact_is_refused() {
    let (_d, mut c) = open();
    let e = c.add(&Contact::default()).expect_err("empty");
    assert!(e.to_string().contains("needs a name"), "{e}");
    let e = c
        .update(&Contact {
            id: Some(42),
            name: "X".into(),
            ..Contact::default()
        })
        .expect_err("missing");
    assert!(matches!(e, ContactError::NoSuchContact(42)));
}

#[test]
fn a_caller_id_finds_its_contact_however_it_is_written() {
    let (_d, mut c) = open();
    let id = c.add(&alice()).expect("add");
    c.add(&Contact {
        name: "Front Desk".into(),
        addresses: vec![phone("", "2001")],
        ..Contact::default()
    })
    .expect("add");
    for caller in [
        "sip:+447911123456@pbx.example.com;user=phone",
        "\"Mobile\" <sip:07911123456@pbx>",
        "tel:+44-20-7946-0018",
        "+44 20 7946 0018",
        "sip:Alice@PBX.example.com:5060",
    ] {
        let found = c.find_by_address(caller).expect("find");
        assert_eq!(found.and_then(|f| f.id), Some(id), "{caller}");
    }
    let desk = c
        .find_by_address("sip:2001@pbx")
        .expect("find")
        .expect("desk");
    assert_eq!(desk.name, "Front Desk");
    assert!(c.find_by_address("sip:2002@pbx").expect("find").is_none());
    assert!(c.find_by_address("").expect("find").is_none());
}

#[test]
fn search_as_you_type_by_name_company_or_number_fragment() {
    let (_d, mut c) = open();
    c.add(&alice()).expect("add");
    c.add(&Contact {
        name: "Bob Jones".into(),
        company: "Widgets".into(),
        favourite: true,
        addresses: vec![phone("", "0161 496 0000")],
        ..Contact::default()
    })
    .expect("add");
    let names = |q: &str| -> Vec<String> {
        c.search(q, 10)
            .expect("search")
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(names("smi"), ["Alice Smith"]);
    assert_eq!(names("ACME"), ["Alice Smith"]);
    assert_eq!(
        names("7946 00"),
        ["Alice Smith"],
        "a number typed with a space"
    );
    assert_eq!(names("+44794"), Vec::<String>::new());
    assert_eq!(names("+44791"), ["Alice Smith"], "the international form");
    assert_eq!(names("4960"), ["Bob Jones"]);
    assert_eq!(names("al"), ["Alice Smith"], "two characters: scanned");
    assert_eq!(names("o"), ["Bob Jones", "Alice Smith"], "favourites first");
    assert_eq!(names(""), ["Bob Jones", "Alice Smith"]);
    assert!(names("\"x\" OR *").is_empty());
}
