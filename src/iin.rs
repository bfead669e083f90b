//! iin (in progress)
