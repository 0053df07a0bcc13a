//! Which of an account's servers to use (RFC 3263 §4.3): the located addresses are tried in
//! order; a server that does not answer, cannot be reached or answers 503 makes us move to the
//! next at once. When every one of them failed, the failure goes to the registration machine
//! (which backs off) and the next attempt starts again from the best server.

use std::net::SocketAddr;

use super::{Input, RegistrationFailure};

#[derive(Debug, Clone)]
pub struct ServerList {
    addresses: Vec<SocketAddr>,
    at: usize,
}

/// What to do after a REGISTER's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failover {
    /// Keep going with the current server (it answered, even if with a refusal).
    Stay,
    /// Register with this next server now.
    MoveTo(SocketAddr),
    /// Every server failed: report it and start over from the first after the back-off.
    Exhausted,
}

impl ServerList {
    /// `addresses` best first; never empty (the caller located at least one).
    pub fn new(addresses: Vec<SocketAddr>) -> Self {
        Self { addresses, at: 0 }
    }

    pub fn current(&self) -> Option<SocketAddr> {
        self.addresses.get(self.at).copied()
    }

    pub fn all(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// Whether more servers remain after the current one.
    pub fn has_next(&self) -> bool {
        self.at + 1 < self.addresses.len()
    }

    /// A fresh lookup: the new list, from its best server.
    pub fn replace(&mut self, addresses: Vec<SocketAddr>) {
        if !addresses.is_empty() {
            self.addresses = addresses;
        }
        self.at = 0;
    }

    /// Decides on the outcome of a REGISTER sent to the current server.
    pub fn after(&mut self, outcome: &Input) -> Failover {
        let server_failed = match outcome {
            Input::NoAnswer => true,
            Input::Failed(
                RegistrationFailure::Network { .. } | RegistrationFailure::Tls { .. },
            ) => true,
            Input::Response(r) => r.status == 503,
            _ => false,
        };
        if !server_failed {
            return Failover::Stay;
        }
        if self.has_next() {
            self.at += 1;
            Failover::MoveTo(self.addresses[self.at])
        } else {
            self.at = 0;
            Failover::Exhausted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RegisterResponse;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn answered(status: u16) -> Input {
        Input::Response(RegisterResponse {
            status,
            ..Default::default()
        })
    }

    #[test]
    fn dead_or_overloaded_servers_are_skipped_in_order_then_the_list_starts_over() {
        let mut list = ServerList::new(vec![addr(1), addr(2), addr(3)]);
        assert_eq!(list.current(), Some(addr(1)));
        assert_eq!(list.after(&Input::NoAnswer), Failover::MoveTo(addr(2)));
        assert_eq!(list.after(&answered(503)), Failover::MoveTo(addr(3)));
        assert_eq!(
            list.after(&Input::Failed(RegistrationFailure::Network {
                detail: "refused".into()
            })),
            Failover::Exhausted
        );
        assert_eq!(list.current(), Some(addr(1)));
    }

    #[test]
    fn a_server_that_answers_is_kept_even_when_it_refuses() {
        let mut list = ServerList::new(vec![addr(1), addr(2)]);
        for outcome in [
            answered(200),
            answered(401),
            answered(403),
            answered(500),
            Input::Failed(RegistrationFailure::AuthenticationFailed),
        ] {
            assert_eq!(list.after(&outcome), Failover::Stay, "{outcome:?}");
            assert_eq!(list.current(), Some(addr(1)));
        }
        assert_eq!(
            list.after(&Input::Failed(RegistrationFailure::Tls {
                detail: "bad certificate".into()
            })),
            Failover::MoveTo(addr(2))
        );
        list.replace(vec![addr(7)]);
        assert_eq!(list.current(), Some(addr(7)));
        assert!(!list.has_next());
        list.replace(Vec::new());
        assert_eq!(
            list.current(),
            Some(addr(7)),
            "an empty lookup keeps the old list"
        );
    }
}
