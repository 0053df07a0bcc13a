use super::*;

fn call(direction: CallDirection, uri: &str, name: &str) -> NewCall {
    NewCall {
        account: "work".into(),
        direction,
        remote_uri: uri.into(),
        number: uri
            .trim_start_matches("sip:")
            .split('@')
            .next()
            .unwrap_or_default()
            .into(),
        display_name: name.into(),
    }
}

#[test]
fn a_call_is_written_at_its_start_and_completed_at_its_end() {
    let dir = tempfile::tempdir().expect("dir");
    let h = History::open(dir.path()).expect("open");
    let id = h
        .start(&call(CallDirection::Outgoing, "sip:+15551234@pbx", "Bob"))
        .expect("start");
    let now = h.list(&HistoryQuery::default()).expect("list");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].disposition, Disposition::Ongoing);
    h.answered(id).expect("answered");
    h.alive(id, Some("opus"), Some(4.3)).expect("alive");
    std::thread::sleep(std::time::Duration::from_millis(20));
    h.ended(id, &CallEnd::default()).expect("ended");
    let rec = &h.list(&HistoryQuery::default()).expect("list")[0];
    assert_eq!(rec.disposition, Disposition::Answered);
    assert_eq!(rec.codec.as_deref(), Some("opus"));
    assert!(rec.duration_secs.is_some_and(|d| d >= 0.02), "{rec:?}");
    // An unanswered outgoing call without a cause failed.
    let id = h
        .start(&call(CallDirection::Outgoing, "sip:carol@pbx", ""))
        .expect("start");
    h.ended(id, &CallEnd::default()).expect("ended");
    assert_eq!(
        h.list(&HistoryQuery::default()).expect("list")[0].disposition,
        Disposition::Failed
    );
}

#[test]
fn missed_calls_are_counted_until_seen_and_listed_on_their_own() {
    let dir = tempfile::tempdir().expect("dir");
    let h = History::open(dir.path()).expect("open");
    for (uri, disposition) in [
        ("sip:1001@pbx", Disposition::Missed),
        ("sip:1002@pbx", Disposition::Answered),
        ("sip:1003@pbx", Disposition::Missed),
    ] {
        let id = h
            .start(&call(CallDirection::Incoming, uri, ""))
            .expect("start");
        h.ended(
            id,
            &CallEnd {
                disposition: Some(disposition),
                ..CallEnd::default()
            },
        )
        .expect("ended");
    }
    assert_eq!(h.unseen_missed().expect("count"), 2);
    let missed = h
        .list(&HistoryQuery {
            missed_only: true,
            ..HistoryQuery::default()
        })
        .expect("missed");
    let uris: Vec<&str> = missed.iter().map(|c| c.remote_uri.as_str()).collect();
    assert_eq!(uris, ["sip:1003@pbx", "sip:1001@pbx"], "newest first");
    h.mark_seen().expect("seen");
    assert_eq!(h.unseen_missed().expect("count"), 0);
    assert_eq!(h.clear().expect("clear"), 3);
    assert!(h.list(&HistoryQuery::default()).expect("list").is_empty());
}

#[test]
fn search_finds_a_name_a_number_fragment_or_an_address() {
    let dir = tempfile::tempdir().expect("dir");
    let h = History::open(dir.path()).expect("open");
    for (uri, name) in [
        ("sip:+441632960123@pbx.example.com", "Alice Smith"),
        ("sip:2001@pbx.example.com", "Front Desk"),
        ("sip:bob@example.org", ""),
    ] {
        let id = h
            .start(&call(CallDirection::Incoming, uri, name))
            .expect("start");
        h.ended(id, &CallEnd::default()).expect("ended");
    }
    let find = |s: &str| -> Vec<String> {
        h.list(&HistoryQuery {
            search: Some(s.into()),
            ..HistoryQuery::default()
        })
        .expect("search")
        .into_iter()
        .map(|c| c.remote_uri)
        .collect()
    };
    assert_eq!(find("smi"), ["sip:+441632960123@pbx.example.com"]);
    assert_eq!(find("SMITH"), ["sip:+441632960123@pbx.example.com"]);
    assert_eq!(find("6329"), ["sip:+441632960123@pbx.example.com"]);
    assert_eq!(
        find("632 960"),
        ["sip:+441632960123@pbx.example.com"],
        "spaces typed in a number"
    );
    assert_eq!(find("example.org"), ["sip:bob@example.org"]);
    assert_eq!(
        find("20"),
        ["sip:2001@pbx.example.com"],
        "two characters: a scan"
    );
    assert_eq!(find("pbx").len(), 2);
    assert!(find("zzz").is_empty());
    // Quotes and FTS syntax in what the user types are text, not a query.
    assert!(find("\"a\" OR b*").is_empty());
}

