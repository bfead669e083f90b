//! replies (in progress)
