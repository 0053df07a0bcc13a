//! The registration machine with a fake clock: no sockets, no sleeps.

use super::*;

const CHALLENGE: &str =
    "Digest realm=\"example.org\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256";

struct Fixture {
    reg: Registration,
    now: Instant,
}

impl Fixture {
    fn new() -> Self {
        let config = RegistrationConfig {
            auth_user: "alice".into(),
            password: "secret".into(),
            request_uri: "sip:example.org".into(),
            expires: 300,
        };
        Self {
            reg: Registration::new(config, 42),
            now: Instant::now(),
        }
    }

    fn at(&mut self, after: Duration, input: Input) -> Vec<Action> {
        self.now += after;
        self.reg.handle(self.now, input)
    }

    fn input(&mut self, input: Input) -> Vec<Action> {
        self.at(Duration::ZERO, input)
    }
}

fn response(status: u16) -> Input {
    Input::Response(RegisterResponse {
        status,
        reason: "x".into(),
        ..Default::default()
    })
}

fn challenged(status: u16, challenge: &str) -> Input {
    Input::Response(RegisterResponse {
        status,
        challenge: Some(challenge.into()),
        ..Default::default()
    })
}

fn ok(expires: u32) -> Input {
    Input::Response(RegisterResponse {
        status: 200,
        expires: Some(expires),
        ..Default::default()
    })
}

fn sent(actions: &[Action]) -> Option<(u32, Option<Authorization>)> {
    actions.iter().find_map(|a| match a {
        Action::SendRegister {
            expires,
            authorization,
        } => Some((*expires, authorization.clone())),
        _ => None,
    })
}

fn timer(actions: &[Action]) -> Option<Duration> {
    actions.iter().find_map(|a| match a {
        Action::ArmTimer(d) => Some(*d),
        _ => None,
    })
}

#[test]
fn registers_through_a_digest_challenge_and_refreshes() {
    let mut f = Fixture::new();
    let a = f.input(Input::Start);
    assert_eq!(sent(&a), Some((300, None)));
    assert!(a.contains(&Action::State(RegistrationState::Registering)));

    let a = f.input(challenged(401, CHALLENGE));
    let (expires, auth) = sent(&a).expect("re-sent with credentials");
    let auth = auth.expect("authorization");
    assert_eq!((expires, auth.header), (300, "Authorization"));
    assert!(auth.value.contains("algorithm=SHA-256") && auth.value.contains("nc=00000001"));
    assert!(
        !auth.value.contains("secret"),
        "the password itself is never sent"
    );

    let a = f.input(ok(120));
    assert!(a.contains(&Action::State(RegistrationState::Registered {
        expires_secs: 120
    })));
    assert_eq!(
        timer(&a),
        Some(Duration::from_secs(88)),
        "refresh before expiry with margin"
    );

    // The refresh reuses the nonce with the next nonce-count.
    let a = f.at(Duration::from_secs(88), Input::Timer);
    let (_, auth) = sent(&a).expect("refresh");
    assert!(auth.expect("authorization").value.contains("nc=00000002"));
    assert!(
        !a.iter().any(|x| matches!(x, Action::State(_))),
        "still registered while refreshing"
    );
}

#[test]
fn a_wrong_password_fails_once_without_a_retry_storm() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    f.input(challenged(401, CHALLENGE));
    let a = f.input(challenged(
        401,
        "Digest realm=\"example.org\", nonce=\"n2\", qop=\"auth\"",
    ));
    assert!(sent(&a).is_none(), "no third REGISTER");
    assert!(a.contains(&Action::State(RegistrationState::Failed {
        failure: RegistrationFailure::AuthenticationFailed
    })));
    assert!(timer(&a).is_none());
    assert!(sent(&f.at(Duration::from_secs(600), Input::Timer)).is_none());
    // A new password starts over.
    let a = f.input(Input::CredentialsChanged("right".into()));
    assert_eq!(sent(&a), Some((300, None)));
}

