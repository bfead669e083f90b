//! calendar (in progress)
