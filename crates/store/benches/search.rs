//! Search as you type on a big profile: 100 000 calls in the history and 10 000 contacts.
//! `cargo bench -p siperb-store --bench search` prints the time of each kind of search
//! (median and worst of 50 runs, each a fresh query the user might type). The goal: under
//! 50 ms for every keystroke.

use std::time::{Duration, Instant};

use siperb_store::{
    AddressKind, CallDirection, CallEnd, Contact, ContactAddress, Contacts, Disposition, History,
    HistoryQuery, NewCall,
};

const CALLS: usize = 100_000;
const CONTACTS: usize = 10_000;

const FIRST: [&str; 20] = [
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yvonne",
];
const LAST: [&str; 10] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright",
];

/// A seeded number generator (xorshift), so every run fills the same profile.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn time<T>(runs: usize, mut f: impl FnMut(usize) -> T) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|i| {
            let t = Instant::now();
            std::hint::black_box(f(i));
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[runs / 2], times[runs - 1])
}

fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let fill = Instant::now();
    let mut contacts = Contacts::open(dir.path(), Some("GB".into())).expect("contacts");
    let mut numbers = Vec::new();
    for i in 0..CONTACTS {
        let number = format!("07{:03} {:06}", 700 + rng.below(300), rng.below(1_000_000));
        numbers.push(number.clone());
        let c = Contact {
            name: format!("{} {} {i}", FIRST[rng.below(20)], LAST[rng.below(10)]),
            company: format!("Company {}", rng.below(500)),
            addresses: vec![
                ContactAddress {
                    kind: AddressKind::Phone,
                    label: "mobile".into(),
                    value: number,
                },
                ContactAddress {
                    kind: AddressKind::Sip,
                    label: "work".into(),
                    value: format!("sip:user{i}@pbx.example.com"),
                },
            ],
            ..Contact::default()
        };
        contacts.add(&c).expect("add");
    }
    let history = History::open(dir.path()).expect("history");
    history.connection().execute_batch("BEGIN").expect("begin");
    for i in 0..CALLS {
        let n = &numbers[rng.below(CONTACTS)];
        let id = history
            .start(&NewCall {
                account: "work".into(),
                direction: if i % 3 == 0 {
                    CallDirection::Incoming
                } else {
                    CallDirection::Outgoing
                },
                remote_uri: format!("sip:{}@pbx.example.com", n.replace(' ', "")),
                number: n.replace(' ', ""),
                display_name: format!("{} {}", FIRST[rng.below(20)], LAST[rng.below(10)]),
            })
            .expect("start");
        history
            .ended(
                id,
                &CallEnd {
                    disposition: Some(if i % 7 == 0 {
                        Disposition::Missed
                    } else {
                        Disposition::Answered
                    }),
                    ..CallEnd::default()
                },
            )
            .expect("end");
    }
    history
        .connection()
        .execute_batch("COMMIT")
        .expect("commit");
    println!(
        "filled {CONTACTS} contacts and {CALLS} calls in {:.1} s",
        fill.elapsed().as_secs_f64()
    );

    let report = |what: &str, (median, worst): (Duration, Duration)| {
        println!(
            "{what:<46} median {:>7.2} ms, worst {:>7.2} ms",
            median.as_secs_f64() * 1000.0,
            worst.as_secs_f64() * 1000.0
        );
    };
    let runs = 50;
    report(
        "contacts: name fragment (3 letters)",
        time(runs, |i| {
            contacts.search(&FIRST[i % 20][..3].to_lowercase(), 50)
        }),
    );
    report(
        "contacts: number fragment (5 digits)",
        time(runs, |i| contacts.search(&numbers[i * 97][6..11], 50)),
    );
    report(
        "contacts: one letter (scan)",
        time(runs, |i| contacts.search(&FIRST[i % 20][..1], 50)),
    );
    report(
        "contacts: caller ID lookup",
        time(runs, |i| {
            contacts.find_by_address(&format!(
                "sip:+44{}@pbx",
                numbers[i * 31][1..].replace(' ', "")
            ))
        }),
    );
    let search = |s: String, missed_only: bool| HistoryQuery {
        missed_only,
        search: Some(s),
        limit: 50,
    };
    report(
        "history: name fragment (4 letters)",
        time(runs, |i| {
            history.list(&search(LAST[i % 10][..4].to_lowercase(), false))
        }),
    );
    report(
        "history: number fragment (6 digits)",
        time(runs, |i| {
            history.list(&search(numbers[i * 53][7..].to_string(), false))
        }),
    );
    report(
        "history: missed calls, name fragment",
        time(runs, |i| {
            history.list(&search(FIRST[i % 20][..3].to_lowercase(), true))
        }),
    );
    report(
        "history: newest 50",
        time(runs, |_| {
            history.list(&HistoryQuery {
                limit: 50,
                ..HistoryQuery::default()
            })
        }),
    );
    report(
        "history: unseen missed count",
        time(runs, |_| history.unseen_missed()),
    );
}
