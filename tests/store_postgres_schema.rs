//! The cluster engine's database, with a real PostgreSQL each test starts (test-postgres):
//! connecting as an operator configures it (password from a file or the environment, TLS with
//! the database's CA), and the schema's migrations as several nodes run them at start.
//!
//! These tests need PostgreSQL's server binaries and fail, saying so, without them.

mod store_support;

use khabar::store::StoreError;
use khabar::store::postgres::{self, PostgresConfig, SCHEMA_VERSION, TlsMode};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use store_support::cluster_settings as settings;
use test_postgres::{Options, TestPostgres};

/// The schema versions recorded in `pg`, one line each.
fn recorded_versions(pg: &TestPostgres) -> String {
    pg.psql(
        "postgres",
        "SELECT version FROM khabar_schema ORDER BY version",
    )
    .unwrap()
}

#[tokio::test]
async fn a_new_database_is_migrated_once_and_a_second_start_changes_nothing() {
    let pg = TestPostgres::start();
    let mut client = postgres::connect(&settings(&pg)).await.unwrap();
    assert!(matches!(
        postgres::check_schema(&client).await,
        Err(StoreError::SchemaTooOld { found: 0, .. })
    ));
    let first = postgres::migrate(&mut client).await.unwrap();
    assert_eq!((first.from, first.to), (0, SCHEMA_VERSION));
    postgres::check_schema(&client).await.unwrap();
    let again = postgres::migrate(&mut client).await.unwrap();
    assert_eq!((again.from, again.to), (SCHEMA_VERSION, SCHEMA_VERSION));
    let expected: Vec<String> = (1..=SCHEMA_VERSION).map(|v| v.to_string()).collect();
    assert_eq!(recorded_versions(&pg), expected.join("\n"));
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM messages")
            .unwrap(),
        "0"
    );
}

#[tokio::test]
async fn nodes_starting_while_another_migrates_wait_and_apply_nothing_twice() {
    let pg = TestPostgres::start();
    let config = settings(&pg);
    // another node's migration in progress: it holds the lock until its transaction ends
    let mut other = postgres::connect(&config).await.unwrap();
    let other = other.transaction().await.unwrap();
    other
        .execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&postgres::MIGRATION_LOCK],
        )
        .await
        .unwrap();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let mut client = postgres::connect(&config).await.unwrap();
        runs.push(tokio::spawn(
            async move { postgres::migrate(&mut client).await },
        ));
    }
    let waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
    let mut seen = 0;
    // bounded only to end a test whose nodes never wait
    for _ in 0..6_000 {
        let n: i64 = other.query_one(waiting, &[]).await.unwrap().get(0);
        seen = n;
        if seen == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        seen, 3,
        "the three nodes wait for the migration in progress"
    );
    other.rollback().await.unwrap();
    let mut froms = Vec::new();
    for run in runs {
        froms.push(
            run.await
                .unwrap()
                .expect("every node's migration succeeds")
                .from,
        );
    }
    froms.sort();
    assert_eq!(froms, vec![0, SCHEMA_VERSION, SCHEMA_VERSION]);
    let expected: Vec<String> = (1..=SCHEMA_VERSION).map(|v| v.to_string()).collect();
    assert_eq!(recorded_versions(&pg), expected.join("\n"));
}

#[tokio::test]
async fn a_schema_newer_than_this_khabar_is_refused_and_left_as_it_is() {
    let pg = TestPostgres::start();
    let mut client = postgres::connect(&settings(&pg)).await.unwrap();
    postgres::migrate(&mut client).await.unwrap();
    let newer = SCHEMA_VERSION + 1;
    pg.psql(
        "postgres",
        &format!("INSERT INTO khabar_schema (version, what) VALUES ({newer}, 'from the future')"),
    )
    .unwrap();
    for refused in [
        postgres::migrate(&mut client).await.map(|_| ()),
        postgres::check_schema(&client).await,
    ] {
        let error = refused.expect_err("a newer schema is refused");
        assert!(
            matches!(error, StoreError::SchemaTooNew { found, supported }
                if found == newer as u32 && supported == SCHEMA_VERSION as u32),
            "{error}"
        );
        let said = error.to_string();
        assert!(
            said.contains(&newer.to_string()) && said.contains("same release"),
            "{said}"
        );
    }
    let expected: Vec<String> = (1..=newer).map(|v| v.to_string()).collect();
    assert_eq!(recorded_versions(&pg), expected.join("\n"));
}

