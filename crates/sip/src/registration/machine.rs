use std::fmt;
use std::time::{Duration, Instant};

use super::{RegistrationFailure, RegistrationState, refresh_after};
use crate::RetryBackoff;
use crate::digest::Challenge;

/// What the machine needs to know about the account.
#[derive(Clone)]
pub struct RegistrationConfig {
    /// The digest user name.
    pub auth_user: String,
    pub password: String,
    /// The REGISTER Request-URI (`sip:domain`), which digest signs.
    pub request_uri: String,
    pub expires: u32,
}

impl fmt::Debug for RegistrationConfig {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationConfig")
            .field("auth_user", &self.auth_user)
            .field("password", &"<redacted>")
            .field("request_uri", &self.request_uri)
            .field("expires", &self.expires)
            .finish()
    }
}

/// The final response to our last REGISTER, as the transaction layer delivers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterResponse {
    pub status: u16,
    pub reason: String,
    /// What the registrar granted (our Contact's `expires`, else the Expires header).
    pub expires: Option<u32>,
    /// Min-Expires of a 423.
    pub min_expires: Option<u32>,
    /// The WWW-Authenticate (401) or Proxy-Authenticate (407) value.
    pub challenge: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Begin registering (account enabled, app started).
    Start,
    /// Un-register and stop (account disabled, app quitting).
    Stop,
    Response(RegisterResponse),
    /// The REGISTER transaction timed out.
    NoAnswer,
    /// The request could not be sent or the connection failed.
    Failed(RegistrationFailure),
    /// The flow to the registrar broke (connection closed, keep-alive unanswered).
    FlowBroken,
    /// The last server failed and we moved on to the next of the account's servers (RFC 3263
    /// failover): register there afresh, at once.
    NextServer,
    /// The timer from the last [`Action::ArmTimer`] fired.
    Timer,
    /// The user changed the password: try again at once.
    CredentialsChanged(String),
}

/// The header carrying our credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `Authorization` (after a 401) or `Proxy-Authorization` (after a 407).
    pub header: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SendRegister {
        expires: u32,
        authorization: Option<Authorization>,
    },
    /// (Re)arm the single registration timer.
    ArmTimer(Duration),
    CancelTimer,
    State(RegistrationState),
}

/// One account's registration, sans-IO: inputs and the current time in, actions out.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    state: RegistrationState,
    expires: u32,
    stopped: bool,
    challenge: Option<(Challenge, &'static str)>,
    nonce_count: u32,
    cnonce: String,
    /// Challenges answered since the last success; a second one without `stale` means the
    /// credentials are wrong (no retry storm).
    challenges_answered: u32,
    backoff: RetryBackoff,
    last_sent: Option<Instant>,
    rng: u64,
}

impl Registration {
    /// `seed` drives the cnonce and the retry jitter (from the OS RNG in the app, fixed in tests).
    pub fn new(config: RegistrationConfig, seed: u64) -> Self {
        Self {
            expires: config.expires,
            config,
            state: RegistrationState::Unregistered,
            stopped: true,
            challenge: None,
            nonce_count: 0,
            cnonce: String::new(),
            challenges_answered: 0,
            backoff: RetryBackoff::new(),
            last_sent: None,
            rng: seed | 1,
        }
    }