#[test]
fn a_stale_nonce_is_retried_and_407_uses_proxy_authorization() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    f.input(challenged(407, CHALLENGE));
    let a = f.input(challenged(
        407,
        "Digest realm=\"example.org\", nonce=\"n3\", stale=true, qop=auth",
    ));
    let (_, auth) = sent(&a).expect("retried with the fresh nonce");
    let auth = auth.expect("authorization");
    assert_eq!(auth.header, "Proxy-Authorization");
    assert!(auth.value.contains("nonce=\"n3\""));
}

#[test]
fn interval_too_brief_raises_the_expiry() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    let a = f.input(Input::Response(RegisterResponse {
        status: 423,
        min_expires: Some(3600),
        ..Default::default()
    }));
    assert_eq!(sent(&a), Some((3600, None)));
}

#[test]
fn forbidden_is_final_until_the_user_acts() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    let a = f.input(response(403));
    assert!(a.contains(&Action::State(RegistrationState::Failed {
        failure: RegistrationFailure::Forbidden
    })));
    assert!(timer(&a).is_none() && sent(&a).is_none());
}

#[test]
fn a_dead_server_is_retried_with_growing_jittered_delays_forever() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    let mut delays = Vec::new();
    for _ in 0..12 {
        let a = f.input(Input::NoAnswer);
        let d = timer(&a).expect("a retry is always armed");
        assert!(
            d >= Duration::from_secs(3) && d <= Duration::from_secs(300),
            "{d:?}"
        );
        delays.push(d);
        let a = f.at(d, Input::Timer);
        assert!(sent(&a).is_some(), "retried when the timer fires");
    }
    assert!(delays[5] > delays[0], "delays grow: {delays:?}");
    assert!(matches!(f.reg.state(), RegistrationState::Registering));
    // Success resets the back-off.
    f.input(ok(300));
    f.at(Duration::from_secs(225), Input::Timer);
    let d = timer(&f.input(Input::NoAnswer)).expect("retry");
    assert!(d <= Duration::from_secs(3), "{d:?}");
}

#[test]
fn a_broken_flow_re_registers_at_once_but_never_faster_than_every_3_s() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    f.input(ok(300));
    let a = f.at(Duration::from_secs(10), Input::FlowBroken);
    assert!(sent(&a).is_some(), "re-register at once");
    assert!(a.contains(&Action::State(RegistrationState::Registering)));
    let a = f.at(Duration::from_secs(1), Input::FlowBroken);
    assert!(sent(&a).is_none(), "not again within 3 s");
    assert!(timer(&a).expect("armed") >= Duration::from_secs(3));
}

#[test]
fn stop_un_registers_and_ignores_late_inputs() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    f.input(challenged(401, CHALLENGE));
    f.input(ok(300));
    let a = f.input(Input::Stop);
    let (expires, auth) = sent(&a).expect("un-REGISTER");
    assert_eq!(expires, 0);
    assert!(auth.is_some(), "the un-REGISTER carries credentials too");
    assert!(a.contains(&Action::CancelTimer));
    assert!(a.contains(&Action::State(RegistrationState::Unregistered)));
    assert!(f.input(Input::Timer).is_empty());
    assert!(f.input(ok(300)).is_empty());
}

#[test]
fn the_password_is_not_in_debug_output() {
    let f = Fixture::new();
    assert!(!format!("{:?}", f.reg).contains("secret"));
}

#[test]
fn the_next_server_is_registered_with_at_once_and_challenges_afresh() {
    let mut f = Fixture::new();
    f.input(Input::Start);
    let a = f.input(challenged(401, CHALLENGE));
    assert!(sent(&a).is_some_and(|(_, auth)| auth.is_some()));
    // The first server went quiet after the challenge: the next one gets a clean REGISTER,
    // and its own challenge is answered (not counted as a second answer to the first).
    let a = f.input(Input::NextServer);
    assert_eq!(sent(&a), Some((300, None)));
    assert!(timer(&a).is_none());
    let a = f.input(challenged(401, CHALLENGE));
    assert!(sent(&a).is_some_and(|(_, auth)| auth.is_some()));
    assert!(
        f.input(ok(300))
            .contains(&Action::State(RegistrationState::Registered {
                expires_secs: 300
            }))
    );
}
