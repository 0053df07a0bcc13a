//! Transfers: the attended transfer we start (REFER with Replaces naming our consultation
//! call), the INVITE with Replaces that takes over one of our calls, and the bookkeeping that
//! reports a REFER's progress to the call that received it.

use std::sync::Arc;

use rsipstack::dialog::dialog::Dialog;

use super::{CallRef, Command, Line, PhoneError};
use crate::call::{CallDirection, CallPhase, Input};

impl Line {
    /// The Refer-To that asks a transferee to call this call's far end, replacing our dialog
    /// with it (RFC 5589 §7): its address of record when calls go through a server (so the
    /// request is routed and passes the far end's ghost-call filter), its contact otherwise.
    pub fn refer_to_replacing(&self, call: CallRef) -> Result<String, PhoneError> {
        let status = self.status_of(call).ok_or(PhoneError::NoSuchCall)?;
        if status.phase != CallPhase::Established {
            return Err(PhoneError::NotNow(
                "the call to transfer to must be answered first",
            ));
        }
        let dialog = self
            .inner
            .dialogs
            .lock()
            .ok()
            .and_then(|d| d.get(&call).cloned())
            .ok_or(PhoneError::NoSuchCall)?;
        let id = dialog.id();
        let dialog = Dialog::Invite(dialog);
        let aor = match status.direction {
            CallDirection::Outgoing => dialog.to().uri.to_string(),
            CallDirection::Incoming => dialog.from().uri.to_string(),
        };
        let target = match (self.inner.cfg.proxy, dialog.remote_contact()) {
            (None, Some(contact)) => contact.to_string(),
            _ => aor,
        };
        let replaces = crate::replaces::Replaces {
            call_id: id.call_id,
            to_tag: id.remote_tag,
            from_tag: id.local_tag,
            early_only: false,
        };
        Ok(replaces.refer_to(&target))
    }

    /// Attended transfer: asks the far end of `call` to call the far end of `consultation`
    /// (on `consultation_line`, which may be this line), replacing our consultation call. On
    /// success `call` ends `transferred` and so does the consultation call.
    pub async fn attended_transfer(
        &self,
        call: CallRef,
        consultation_line: &Line,
        consultation: CallRef,
    ) -> Result<(), PhoneError> {
        if call == consultation {
            return Err(PhoneError::NotNow("a call cannot be transferred to itself"));
        }
        match self.status_of(call) {
            Some(s) if s.phase == CallPhase::Established => {}
            Some(_) => return Err(PhoneError::NotNow("the call to transfer is not answered")),
            None => return Err(PhoneError::NoSuchCall),
        }
        let target = consultation_line.refer_to_replacing(consultation)?;
        if let Ok(mut c) = self.inner.consultations.lock() {
            c.insert(
                call,
                (Arc::downgrade(&consultation_line.inner), consultation),
            );
        }
        self.command(call, Input::Transfer { target }).await
    }

    /// The call a Replaces header names (RFC 3891 §3), or the status to refuse it with: 481
    /// when there is no such dialog or it is an early one we did not start, 486 when it is
    /// confirmed but `early-only` was asked, 603 when it is already ending.
    pub(super) fn replaced_call(&self, r: &crate::replaces::Replaces) -> Result<CallRef, u16> {
        let call = self
            .inner
            .dialogs
            .lock()
            .map_err(|_| 500u16)?
            .iter()
            .find(|(_, d)| {
                let id = d.id();
                id.call_id == r.call_id && id.local_tag == r.to_tag && id.remote_tag == r.from_tag
            })
            .map(|(c, _)| *c)
            .ok_or(481u16)?;
        let status = self.status_of(call).ok_or(481u16)?;
        match status.phase {
            CallPhase::Established | CallPhase::Connecting if r.early_only => Err(486),
            CallPhase::Established | CallPhase::Connecting => Ok(call),
            CallPhase::Dialing | CallPhase::Ringing | CallPhase::EarlyMedia => Ok(call),
            CallPhase::Incoming => Err(481),
            CallPhase::Ending | CallPhase::Ended => Err(603),
        }
    }

    pub(super) fn transfer_of(&self, call: CallRef, finished: bool) -> Option<CallRef> {
        let mut t = self.inner.transfers.lock().ok()?;
        if finished {
            t.remove(&call)
        } else {
            t.get(&call).copied()
        }
    }

    pub(super) async fn transfer_progress(&self, call: CallRef, status: u16) {
        // The transferred call may have ended meanwhile: then nobody needs to hear.
        let _ = self
            .send_to(call, Command::TransferCallProgress(status))
            .await;
    }
}
