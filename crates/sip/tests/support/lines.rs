//! Our own local line (no server) on a free loopback port, and waiting for its events.
// Shared by several test crates; each uses a part.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use siperb_sip::phone::{CallEvent, Line, LineConfig, MediaFactory, RtpFactory};
use siperb_sip::ua::SipEndpoint;
use tokio::sync::mpsc;

pub(crate) type Events = mpsc::UnboundedReceiver<CallEvent>;

/// A local line for `user`; keep the endpoint alive as long as the line is used.
pub(crate) async fn local_line(user: &str) -> (SipEndpoint, Line, Events) {
    local_line_with(user, Arc::new(RtpFactory::default())).await
}

/// [`local_line`] with the media backend given.
pub(crate) async fn local_line_with(
    user: &str,
    media: Arc<dyn MediaFactory>,
) -> (SipEndpoint, Line, Events) {
    let ep = SipEndpoint::bind_udp("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let (tx, rx) = mpsc::unbounded_channel();
    let cfg = LineConfig {
        user: user.into(),
        aor: format!("sip:{user}@{}", ep.local_addr()),
        display_name: None,
        proxy: None,
        credential: None,
        ghost_filter: true,
        do_not_disturb: false,
        media,
        media_settings: Default::default(),
    };
    let line = ep.start_line(cfg, tx).expect("line");
    (ep, line, rx)
}

/// The next event `want` accepts, within `secs`; on timeout the panic shows `context()`.
pub(crate) async fn next_event(
    rx: &mut Events,
    secs: u64,
    context: impl Fn() -> String,
    want: impl Fn(&CallEvent) -> bool,
) -> CallEvent {
    let found = tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let e = rx.recv().await.expect("events");
            if want(&e) {
                return e;
            }
        }
    })
    .await;
    match found {
        Ok(e) => e,
        Err(_) => panic!("no such event in {secs} s\n{}", context()),
    }
}
