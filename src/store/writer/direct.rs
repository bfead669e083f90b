//! OTPs claimed the moment they are accepted. Once the sending stage has registered to take
//! them, the writer claims the OTP lane right after applying an accept with OTPs in it, in the
//! same group, and hands the claimed messages over as soon as that group is on disk: no claim
//! trip through the writer's inbox, no wake-up, no wait behind a bulk batch being applied.

use crate::message::Message;
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
    pub(super) fn taker(&self) -> Option<UnboundedSender<Message>> {
        let taker = self.taker.lock().unwrap_or_else(|p| p.into_inner());
        taker.as_ref().filter(|t| !t.is_closed()).cloned()
    }
}
