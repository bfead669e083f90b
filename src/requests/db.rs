//! Opening the requests sled database (see [`crate::side_db`]).

use super::RequestError;
use crate::store::engine::log_sync::LogSync;
use std::path::Path;

/// Opens (or creates) the requests database at `path`, format 1.
pub(super) fn open(path: &Path) -> Result<(sled::Db, LogSync), RequestError> {
    crate::side_db::open(path, "requests_format", 1, "requests").map_err(RequestError::Storage)
}
