use super::*;
use crate::number::normalize;

fn n(s: &str) -> Msisdn {
    normalize(s).unwrap()
}

fn default_router() -> Router {
    Router::new(&RouteConfig::default()).unwrap()
}

#[test]
fn default_routes_cover_every_prefix_of_the_design() {
    let router = default_router();
    let expected = [
        ("700", "tele2"),
        ("701", "kcell"),
        ("702", "kcell"),
        ("705", "beeline"),
        ("707", "tele2"),
        ("708", "tele2"),
        ("747", "tele2"),
        ("771", "beeline"),
        ("775", "kcell"),
        ("776", "beeline"),
        ("777", "beeline"),
        ("778", "kcell"),
    ];
    for (code, operator) in expected {
        let number = n(&format!("8{code}1234567"));
        assert_eq!(router.route(&number), Some(operator), "code {code}");
    }
}

#[test]
fn unknown_prefix_has_no_route_and_a_clear_error() {
    let router = default_router();
    let number = n("+77061234567");
    assert_eq!(router.route(&number), None);
    assert_eq!(router.candidates(&number).count(), 0);
    let err = router.require_route(&number).unwrap_err().to_string();
    assert!(err.contains("no route for +7706***4567"), "{err}");
    assert!(!err.contains("77061234567"), "{err}");
}

#[test]
fn default_route_takes_numbers_no_prefix_matches() {
    let config = RouteConfig {
        default_route: Some("aggregator".into()),
        ..RouteConfig::default()
    };
    let router = Router::new(&config).unwrap();
    let foreign: Msisdn = "+442071234567".parse().unwrap();
    assert_eq!(router.route(&foreign), Some("aggregator"));
    assert_eq!(router.route(&n("87011234567")), Some("kcell"));
}

#[test]
fn longest_prefix_wins() {
    let config = RouteConfig {
        routes: vec![
            Route::new("77", "national"),
            Route::new("7701", "kcell"),
            Route::new("770155", "kcell-corporate"),
        ],
        ..RouteConfig::default()
    };
    let router = Router::new(&config).unwrap();
    assert_eq!(router.route(&n("87015512345")), Some("kcell-corporate"));
    assert_eq!(router.route(&n("87011234567")), Some("kcell"));
    assert_eq!(router.route(&n("87051234567")), Some("national"));
}

#[test]
fn candidates_are_primary_then_fallbacks_without_duplicates() {
    let mut config = RouteConfig::default();
    config.fallback.insert(
        "kcell".into(),
        vec![
            "tele2".into(),
            "kcell".into(),
            "tele2".into(),
            "beeline".into(),
        ],
    );
    let router = Router::new(&config).unwrap();
    let list: Vec<&str> = router.candidates(&n("87011234567")).collect();
    assert_eq!(list, ["kcell", "tele2", "beeline"]);
}

#[test]
fn default_fallbacks_try_the_other_two_operators() {
    let router = default_router();
    let list: Vec<&str> = router.candidates(&n("87771234567")).collect();
    assert_eq!(list, ["beeline", "kcell", "tele2"]);
}

#[test]
fn without_fallbacks_only_the_primary_is_a_candidate() {
    let config = RouteConfig {
        fallback: BTreeMap::new(),
        ..RouteConfig::default()
    };
    let router = Router::new(&config).unwrap();
    let list: Vec<&str> = router.candidates(&n("87071234567")).collect();
    assert_eq!(list, ["tele2"]);
}

#[test]
fn ported_number_override_wins_over_prefix() {
    let overrides = parse_overrides("+77011234567 beeline\n").unwrap();
    let router = Router::with_overrides(&RouteConfig::default(), overrides).unwrap();
    assert_eq!(router.route(&n("87011234567")), Some("beeline"));
    assert_eq!(router.route(&n("87011234568")), Some("kcell"));
    let list: Vec<&str> = router.candidates(&n("87011234567")).collect();
    assert_eq!(list, ["beeline", "kcell", "tele2"]);
    assert_eq!(router.override_count(), 1);
}

