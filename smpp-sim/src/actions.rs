//! Actions on an operator's bound connections from Rust: make the SMSC unbind, write injected
//! PDUs and read what came back, and when the binds happened.

use std::time::Instant;

use crate::error::SimError;
use crate::inject::{InjectPdu, Injected};
use crate::session::Control;
use crate::simulator::SimHandle;

impl SimHandle {
    /// The SMSC sends `unbind` on every bound connection of `operator`, waits (at most 5 s)
    /// for unbind_resp, then closes the connection. Returns how many connections were asked.
    pub fn unbind(&self, operator: &str) -> Result<usize, SimError> {
        Ok(self
            .operator(operator)?
            .links
            .broadcast(false, || Control::Unbind))
    }

    /// Writes `pdu` on every bound connection of `operator` that can receive (receiver and
    /// transceiver binds), each with a sequence number of its own, and records it (see
    /// [`injected`](Self::injected)). Returns how many connections were asked.
    pub fn inject(&self, operator: &str, pdu: InjectPdu) -> Result<usize, SimError> {
        pdu.validate()?;
        Ok(self
            .operator(operator)?
            .links
            .broadcast(true, || Control::Inject(pdu)))
    }

    /// Every PDU injected on `operator` (the last 1,000), oldest first, each with what the
    /// ESME sent back carrying its sequence number.
    pub fn injected(&self, operator: &str) -> Result<Vec<Injected>, SimError> {
        Ok(self.operator(operator)?.links.log())
    }

    /// When each successful bind of `operator` happened (the last 1,000), oldest first.
    pub fn bind_times(&self, operator: &str) -> Result<Vec<Instant>, SimError> {
        Ok(self.operator(operator)?.links.bind_times())
    }
}