#[test]
fn a_call_left_ongoing_by_a_process_that_is_gone_is_interrupted_when_the_next_opens() {
    let dir = tempfile::tempdir().expect("dir");
    // A call written by another process (pid 1 is never ours) whose lock nobody holds.
    {
        let h = History::open(dir.path()).expect("open");
        let id = h
            .start(&call(CallDirection::Incoming, "sip:dave@pbx", ""))
            .expect("start");
        h.answered(id).expect("answered");
        h.connection()
            .execute("UPDATE calls SET owner = 999999999 WHERE id = ?1", [id])
            .expect("owner");
        // And one of a process still alive: this one.
        h.start(&call(CallDirection::Outgoing, "sip:erin@pbx", ""))
            .expect("start");
    }
    let h = History::open(dir.path()).expect("reopen");
    let calls = h.list(&HistoryQuery::default()).expect("list");
    let by_uri = |u: &str| calls.iter().find(|c| c.remote_uri == u).expect("call");
    let dave = by_uri("sip:dave@pbx");
    assert_eq!(dave.disposition, Disposition::Interrupted);
    assert!(dave.ended_at.is_some());
    assert_eq!(by_uri("sip:erin@pbx").disposition, Disposition::Ongoing);
}

#[test]
fn owner_locks_go_with_their_process() {
    let dir = tempfile::tempdir().expect("dir");
    let owners = dir.path().join("owners");
    {
        let _h = History::open(dir.path()).expect("open");
        assert_eq!(std::fs::read_dir(&owners).expect("dir").count(), 1);
    }
    assert_eq!(
        std::fs::read_dir(&owners).expect("dir").count(),
        0,
        "removed on close"
    );
    // One left by a killed process (nobody holds it): swept by the next.
    std::fs::write(owners.join("999999999.lock"), b"").expect("stale");
    let _h = History::open(dir.path()).expect("open");
    let names: Vec<String> = std::fs::read_dir(&owners)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{}.lock", std::process::id())]);
}

#[test]
fn a_reader_never_waits_or_fails_while_the_engine_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().to_path_buf();
    let writer = std::thread::spawn(move || {
        let h = History::open(&path).expect("writer");
        for i in 0..2000 {
            let id = h
                .start(&call(
                    CallDirection::Incoming,
                    &format!("sip:{i}@pbx"),
                    "Caller",
                ))
                .expect("start");
            h.answered(id).expect("answered");
            h.ended(id, &CallEnd::default()).expect("ended");
        }
    });
    // A second process's view (its own connection), reading all the while.
    let reader = History::open(dir.path()).expect("reader");
    let mut last = 0usize;
    let mut reads = 0;
    while !writer.is_finished() {
        let seen = reader
            .list(&HistoryQuery {
                limit: 5000,
                ..HistoryQuery::default()
            })
            .expect("a read during writes");
        assert!(seen.len() >= last, "rows never go back");
        last = seen.len();
        let found = reader
            .list(&HistoryQuery {
                search: Some("aller".into()),
                limit: 5000,
                ..HistoryQuery::default()
            })
            .expect("a search during writes");
        assert!(found.len() >= last.saturating_sub(1));
        reads += 1;
    }
    writer.join().expect("writer");
    assert!(reads > 5, "only {reads} reads overlapped the writes");
    let all = reader
        .list(&HistoryQuery {
            limit: 5000,
            ..HistoryQuery::default()
        })
        .expect("list");
    assert_eq!(all.len(), 2000);
    assert!(all.iter().all(|c| c.disposition == Disposition::Answered));
}
