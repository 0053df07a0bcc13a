//! Ringing and call waiting. [`Alerting`] decides (sans-IO, from the calls' events) when the
//! phone rings and when the call in progress hears the call-waiting beeps instead;
//! [`AlertPlayer`] plays the ringtone on the ringer device, on a thread of its own.
//!
//! The rules: an incoming call rings the ringer while no call is up; when one is up, the
//! active call (the newest one not on hold) beeps softly instead, and nothing rings. Ringing
//! and beeping stop as soon as no call is waiting for an answer (answered, declined, given up
//! by the caller).

use std::sync::mpsc as std_mpsc;

use serde::Serialize;
use siperb_audio::{Ringer, RingerSettings};
use siperb_sip::AccountId;
use siperb_sip::call::CallPhase;
use siperb_sip::phone::{CallEvent, CallRef};
use specta::Type;
use tokio::sync::broadcast;

use crate::EngineEvent;

/// What to do about ringing, from one call event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Alert {
    /// Ring (again, if it rang for another account) with this account's ringtone.
    Ring {
        account: AccountId,
    },
    StopRinging,
    /// Start or stop the call-waiting beeps on a call.
    CallWaiting {
        call: CallRef,
        on: bool,
    },
}

/// The calls that matter for ringing, and what is playing.
#[derive(Debug, Default)]
pub(crate) struct Alerting {
    /// Incoming calls not answered yet, oldest first.
    waiting: Vec<(CallRef, AccountId)>,
    /// Calls that are up, oldest first.
    up: Vec<CallRef>,
    /// Calls the user put on hold.
    held: Vec<CallRef>,
    /// Ringing now, for this account's call.
    ringing: Option<AccountId>,
    /// The call the beeps play over now.
    beeping: Option<CallRef>,
}

impl Alerting {
    /// Takes one event of a call on `account`; says what changes.
    pub(crate) fn on_event(&mut self, account: &AccountId, event: &CallEvent) -> Vec<Alert> {
        match event {
            CallEvent::IncomingCall { call, .. }
                if !self.waiting.iter().any(|(c, _)| c == call) =>
            {
                self.waiting.push((*call, account.clone()));
            }
            CallEvent::State { call, phase } => match phase {
                CallPhase::Connecting => self.answered(*call, false),
                CallPhase::Established => self.answered(*call, true),
                CallPhase::Ending | CallPhase::Ended => self.gone(*call),
                _ => {}
            },
            CallEvent::CallReplaced { call, replaced, .. } => {
                self.answered(*call, true);
                self.gone(*replaced);
            }
            CallEvent::Hold { call, local, .. } => {
                self.held.retain(|c| c != call);
                if *local {
                    self.held.push(*call);
                }
            }
            CallEvent::CallEnded { call, .. } => self.gone(*call),
            _ => {}
        }
        self.settle()
    }

    /// Whether the ringer should be ringing now (for tests and status).
    #[cfg(test)]
    fn ringing(&self) -> Option<&AccountId> {
        self.ringing.as_ref()
    }

    fn answered(&mut self, call: CallRef, up: bool) {
        self.waiting.retain(|(c, _)| *c != call);
        if up && !self.up.contains(&call) {
            self.up.push(call);
        }
    }

    fn gone(&mut self, call: CallRef) {
        self.waiting.retain(|(c, _)| *c != call);
        self.up.retain(|c| *c != call);
        self.held.retain(|c| *c != call);
    }

    fn settle(&mut self) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let first_waiting = self.waiting.first().map(|(_, a)| a.clone());
        let ring = first_waiting.clone().filter(|_| self.up.is_empty());
        let beep = first_waiting.and_then(|_| {
            self.up
                .iter()
                .rev()
                .find(|c| !self.held.contains(c))
                .or(self.up.last())
                .copied()
        });
        if ring != self.ringing {
            alerts.push(match &ring {
                Some(account) => Alert::Ring {
                    account: account.clone(),
                },
                None => Alert::StopRinging,
            });
            self.ringing = ring;
        }
        if beep != self.beeping {
            // A call that ended takes its beeps with it; one still up is told to stop.
            if let Some(old) = self.beeping.filter(|c| self.up.contains(c)) {
                alerts.push(Alert::CallWaiting {
                    call: old,
                    on: false,
                });
            }
            if let Some(call) = beep {
                alerts.push(Alert::CallWaiting { call, on: true });
            }
            self.beeping = beep;
        }
        alerts
    }
}

