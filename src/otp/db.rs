//! Opening the OTP sled database (see [`crate::side_db`]).

use super::OtpError;
use crate::store::engine::log_sync::LogSync;
use std::path::Path;

/// Opens (or creates) the OTP database at `path`, format 1.
pub(crate) fn open(path: &Path) -> Result<(sled::Db, LogSync), OtpError> {
    crate::side_db::open(path, "otp_format", 1, "OTP").map_err(OtpError::Storage)
}