    pub fn state(&self) -> &RegistrationState {
        &self.state
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                self.stopped = false;
                self.challenges_answered = 0;
                self.set_state(RegistrationState::Registering, &mut out);
                self.send(now, self.expires, &mut out);
            }
            Input::CredentialsChanged(password) => {
                self.config.password = password;
                self.challenge = None;
                return self.handle(now, Input::Start);
            }
            Input::Stop => {
                let was_active = !self.stopped
                    && matches!(
                        self.state,
                        RegistrationState::Registered { .. } | RegistrationState::Registering
                    );
                self.stopped = true;
                out.push(Action::CancelTimer);
                if was_active {
                    self.send(now, 0, &mut out);
                }
                self.set_state(RegistrationState::Unregistered, &mut out);
            }
            _ if self.stopped => {}
            Input::Response(r) => self.on_response(now, r, &mut out),
            Input::NoAnswer => self.retry_later(RegistrationFailure::Timeout, &mut out),
            Input::Failed(failure) => self.retry_later(failure, &mut out),
            Input::FlowBroken => {
                // Our binding now points at a dead flow: say so, and re-register at once over
                // a new flow, but never faster than every 3 s.
                let since = self.last_sent.map(|t| now.saturating_duration_since(t));
                self.set_state(RegistrationState::Registering, &mut out);
                if since.is_none_or(|d| d >= RetryBackoff::MIN) {
                    self.send(now, self.expires, &mut out);
                } else {
                    let jitter = self.next_jitter();
                    out.push(Action::ArmTimer(self.backoff.next_delay(jitter)));
                }
            }
            Input::NextServer => {
                // Another server: its own challenge, a fresh count of answers.
                self.challenge = None;
                self.challenges_answered = 0;
                self.set_state(RegistrationState::Registering, &mut out);
                self.send(now, self.expires, &mut out);
            }
            Input::Timer => match self.state {
                RegistrationState::Failed {
                    failure:
                        RegistrationFailure::AuthenticationFailed | RegistrationFailure::Forbidden,
                } => {}
                RegistrationState::Failed { .. } => {
                    self.set_state(RegistrationState::Registering, &mut out);
                    self.send(now, self.expires, &mut out);
                }
                _ => self.send(now, self.expires, &mut out),
            },
        }
        out
    }

    fn on_response(&mut self, now: Instant, r: RegisterResponse, out: &mut Vec<Action>) {
        match r.status {
            100..=199 => {}
            200..=299 => {
                self.challenges_answered = 0;
                self.backoff.reset();
                let granted = r.expires.unwrap_or(self.expires);
                if granted == 0 {
                    // The registrar dropped our binding: register again soon.
                    self.retry_later(
                        RegistrationFailure::Rejected {
                            code: r.status,
                            reason: "expires=0".into(),
                        },
                        out,
                    );
                    return;
                }
                self.set_state(
                    RegistrationState::Registered {
                        expires_secs: granted,
                    },
                    out,
                );
                out.push(Action::ArmTimer(refresh_after(Duration::from_secs(
                    u64::from(granted),
                ))));
            }
            401 | 407 => {
                let header = if r.status == 401 {
                    "Authorization"
                } else {
                    "Proxy-Authorization"
                };
                let parsed = r.challenge.as_deref().map(Challenge::parse);
                let challenge = match parsed {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => {
                        return self.fail(
                            RegistrationFailure::Rejected {
                                code: r.status,
                                reason: e.to_string(),
                            },
                            out,
                        );
                    }
                    None => {
                        return self.fail(
                            RegistrationFailure::Rejected {
                                code: r.status,
                                reason: "a challenge without credentials to ask for".into(),
                            },
                            out,
                        );
                    }
                };
                if (self.challenges_answered >= 1 && !challenge.stale)
                    || self.challenges_answered >= 4
                {
                    return self.fail(RegistrationFailure::AuthenticationFailed, out);
                }
                self.challenges_answered += 1;
                self.nonce_count = 0;
                self.cnonce = format!("{:016x}", self.next_random());
                self.challenge = Some((challenge, header));
                self.send(now, self.expires, out);
            }
            423 => match r.min_expires {
                Some(min) if min > self.expires => {
                    self.expires = min;
                    self.send(now, self.expires, out);
                }
                _ => self.fail(
                    RegistrationFailure::Rejected {
                        code: 423,
                        reason: r.reason,
                    },
                    out,
                ),
            },
            403 => self.fail(RegistrationFailure::Forbidden, out),
            408 | 480 | 500..=699 => self.retry_later(
                RegistrationFailure::Rejected {
                    code: r.status,
                    reason: r.reason,
                },
                out,
            ),
            code => self.fail(
                RegistrationFailure::Rejected {
                    code,
                    reason: r.reason,
                },
                out,
            ),
        }
    }

    /// A failure the user must act on: no automatic retry.
    fn fail(&mut self, failure: RegistrationFailure, out: &mut Vec<Action>) {
        out.push(Action::CancelTimer);
        self.set_state(RegistrationState::Failed { failure }, out);
    }

    /// A failure of the network or the server: retry with back-off, forever.
    fn retry_later(&mut self, failure: RegistrationFailure, out: &mut Vec<Action>) {
        self.set_state(RegistrationState::Failed { failure }, out);
        let jitter = self.next_jitter();
        out.push(Action::ArmTimer(self.backoff.next_delay(jitter)));
    }

    fn send(&mut self, now: Instant, expires: u32, out: &mut Vec<Action>) {
        let authorization = self.challenge.as_ref().map(|(challenge, header)| {
            self.nonce_count += 1;
            Authorization {
                header,
                value: challenge.authorize(
                    &self.config.auth_user,
                    &self.config.password,
                    "REGISTER",
                    &self.config.request_uri,
                    &self.cnonce,
                    self.nonce_count,
                ),
            }
        });
        self.last_sent = Some(now);
        out.push(Action::SendRegister {
            expires,
            authorization,
        });
    }

    fn set_state(&mut self, state: RegistrationState, out: &mut Vec<Action>) {
        if self.state != state {
            self.state = state.clone();
            out.push(Action::State(state));
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: enough for jitter and cnonce uniqueness; the seed comes from the OS.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn next_jitter(&mut self) -> f64 {
        (self.next_random() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests;
