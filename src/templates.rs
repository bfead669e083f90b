//! templates (in progress)
