//! OTPs claimed the moment they are accepted. Once the sending stage has registered to take
//! them, the writer claims the OTP lane right after applying an accept with OTPs in it, in the
//! same group, and hands the claimed messages over as soon as that group is on disk: no claim
//! trip through the writer's inbox, no wake-up, no wait behind a bulk batch being applied.

use super::Writer;
use crate::message::{Kind, Message, Millis};
use std::sync::Mutex;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Where OTPs claimed at acceptance arrive, `submitting` and on disk.
pub type AcceptedOtps = UnboundedReceiver<Message>;

/// The registered taker of OTPs claimed at acceptance, if any.
#[derive(Default)]
pub struct DirectClaims {
    taker: Mutex<Option<UnboundedSender<Message>>>,
}

impl DirectClaims {
    /// Registers a new taker (replacing any earlier one) and returns its end.
    pub fn register(&self) -> AcceptedOtps {
        let (tx, rx) = unbounded_channel();
        *self.taker.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// The taker, while it is still listening.
    fn taker(&self) -> Option<UnboundedSender<Message>> {
        let taker = self.taker.lock().unwrap_or_else(|p| p.into_inner());
        taker.as_ref().filter(|t| !t.is_closed()).cloned()
    }
}

impl Writer {
    /// After an accept with `otps` OTPs in it: claims up to that many due OTPs (in lane order,
    /// so an older due one goes first) and hands them over once this group is flushed. Nothing
    /// is claimed without a listening taker; they then wait in the lane for the claim loop.
    pub(super) fn claim_accepted_otps(&mut self, otps: usize, now: Millis) {
        if otps == 0 {
            return;
        }
        let Some(taker) = self.shared.direct.taker() else {
            return;
        };
        let claimed = match self.claim_many(Kind::Otp.lane(), now, otps) {
            Ok(claimed) if !claimed.is_empty() => claimed,
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim accepted OTPs; they wait in the queue");
                return;
            }
        };
        // a failed flush trips the fail-stop: the claims are then not on disk, and not sent
        self.pending.push(Box::new(move |flushed| {
            if flushed.is_ok() {
                for message in claimed {
                    // a taker gone at shutdown leaves it `submitting`: the next start requeues it
                    let _ = taker.send(message);
                }
            }
        }));
    }
}