#[test]
fn override_file_is_read_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ported.txt");
    std::fs::write(
        &path,
        "# ported numbers\n\n87051112233 tele2   # moved 2025-03\n+7 777 000 11 22 kcell\n",
    )
    .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    // "+7 777 000 11 22 kcell" has spaces inside the number: that is a field-count error.
    let config = RouteConfig {
        override_file: Some(path.clone()),
        ..RouteConfig::default()
    };
    let err = Router::new(&config).unwrap_err();
    match &err {
        RouteError::OverrideLines { errors, .. } => {
            assert_eq!(errors, &[OverrideLineError::Fields { line: 4, fields: 6 }]);
        }
        other => panic!("unexpected error {other}"),
    }
    std::fs::write(&path, "87051112233 tele2\n+77770001122 kcell\n").unwrap();
    let router = Router::new(&config).unwrap();
    assert_eq!(router.route(&n("87051112233")), Some("tele2"));
    assert_eq!(router.route(&n("87770001122")), Some("kcell"));
}

#[test]
fn missing_override_file_names_the_path() {
    let config = RouteConfig {
        override_file: Some("/nonexistent/khabar/ported.txt".into()),
        ..RouteConfig::default()
    };
    let err = Router::new(&config).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/khabar/ported.txt"), "{err}");
}

#[test]
fn every_invalid_override_line_is_reported_with_its_number() {
    let text = "\
# header
77011234567 beeline
77011234567
not-a-number kcell
77011234567 tele2
77011234567 beeline
+7 701 123 45 67 kcell extra
";
    let errors = parse_overrides(text).unwrap_err();
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| match e {
            OverrideLineError::Fields { line, .. }
            | OverrideLineError::Number { line, .. }
            | OverrideLineError::Conflict { line, .. } => *line,
        })
        .collect();
    assert_eq!(lines, [3, 4, 5, 7]);
    assert!(matches!(
        &errors[2],
        OverrideLineError::Conflict { first_line: 2, first, .. } if first == "beeline"
    ));
    let message = RouteError::OverrideLines {
        path: "ported.txt".into(),
        errors,
    }
    .to_string();
    assert!(message.contains("4 invalid line(s)"), "{message}");
    assert!(message.contains("line 4:"), "{message}");
}

#[test]
fn invalid_prefixes_and_duplicates_are_refused() {
    let bad = RouteConfig {
        routes: vec![Route::new("77O1", "kcell")],
        ..RouteConfig::default()
    };
    assert!(matches!(
        Router::new(&bad),
        Err(RouteError::InvalidPrefix { .. })
    ));
    let dup = RouteConfig {
        routes: vec![Route::new("7701", "kcell"), Route::new("+7701", "beeline")],
        ..RouteConfig::default()
    };
    let err = Router::new(&dup).unwrap_err().to_string();
    assert!(err.contains("\"7701\" is configured twice"), "{err}");
    let empty = RouteConfig {
        routes: vec![Route::new("7701", " ")],
        ..RouteConfig::default()
    };
    assert!(matches!(
        Router::new(&empty),
        Err(RouteError::EmptyOperator { .. })
    ));
}

#[test]
fn operators_lists_every_name_the_router_can_return() {
    let config = RouteConfig {
        default_route: Some("aggregator".into()),
        ..RouteConfig::default()
    };
    let router = Router::new(&config).unwrap();
    let names: Vec<&str> = router.operators().into_iter().collect();
    assert_eq!(names, ["aggregator", "beeline", "kcell", "tele2"]);
}

#[test]
fn config_deserialises_from_toml() {
    let config: RouteConfig = toml::from_str(
        r#"
        default_route = "aggregator"
        routes = [{ prefix = "7701", operator = "kcell" }]
        [fallback]
        kcell = ["beeline"]
        "#,
    )
    .unwrap();
    assert_eq!(config.routes, vec![Route::new("7701", "kcell")]);
    assert_eq!(config.fallback["kcell"], vec!["beeline".to_owned()]);
    let empty: RouteConfig = toml::from_str("").unwrap();
    assert_eq!(empty, RouteConfig::default());
}
