//! The tests of `tests/store_accept.rs`, the store's contract, on the cluster engine: in a binary
//! named `*_on_postgres`, `store_support::open` gives a store in a PostgreSQL database of its
//! own (one server for the binary, test-postgres). They need PostgreSQL's server binaries and
//! fail, saying so, without them.

#[path = "store_accept.rs"]
mod contract;
