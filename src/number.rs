//! number (in progress)