#[tokio::test]
async fn the_password_comes_from_a_file_or_the_environment_and_a_wrong_one_is_refused() {
    let pg = TestPostgres::start_with(Options {
        password: Some("s3cret-Ж"),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.pass");
    std::fs::write(&file, "s3cret-Ж\n").unwrap();
    let from_file = PostgresConfig {
        password_file: Some(file),
        ..settings(&pg)
    };
    postgres::connect(&from_file)
        .await
        .expect("the file's password");

    let var = "KHABAR_TEST_PG_PASSWORD_OF_THIS_TEST";
    // SAFETY: no other thread of this test binary reads or writes this variable
    unsafe { std::env::set_var(var, "s3cret-Ж") };
    let from_env = PostgresConfig {
        password_env: Some(var.into()),
        ..settings(&pg)
    };
    postgres::connect(&from_env)
        .await
        .expect("the environment's password");

    let wrong = dir.path().join("wrong.pass");
    std::fs::write(&wrong, "guess").unwrap();
    let refused = postgres::connect(&PostgresConfig {
        password_file: Some(wrong),
        ..settings(&pg)
    })
    .await
    .expect_err("a wrong password is refused");
    let said = refused.to_string();
    assert!(matches!(refused, StoreError::Storage { .. }), "{said}");
    assert!(said.contains(&format!("127.0.0.1:{}", pg.port())), "{said}");
    assert!(
        !said.contains("guess"),
        "the password is never shown: {said}"
    );

    let unset = postgres::connect(&PostgresConfig {
        password_env: Some("KHABAR_TEST_PG_PASSWORD_NOT_SET".into()),
        ..settings(&pg)
    })
    .await
    .expect_err("an unset variable is a configuration error");
    assert!(
        matches!(&unset, StoreError::Invalid(why) if why.contains("KHABAR_TEST_PG_PASSWORD_NOT_SET")),
        "{unset}"
    );
}

/// A self-signed CA named `name`.
fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

#[tokio::test]
async fn tls_to_the_database_verifies_its_certificate_against_the_ca_file() {
    let ca = new_ca("database CA");
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let pg = TestPostgres::start_with(Options {
        settings: vec![
            ("ssl", "on"),
            ("ssl_cert_file", "'server.pem'"),
            ("ssl_key_file", "'server.key'"),
        ],
        files: vec![
            ("server.pem", cert.pem().into_bytes()),
            ("server.key", key.serialize_pem().into_bytes()),
        ],
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let trusted = dir.path().join("ca.pem");
    std::fs::write(&trusted, ca.pem()).unwrap();
    let client = postgres::connect(&PostgresConfig {
        tls: TlsMode::Verify,
        ca_file: Some(trusted),
        ..settings(&pg)
    })
    .await
    .expect("the server's certificate is signed by the CA in ca_file");
    let encrypted: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted, "the connection is encrypted");

    let other = dir.path().join("other.pem");
    std::fs::write(&other, new_ca("another CA").pem()).unwrap();
    let refused = postgres::connect(&PostgresConfig {
        tls: TlsMode::Verify,
        ca_file: Some(other),
        ..settings(&pg)
    })
    .await
    .expect_err("a certificate from another CA is refused");
    assert!(
        refused.to_string().contains("over TLS"),
        "the error says the TLS connection failed: {refused}"
    );
}
