//! receipt text (in progress)