/// The ringer device and ringtone one run uses instead of the saved ones (the CLI's flags).
#[derive(Debug, Clone, Default)]
pub(crate) struct RunRinger {
    pub(crate) device: Option<siperb_audio::ChosenDevice>,
    pub(crate) ringtone: Option<siperb_audio::Ringtone>,
}

impl RunRinger {
    /// How to ring for a call on `account`: the saved ringer with this run's device and
    /// ringtone, else the account's own ringtone if it has one; with no ringer device chosen,
    /// it rings where calls' audio goes (the chosen speaker, or a new headset).
    pub(crate) fn ringer(
        &self,
        settings: &siperb_store::Settings,
        account: &AccountId,
    ) -> RingerSettings {
        let mut ringer = settings.ringer.clone();
        if let Some(tone) = self
            .ringtone
            .or_else(|| settings.account_ringtones.get(&account.0).copied())
        {
            ringer.ringtone = tone;
        }
        if let Some(device) = &self.device {
            ringer.device = Some(device.clone());
        }
        if ringer.device.is_none() {
            ringer.device = settings.devices.speaker.clone();
            ringer.follow_headsets = settings.devices.follow_headsets;
        }
        ringer
    }
}

/// What the ringer did, for the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Type)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RingerEvent {
    /// Ringing on this device.
    Ringing {
        device: String,
    },
    Stopped,
    /// It cannot ring (no device, no sound server); the call still shows.
    Failed {
        reason: String,
    },
}

/// Plays the ringtone on a thread of its own (opening a device can take a moment; the engine
/// never waits for it).
#[derive(Debug)]
pub(crate) struct AlertPlayer {
    orders: std_mpsc::Sender<Option<RingerSettings>>,
}

