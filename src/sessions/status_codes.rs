//! What an SMPP command_status from the operator means for the message that got it.

use rusmpp::CommandStatus;

/// How the sending stage reacts to a submit_sm_resp status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusClass {
    /// Accepted by the operator.
    Ok,
    /// The operator asks us to slow down (throttled, queue full): retry without counting an
    /// attempt, and shrink that bind's window.
    SlowDown,
    /// A passing failure on the operator's side: retry with backoff, counting an attempt.
    Transient,
    /// The message itself is unacceptable (bad destination, source, coding...): fail it.
    Permanent,
}

/// Classifies a submit_sm_resp command_status.
pub fn classify(status: CommandStatus) -> StatusClass {
    use CommandStatus::*;
    match status {
        EsmeRok => StatusClass::Ok,
        EsmeRthrottled | EsmeRmsgqful => StatusClass::SlowDown,
        EsmeRsyserr | EsmeRsubmitfail | EsmeRunknownerr | EsmeRdeliveryfailure | EsmeRinvbndsts
        | EsmeRxTAppn | EsmeRxRAppn => StatusClass::Transient,
        EsmeRinvmsglen | EsmeRinvcmdlen | EsmeRinvsrcadr | EsmeRinvdstadr | EsmeRinvesmclass
        | EsmeRinvsrcton | EsmeRinvsrcnpi | EsmeRinvdstton | EsmeRinvdstnpi | EsmeRinvdcs
        | EsmeRinvsertyp | EsmeRinvexpiry | EsmeRinvregdlvflg | EsmeRinvprtflg
        | EsmeRinvtlvstream | EsmeRinvtlvlen | EsmeRinvtlvval | EsmeRtlvnotallwd
        | EsmeRmissingtlv | EsmeRprohibited | EsmeRxPAppn | EsmeRsertypunauth
        | EsmeRsertypdenied | EsmeRinvsched => StatusClass::Permanent,
        // Vendor-specific and anything unlisted: assume it may pass, bounded by max attempts.
        _ => StatusClass::Transient,
    }
}

/// The SMPP name of a status (`ESME_RINVDSTADR`), used as the reason in a message's history.
pub fn status_name(status: CommandStatus) -> String {
    let code: u32 = status.into();
    match status {
        CommandStatus::Other(_) => format!("0x{code:08X}"),
        known => {
            // rusmpp names variants `EsmeRinvdstadr`; SMPP writes `ESME_RINVDSTADR`.
            let debug = format!("{known:?}");
            let rest = debug.strip_prefix("Esme").unwrap_or(&debug);
            format!("ESME_{} (0x{code:02X})", rest.to_ascii_uppercase())
        }
    }
}

/// A readable one-line description of a rusmppc error (its Debug output carries whole PDUs).
pub fn describe(e: &rusmppc::error::Error) -> String {
    match e {
        rusmppc::error::Error::UnexpectedResponse { response } => status_name(response.status()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_queue_full_slow_down() {
        assert_eq!(
            classify(CommandStatus::EsmeRthrottled),
            StatusClass::SlowDown
        );
        assert_eq!(classify(CommandStatus::EsmeRmsgqful), StatusClass::SlowDown);
    }

    #[test]
    fn invalid_destination_is_permanent_and_named() {
        assert_eq!(
            classify(CommandStatus::EsmeRinvdstadr),
            StatusClass::Permanent
        );
        assert_eq!(
            status_name(CommandStatus::EsmeRinvdstadr),
            "ESME_RINVDSTADR (0x0B)"
        );
    }

    #[test]
    fn unknown_vendor_codes_are_retried() {
        assert_eq!(
            classify(CommandStatus::Other(0x400)),
            StatusClass::Transient
        );
        assert_eq!(status_name(CommandStatus::Other(0x400)), "0x00000400");
    }
}
