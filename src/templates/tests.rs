use super::*;
use crate::encoding::{EncodingConfig, plan};
use crate::iin::check_digit;

/// A valid IIN built from 11 digits and their computed check digit.
fn valid_iin() -> String {
    let first = [8, 5, 0, 5, 1, 5, 4, 0, 0, 0, 1];
    let check = check_digit(&first).unwrap();
    first
        .iter()
        .chain([check].iter())
        .map(|d| char::from(b'0' + d))
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn builtin() -> Templates {
    Templates::new(&TemplatesConfig::default()).unwrap()
}

fn one(name: &str, kk: &str, required: &[&str]) -> TemplatesConfig {
    let template = Template {
        kk: kk.to_owned(),
        ru: None,
        required: required.iter().map(|s| (*s).to_owned()).collect(),
        iin_fields: vec![],
        about: None,
    };
    TemplatesConfig {
        templates: BTreeMap::from([(name.to_owned(), template)]),
    }
}

#[test]
fn builtin_templates_load() {
    let templates = builtin();
    let names: Vec<&str> = templates.names().collect();
    assert_eq!(
        names,
        [
            "housing_queue",
            "otp",
            "proactive_request",
            "request_follow_up",
            "service_result"
        ]
    );
}

#[test]
fn service_result_carries_document_number_and_iin_in_both_languages() {
    let iin = valid_iin();
    let f = fields(&[("document_number", "KZ02LSA00123456"), ("iin", &iin)]);
    for language in [Language::Kk, Language::Ru] {
        let text = builtin().render("service_result", language, &f).unwrap();
        assert!(text.contains("KZ02LSA00123456"), "{text}");
        assert!(text.contains(&iin), "{text}");
    }
    let kk = builtin()
        .render("service_result", Language::Kk, &f)
        .unwrap();
    assert!(kk.contains("ЖСН/БСН"), "{kk}");
}

#[test]
fn service_result_without_iin_names_the_missing_field() {
    let err = builtin()
        .render(
            "service_result",
            Language::Kk,
            &fields(&[("document_number", "N1")]),
        )
        .unwrap_err();
    assert_eq!(
        err,
        TemplateError::MissingField {
            template: "service_result".into(),
            field: "iin".into()
        }
    );
    let blank = fields(&[("document_number", "  "), ("iin", &valid_iin())]);
    let err = builtin()
        .render("service_result", Language::Ru, &blank)
        .unwrap_err();
    assert!(err.to_string().contains("\"document_number\""), "{err}");
}

#[test]
fn invalid_iin_is_refused() {
    let mut iin = valid_iin().into_bytes();
    iin[11] = if iin[11] == b'9' { b'0' } else { iin[11] + 1 };
    let f = fields(&[
        ("document_number", "N1"),
        ("iin", std::str::from_utf8(&iin).unwrap()),
    ]);
    let err = builtin()
        .render("service_result", Language::Kk, &f)
        .unwrap_err();
    assert!(
        matches!(&err, TemplateError::InvalidIin { field, .. } if field == "iin"),
        "{err}"
    );
}

#[test]
fn unknown_template_lists_the_known_ones() {
    let err = builtin()
        .render("welcome", Language::Kk, &fields(&[]))
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("\"welcome\""), "{message}");
    assert!(message.contains("otp, proactive_request"), "{message}");
}

#[test]
fn undeclared_placeholder_fails_at_load() {
    let err = Templates::new(&one("x", "Сәлем, {name}! Код {code}", &["name"])).unwrap_err();
    assert_eq!(
        err,
        TemplateError::UnknownPlaceholder {
            template: "x".into(),
            language: Language::Kk,
            placeholder: "code".into()
        }
    );
}

#[test]
fn malformed_texts_fail_at_load() {
    for (text, expected) in [
        ("Код {code", "not closed"),
        ("Код code}", "without '{'"),
        ("Код {}", "empty placeholder"),
        ("Код {коды}", "inside a placeholder"),
        ("  ", "empty"),
    ] {
        let err = Templates::new(&one("x", text, &["code"])).unwrap_err();
        assert!(
            matches!(&err, TemplateError::Syntax { reason, .. } if reason.contains(expected)),
            "{text}: {err}"
        );
    }
}

#[test]
fn doubled_braces_are_literal() {
    let templates = Templates::new(&one("x", "{{code}} = {code}", &["code"])).unwrap();
    let text = templates
        .render("x", Language::Kk, &fields(&[("code", "42")]))
        .unwrap();
    assert_eq!(text, "{code} = 42");
}

#[test]
fn russian_falls_back_to_kazakh_when_missing() {
    let templates = Templates::new(&one("x", "Сәлем, {name}!", &["name"])).unwrap();
    let text = templates
        .render("x", Language::Ru, &fields(&[("name", " Айгүл ")]))
        .unwrap();
    assert_eq!(text, "Сәлем, Айгүл!");
}

#[test]
fn language_codes() {
    assert_eq!("kk".parse(), Ok(Language::Kk));
    assert_eq!("RU".parse(), Ok(Language::Ru));
    assert_eq!("kz".parse(), Ok(Language::Kk));
    assert!("en".parse::<Language>().is_err());
    assert_eq!(serde_json::to_string(&Language::Ru).unwrap(), "\"ru\"");
}

#[test]
fn configured_templates_add_to_and_replace_builtins() {
    let config: TemplatesConfig = toml::from_str(
        r#"
        [welcome]
        kk = "Қош келдіңіз, {name}!"
        required = ["name"]
        [otp]
        kk = "Код: {code}"
        ru = "Код: {code}"
        required = ["code"]
        "#,
    )
    .unwrap();
    let templates = Templates::new(&config).unwrap();
    assert!(templates.names().any(|n| n == "welcome"));
    assert!(templates.names().any(|n| n == "service_result"));
    let otp = templates
        .render("otp", Language::Kk, &fields(&[("code", "123456")]))
        .unwrap();
    assert_eq!(otp, "Код: 123456");
}

#[test]
fn housing_queue_opens_with_the_annex_salutation() {
    let text = builtin()
        .render(
            "housing_queue",
            Language::Kk,
            &fields(&[("reason", "тұрғын үйдің болуы")]),
        )
        .unwrap();
    assert!(
        text.starts_with("Құрметті көрсетілетін қызметті алушы!"),
        "{text}"
    );
    assert!(text.contains("тұрғын үйдің болуы"), "{text}");
}

#[test]
fn builtins_fit_their_sms_budget() {
    let config = EncodingConfig::default();
    let iin = valid_iin();
    let cases = [
        ("otp", fields(&[("code", "482913")]), 1),
        (
            "service_result",
            fields(&[("document_number", "KZ02LSA00123456"), ("iin", &iin)]),
            3,
        ),
        (
            "housing_queue",
            fields(&[("reason", "тұрғын үйдің болуы")]),
            3,
        ),
        (
            "proactive_request",
            fields(&[("service", "Баланың тууын тіркеу")]),
            3,
        ),
        (
            "request_follow_up",
            fields(&[("service", "Баланың тууын тіркеу")]),
            3,
        ),
    ];
    for (name, f, max_parts) in cases {
        for language in [Language::Kk, Language::Ru] {
            let text = builtin().render(name, language, &f).unwrap();
            let parts = plan(&text, &config).unwrap().parts;
            assert!(
                parts <= max_parts,
                "{name} ({language}) needs {parts} parts: {text}"
            );
        }
    }
}