impl AlertPlayer {
    pub(crate) fn start(events: broadcast::Sender<EngineEvent>) -> Self {
        let (orders, inbox) = std_mpsc::channel::<Option<RingerSettings>>();
        let spawned = std::thread::Builder::new()
            .name("siperb-alerts".into())
            .spawn(move || {
                let mut ringer: Option<Ringer> = None;
                while let Ok(order) = inbox.recv() {
                    let was_ringing = ringer.take().is_some();
                    let event = match order {
                        Some(settings) => match Ringer::start(&settings) {
                            Ok(r) => {
                                let device = r.device().to_string();
                                tracing::info!("ringing on {device}");
                                ringer = Some(r);
                                RingerEvent::Ringing { device }
                            }
                            Err(e) => {
                                tracing::warn!("cannot ring: {e}");
                                RingerEvent::Failed {
                                    reason: e.to_string(),
                                }
                            }
                        },
                        None if was_ringing => RingerEvent::Stopped,
                        None => continue,
                    };
                    let _ = events.send(EngineEvent::Ringer { event });
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("no ringer: {e}");
        }
        Self { orders }
    }

    pub(crate) fn ring(&self, settings: RingerSettings) {
        let _ = self.orders.send(Some(settings));
    }

    pub(crate) fn stop(&self) {
        let _ = self.orders.send(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siperb_sip::call::EndCause;

    fn acc(name: &str) -> AccountId {
        AccountId(name.into())
    }

    fn incoming(call: u64) -> CallEvent {
        CallEvent::IncomingCall {
            call: CallRef(call),
            from: "sip:carol@example.com".into(),
            to: "sip:alice@example.com".into(),
            waiting: false,
        }
    }

    fn state(call: u64, phase: CallPhase) -> CallEvent {
        CallEvent::State {
            call: CallRef(call),
            phase,
        }
    }

    fn ended(call: u64) -> CallEvent {
        CallEvent::CallEnded {
            call: CallRef(call),
            cause: EndCause::RemoteHangup,
            talk_secs: 0.0,
            media: Default::default(),
        }
    }

    fn beep(call: u64, on: bool) -> Alert {
        Alert::CallWaiting {
            call: CallRef(call),
            on,
        }
    }

    #[test]
    fn a_call_rings_until_it_is_answered() {
        let mut a = Alerting::default();
        let work = acc("work");
        assert_eq!(
            a.on_event(&work, &incoming(1)),
            [Alert::Ring {
                account: work.clone()
            }]
        );
        assert_eq!(a.on_event(&work, &state(1, CallPhase::Incoming)), []);
        assert_eq!(
            a.on_event(&work, &state(1, CallPhase::Connecting)),
            [Alert::StopRinging]
        );
        assert_eq!(a.on_event(&work, &state(1, CallPhase::Established)), []);
        assert_eq!(a.on_event(&work, &ended(1)), []);
        assert_eq!(a.ringing(), None);
    }

    #[test]
    fn a_call_given_up_by_the_caller_stops_the_ringing() {
        let mut a = Alerting::default();
        a.on_event(&acc("a"), &incoming(1));
        assert_eq!(a.on_event(&acc("a"), &ended(1)), [Alert::StopRinging]);
    }

    #[test]
    fn a_second_call_beeps_over_the_first_and_never_rings() {
        let mut a = Alerting::default();
        let x = acc("x");
        a.on_event(&x, &state(1, CallPhase::Dialing));
        a.on_event(&x, &state(1, CallPhase::Established));
        assert_eq!(a.on_event(&x, &incoming(2)), [beep(1, true)]);
        // Answering it stops the beeps (the first call goes on hold by itself).
        assert_eq!(
            a.on_event(&x, &state(2, CallPhase::Connecting)),
            [beep(1, false)]
        );
        assert_eq!(a.on_event(&x, &state(2, CallPhase::Established)), []);
        // A third call: the newest call not on hold beeps.
        a.on_event(
            &x,
            &CallEvent::Hold {
                call: CallRef(1),
                local: true,
                remote: false,
            },
        );
        assert_eq!(a.on_event(&x, &incoming(3)), [beep(2, true)]);
        // The talking call ends while the third still rings: now it rings.
        assert_eq!(
            a.on_event(&x, &ended(2)),
            [beep(1, true)],
            "the held call is still up"
        );
        assert_eq!(
            a.on_event(&x, &ended(1)),
            [Alert::Ring { account: x.clone() }]
        );
        assert_eq!(a.on_event(&x, &ended(3)), [Alert::StopRinging]);
    }

    #[test]
    fn two_accounts_ring_in_turn_with_their_own_ringtone() {
        let mut a = Alerting::default();
        a.on_event(&acc("home"), &incoming(1));
        assert_eq!(a.on_event(&acc("work"), &incoming(2)), []);
        assert_eq!(
            a.on_event(&acc("home"), &ended(1)),
            [Alert::Ring {
                account: acc("work")
            }]
        );
    }

    #[test]
    fn the_ringer_takes_the_run_then_the_account_then_the_saved_choices() {
        let mut settings = siperb_store::Settings::default();
        let speaker = siperb_audio::ChosenDevice {
            id: siperb_audio::DeviceId("usb-speaker".into()),
            name: "USB Speaker".into(),
        };
        settings.devices.speaker = Some(speaker.clone());
        settings.ringer.volume = 40;
        settings
            .account_ringtones
            .insert("work".into(), siperb_audio::Ringtone::Marimba);
        let run = RunRinger::default();
        let home = run.ringer(&settings, &acc("home"));
        assert_eq!(home.ringtone, siperb_audio::Ringtone::Classic);
        assert_eq!(home.device, Some(speaker.clone()), "rings where calls go");
        assert_eq!(home.volume, 40);
        let work = run.ringer(&settings, &acc("work"));
        assert_eq!(work.ringtone, siperb_audio::Ringtone::Marimba);
        let laptop = siperb_audio::ChosenDevice {
            id: siperb_audio::DeviceId("laptop".into()),
            name: "Laptop".into(),
        };
        settings.ringer.device = Some(laptop.clone());
        assert_eq!(run.ringer(&settings, &acc("work")).device, Some(laptop));
        let run = RunRinger {
            device: Some(speaker.clone()),
            ringtone: Some(siperb_audio::Ringtone::Soft),
        };
        let r = run.ringer(&settings, &acc("work"));
        assert_eq!(
            (r.device, r.ringtone),
            (Some(speaker), siperb_audio::Ringtone::Soft)
        );
    }

    #[test]
    fn a_call_replacing_another_does_not_ring() {
        let mut a = Alerting::default();
        let x = acc("x");
        a.on_event(&x, &state(1, CallPhase::Established));
        let replaced = CallEvent::CallReplaced {
            call: CallRef(2),
            replaced: CallRef(1),
            from: "sip:bob@example.com".into(),
        };
        assert_eq!(a.on_event(&x, &replaced), []);
        assert_eq!(a.on_event(&x, &incoming(3)), [beep(2, true)]);
    }
}
