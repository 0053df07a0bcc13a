//! Call history from the calls' events: written on a thread of its own (SQLite must not hold
//! up the engine), in the order the events came. A call is written when it starts, marked
//! when answered, touched every second while up (so a crash leaves a true end time) and
//! completed when it ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;

use siperb_sip::AccountId;
use siperb_sip::call::{CallPhase, EndCause};
use siperb_sip::phone::{CallEvent, CallRef};
use siperb_store::{
    CallDirection, CallEnd, CallRecord, Contacts, DbError, Disposition, History, HistoryQuery,
    NewCall,
};
use tokio::sync::{broadcast, oneshot};

use crate::EngineEvent;

/// A caller or callee as a SIP header names it: `"Alice" <sip:alice@host>;tag=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// `sip:alice@host`, without the header's parameters.
    pub uri: String,
    /// The user part: a number or a user name.
    pub number: String,
    /// The display name the header carried (may be empty).
    pub display_name: String,
}

impl Party {
    pub fn parse(header: &str) -> Self {
        let header = header.trim();
        let (display, uri) = match (header.find('<'), header.find('>')) {
            (Some(open), Some(close)) if close > open => (
                header[..open].trim().trim_matches('"').trim(),
                &header[open + 1..close],
            ),
            // A bare URI: its parameters (`;tag=`) are not part of it.
            _ => ("", header.split(';').next().unwrap_or_default()),
        };
        let uri = uri.trim();
        let rest = uri
            .strip_prefix("sips:")
            .or_else(|| uri.strip_prefix("sip:"))
            .or_else(|| uri.strip_prefix("tel:"))
            .unwrap_or(uri);
        let number = rest
            .split(['@', ';', '?'])
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            uri: uri.to_owned(),
            number,
            display_name: display.to_owned(),
        }
    }
}

/// How a call that ended goes into the history.
pub(crate) fn disposition(
    direction: CallDirection,
    answered: bool,
    cause: &EndCause,
) -> (Disposition, Option<u16>, Option<String>) {
    let (code, reason) = match cause {
        EndCause::Rejected { code } => (Some(*code), None),
        EndCause::Refused { code, reason } => (Some(*code), Some(reason.clone())),
        EndCause::Network { detail } => (None, Some(detail.clone())),
        EndCause::MediaRefused { reason } => (None, Some(reason.clone())),
        _ => (None, None),
    };
    let d = match (direction, answered, cause) {
        (_, true, _) | (_, _, EndCause::Replaced | EndCause::Transferred) => Disposition::Answered,
        (CallDirection::Incoming, false, EndCause::Rejected { .. } | EndCause::LocalHangup) => {
            Disposition::Rejected
        }
        (CallDirection::Incoming, false, _) => Disposition::Missed,
        (CallDirection::Outgoing, false, EndCause::LocalHangup) => Disposition::Cancelled,
        (
            CallDirection::Outgoing,
            false,
            EndCause::Refused {
                code: 486 | 600, ..
            },
        ) => Disposition::Busy,
        (CallDirection::Outgoing, false, _) => Disposition::Failed,
    };
    (d, code, reason)
}

/// What the history thread does.
#[derive(Debug)]
pub(crate) enum Op {
    Event(AccountId, CallEvent),
    List(
        HistoryQuery,
        oneshot::Sender<Result<Vec<CallRecord>, DbError>>,
    ),
    MarkSeen(oneshot::Sender<Result<(), DbError>>),
    Clear(oneshot::Sender<Result<usize, DbError>>),
    UnseenMissed(oneshot::Sender<Result<u32, DbError>>),
    /// Work on the contacts (on this thread: one writer for the profile database).
    Contacts(ContactsJob),
    /// Answered once everything asked before is written.
    Flush(oneshot::Sender<()>),
}

/// A piece of work on the contacts; it gets the reason when they cannot be opened.
pub(crate) struct ContactsJob(pub(crate) Box<ContactsWork>);

/// What a [`ContactsJob`] runs: the contacts, or why they cannot be opened.
pub(crate) type ContactsWork = dyn FnOnce(Result<&mut Contacts, String>) + Send;

impl std::fmt::Debug for ContactsJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContactsJob")
    }
}

/// The calls the history thread is writing.
struct Live {
    id: i64,
    direction: CallDirection,
    answered: bool,
    /// Who: the contact's name (else the caller's display name) and number.
    name: String,
    number: String,
    codec: Option<String>,
    mos: Option<f32>,
}

