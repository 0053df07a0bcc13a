use super::*;

#[test]
fn a_round_trip_keeps_every_field() {
    let contacts = vec![
        Contact {
            name: "Alice Smith, PhD; Esq.".into(),
            company: "Acme; Ltd".into(),
            favourite: true,
            notes: "Line one\nLine two, with a comma".into(),
            addresses: vec![
                ContactAddress {
                    kind: AddressKind::Phone,
                    label: "mobile".into(),
                    value: "07911 123456".into(),
                },
                ContactAddress {
                    kind: AddressKind::Phone,
                    label: "work".into(),
                    value: "+44 20 7946 0018".into(),
                },
                ContactAddress {
                    kind: AddressKind::Sip,
                    label: String::new(),
                    value: "sip:alice@pbx.example.com;transport=tls".into(),
                },
            ],
            photo: Some(vec![
                0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
            ]),
            ..Contact::default()
        },
        Contact {
            name: "Zoë Ünïcode 日本".repeat(4),
            addresses: vec![ContactAddress {
                kind: AddressKind::Phone,
                label: String::new(),
                value: "2001".into(),
            }],
            ..Contact::default()
        },
    ];
    let text = write(&contacts);
    assert!(text.lines().all(|l| l.len() <= 76), "folded at 75 octets");
    let (back, report) = parse(&text);
    assert_eq!(back, contacts);
    assert_eq!(report.imported, 2);
    assert!(
        report.skipped_cards.is_empty() && report.skipped_properties.is_empty(),
        "{report:?}"
    );
}

#[test]
fn a_vcard_3_export_from_a_phone_is_read_and_the_rest_reported() {
    let text = "BEGIN:VCARD\r\n\
VERSION:3.0\r\n\
PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n\
N:Jones;Bob;;;\r\n\
ORG:Widgets Inc;Sales\r\n\
EMAIL;type=INTERNET;type=WORK;type=pref:bob@widgets.example\r\n\
item1.TEL;type=CELL;type=VOICE;type=pref:+44 7911 123456\r\n\
TEL;TYPE=WORK,VOICE:0161 496 0000\r\n\
X-SIP:bob@pbx.example.com\r\n\
ADR;type=HOME:;;1 High St;Town;;AB1 2CD;UK\r\n\
NOTE:Met at the\r\n  trade fair\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\n\
END:VCARD\r\n\
BEGIN:VCARD\r\n\
VERSION:2.1\r\n\
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n\
TEL;CELL:0170 1234567\r\n\
END:VCARD\r\n\
BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
EMAIL:nobody@example.com\r\n\
END:VCARD\r\n\
BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
FN:Front Desk\r\n\
TEL;VALUE=uri;TYPE=\"voice,work\":tel:+1-415-555-2671\r\n\
IMPP;TYPE=work:sip:desk@pbx.example.com\r\n\
IMPP:xmpp:desk@chat.example.com\r\n\
PHOTO:https://example.com/desk.jpg\r\n\
END:VCARD\r\n\
BEGIN:VCARD\r\n\
FN:Cut short\r\n";
    let (contacts, report) = parse(text);
    let names: Vec<&str> = contacts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Bob Jones", "Jürgen Müller", "Front Desk"]);
    let bob = &contacts[0];
    assert_eq!(bob.company, "Widgets Inc");
    assert_eq!(bob.notes, "Met at the trade fair");
    assert_eq!(
        bob.photo.as_deref(),
        Some(&[0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10][..])
    );
    let addr: Vec<(AddressKind, &str, &str)> = bob
        .addresses
        .iter()
        .map(|a| (a.kind, a.label.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(
        addr,
        [
            (AddressKind::Phone, "mobile", "+44 7911 123456"),
            (AddressKind::Phone, "work", "0161 496 0000"),
            (AddressKind::Sip, "", "sip:bob@pbx.example.com"),
        ]
    );
    assert_eq!(contacts[1].addresses[0].label, "mobile", "2.1's bare CELL");
    let desk = &contacts[2];
    assert_eq!(desk.addresses[0].value, "+1-415-555-2671");
    assert_eq!(desk.addresses[0].label, "work");
    assert_eq!(desk.addresses[1].value, "sip:desk@pbx.example.com");
    assert_eq!(report.imported, 3);
    assert_eq!(
        report.skipped_cards,
        [
            "card 3: no name, company, number or SIP address",
            "card 5: it has no END:VCARD (the file is cut short)"
        ]
    );
    let skipped: Vec<(&str, usize)> = report
        .skipped_properties
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        skipped,
        [("ADR", 1), ("EMAIL", 2), ("IMPP", 1), ("PHOTO (link)", 1)]
    );
}

#[test]
fn garbage_is_no_contacts_and_no_panic() {
    for text in [
        "",
        "not a vcard at all",
        "BEGIN:VCARD\nEND:VCARD",
        "BEGIN:VCARD\nFN\nTEL;;;:\nN:;;;;;;;;\nPHOTO;ENCODING=b:!!!\nEND:VCARD",
        "BEGIN:VCARD\nN;ENCODING=QUOTED-PRINTABLE:=\nFN:=C3=\nEND:VCARD",
        "\u{feff}BEGIN:VCARD\r\nFN:\"quoted:colon\"\r\nEND:VCARD",
    ] {
        let (contacts, report) = parse(text);
        assert_eq!(report.imported, contacts.len());
    }
    // A byte-order mark at the start does not hide the first card.
    let (contacts, _) = parse("\u{feff}BEGIN:VCARD\r\nFN:Bom\r\nEND:VCARD");
    assert_eq!(contacts[0].name, "Bom");
}
