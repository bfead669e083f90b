//! The harness starts a server that answers queries, and two at once do not collide.

use test_postgres::TestPostgres;

#[test]
fn a_started_server_answers_and_two_run_side_by_side() {
    let first = TestPostgres::start();
    let second = TestPostgres::start();
    assert_ne!(first.port(), second.port());
    for pg in [&first, &second] {
        assert_eq!(pg.psql("postgres", "select 1 + 1").unwrap(), "2");
    }
    let data = first.data();
    drop(first);
    assert!(!data.exists(), "the cluster's folder is removed with it");
}