/// The history thread's handle.
#[derive(Debug, Clone)]
pub(crate) struct HistoryWriter {
    ops: std_mpsc::Sender<Op>,
}

impl HistoryWriter {
    /// Opens the profile's history on a thread of its own; a history that cannot be opened
    /// is logged and every request on it answered with the error (calls still work).
    pub(crate) fn start(
        data_dir: PathBuf,
        region: Option<String>,
        events: broadcast::Sender<EngineEvent>,
    ) -> Self {
        let (ops, inbox) = std_mpsc::channel::<Op>();
        let spawned = std::thread::Builder::new()
            .name("siperb-history".into())
            .spawn(move || run(&data_dir, region, &inbox, &events));
        if let Err(e) = spawned {
            tracing::warn!("no call history: {e}");
        }
        Self { ops }
    }

    pub(crate) fn send(&self, op: Op) {
        let _ = self.ops.send(op);
    }
}

fn run(
    data_dir: &std::path::Path,
    region: Option<String>,
    inbox: &std_mpsc::Receiver<Op>,
    events: &broadcast::Sender<EngineEvent>,
) {
    let history = History::open(data_dir);
    if let Err(e) = &history {
        tracing::warn!("the call history cannot be used: {e}");
    }
    let mut contacts = Contacts::open(data_dir, region).map_err(|e| e.to_string());
    if let Err(e) = &contacts {
        tracing::warn!("the contacts cannot be used: {e}");
    }
    let mut live: HashMap<CallRef, Live> = HashMap::new();
    let unavailable = |e: &DbError| DbError::Unavailable(e.to_string());
    while let Ok(op) = inbox.recv() {
        let op = match op {
            Op::Contacts(job) => {
                (job.0)(contacts.as_mut().map_err(|e| e.clone()));
                continue;
            }
            Op::Flush(done) => {
                let _ = done.send(());
                continue;
            }
            other => other,
        };
        let h = match &history {
            Ok(h) => h,
            Err(e) => {
                match op {
                    Op::Event(..) => {}
                    Op::List(_, reply) => drop(reply.send(Err(unavailable(e)))),
                    Op::MarkSeen(reply) => drop(reply.send(Err(unavailable(e)))),
                    Op::Clear(reply) => drop(reply.send(Err(unavailable(e)))),
                    Op::UnseenMissed(reply) => drop(reply.send(Err(unavailable(e)))),
                    Op::Contacts(_) | Op::Flush(_) => {}
                }
                continue;
            }
        };
        match op {
            Op::Event(account, event) => {
                match record(h, contacts.as_ref().ok(), &mut live, &account, &event) {
                    Ok(Some((name, number))) => {
                        let _ = events.send(EngineEvent::CallMissed {
                            account: account.0.clone(),
                            name,
                            number,
                        });
                        if let Ok(count) = h.unseen_missed() {
                            let _ = events.send(EngineEvent::MissedCalls { count });
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("call history: {e}"),
                }
            }
            Op::List(query, reply) => {
                let _ = reply.send(h.list(&query));
            }
            Op::MarkSeen(reply) => {
                let result = h.mark_seen();
                if result.is_ok() {
                    let _ = events.send(EngineEvent::MissedCalls { count: 0 });
                }
                let _ = reply.send(result);
            }
            Op::Clear(reply) => {
                let result = h.clear();
                if result.is_ok() {
                    let _ = events.send(EngineEvent::MissedCalls { count: 0 });
                }
                let _ = reply.send(result);
            }
            Op::UnseenMissed(reply) => {
                let _ = reply.send(h.unseen_missed());
            }
            Op::Contacts(_) | Op::Flush(_) => {}
        }
    }
}

/// Writes one event; the name and number of the caller when it was a missed call (the badge
/// changes).
fn record(
    h: &History,
    contacts: Option<&Contacts>,
    live: &mut HashMap<CallRef, Live>,
    account: &AccountId,
    event: &CallEvent,
) -> Result<Option<(String, String)>, DbError> {
    let mut begin = |call: CallRef, direction, who: &str, answered: bool| -> Result<(), DbError> {
        let mut party = Party::parse(who);
        // The name the user gave the caller wins over the one the call carries.
        if let Some(Ok(Some(contact))) = contacts.map(|c| c.find_by_address(&party.uri))
            && !contact.name.is_empty()
        {
            party.display_name = contact.name;
        }
        let id = h.start(&NewCall {
            account: account.0.clone(),
            direction,
            remote_uri: party.uri,
            number: party.number.clone(),
            display_name: party.display_name.clone(),
        })?;
        if answered {
            h.answered(id)?;
        }
        live.insert(
            call,
            Live {
                id,
                direction,
                answered,
                name: party.display_name,
                number: party.number,
                codec: None,
                mos: None,
            },
        );
        Ok(())
    };
    match event {
        CallEvent::IncomingCall { call, from, .. } => {
            begin(*call, CallDirection::Incoming, from, false)?;
        }
        CallEvent::OutgoingCall { call, to } => begin(*call, CallDirection::Outgoing, to, false)?,
        CallEvent::CallReplaced { call, from, .. } => {
            begin(*call, CallDirection::Incoming, from, true)?;
        }
        CallEvent::State {
            call,
            phase: CallPhase::Established,
        } => {
            if let Some(l) = live.get_mut(call)
                && !l.answered
            {
                l.answered = true;
                h.answered(l.id)?;
            }
        }
        CallEvent::Stats { call, stats } => {
            if let Some(l) = live.get_mut(call) {
                l.codec = stats
                    .codec
                    .map(|c| c.encoding_name().to_ascii_lowercase())
                    .or(l.codec.take());
                l.mos = Some(stats.mos);
                h.alive(l.id, l.codec.as_deref(), l.mos)?;
            }
        }
        CallEvent::CallEnded { call, cause, .. } => {
            if let Some(l) = live.remove(call) {
                let (d, sip_code, sip_reason) = disposition(l.direction, l.answered, cause);
                h.ended(
                    l.id,
                    &CallEnd {
                        disposition: Some(d),
                        sip_code,
                        sip_reason,
                        codec: l.codec,
                        mos: l.mos,
                    },
                )?;
                return Ok((d == Disposition::Missed).then_some((l.name, l.number)));
            }
        }
        _ => {}
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parties_are_read_from_headers_as_they_come() {
        let p = Party::parse("\"Alice Smith\" <sip:+15551234@pbx.example.com;user=phone>;tag=9f");
        assert_eq!(p.uri, "sip:+15551234@pbx.example.com;user=phone");
        assert_eq!(p.number, "+15551234");
        assert_eq!(p.display_name, "Alice Smith");
        let p = Party::parse("sip:bob@127.0.0.1:5060;tag=abc");
        assert_eq!(
            (p.uri.as_str(), p.number.as_str(), p.display_name.as_str()),
            ("sip:bob@127.0.0.1:5060", "bob", "")
        );
        let p = Party::parse("Front Desk <sips:2001@pbx>");
        assert_eq!(
            (p.number.as_str(), p.display_name.as_str()),
            ("2001", "Front Desk")
        );
        assert_eq!(Party::parse("tel:+441632960123").number, "+441632960123");
        assert_eq!(Party::parse("").uri, "");
        assert_eq!(Party::parse("<>").number, "");
    }

    #[test]
    fn each_ending_has_its_disposition() {
        use CallDirection::{Incoming, Outgoing};
        let refused = |code| EndCause::Refused {
            code,
            reason: "x".into(),
        };
        let table = [
            (
                Incoming,
                true,
                EndCause::RemoteHangup,
                Disposition::Answered,
            ),
            (
                Incoming,
                false,
                EndCause::CallerCancelled,
                Disposition::Missed,
            ),
            (Incoming, false, EndCause::NoAnswer, Disposition::Missed),
            (
                Incoming,
                false,
                EndCause::Rejected { code: 603 },
                Disposition::Rejected,
            ),
            (
                Incoming,
                false,
                EndCause::LocalHangup,
                Disposition::Rejected,
            ),
            (Outgoing, true, EndCause::LocalHangup, Disposition::Answered),
            (
                Outgoing,
                false,
                EndCause::LocalHangup,
                Disposition::Cancelled,
            ),
            (Outgoing, false, refused(486), Disposition::Busy),
            (Outgoing, false, refused(600), Disposition::Busy),
            (Outgoing, false, refused(404), Disposition::Failed),
            (Outgoing, false, EndCause::NoAnswer, Disposition::Failed),
            (Incoming, false, EndCause::Replaced, Disposition::Answered),
        ];
        for (dir, answered, cause, want) in table {
            assert_eq!(
                disposition(dir, answered, &cause).0,
                want,
                "{dir:?} {answered} {cause:?}"
            );
        }
        assert_eq!(disposition(Outgoing, false, &refused(404)).1, Some(404));
    }
}
