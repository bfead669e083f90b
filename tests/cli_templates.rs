//! `khabar templates` as a user runs it: the built-in templates match what docs/PROTOCOL.md
//! lists, and templates of the operator's config.toml are listed (added or replacing a
//! built-in) and checked as the daemon checks them.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn khabar(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_khabar"))
        .env_remove("KHABAR_CONFIG")
        .env_remove("KHABAR_SOCKET")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run khabar")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `khabar templates --json` as name → (fields, origin).
fn listed(config: &Path) -> BTreeMap<String, (Vec<String>, String)> {
    let out = khabar(config, &["templates", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    all.iter()
        .map(|t| {
            let fields = t["fields"].as_array().unwrap();
            let fields = fields
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_owned());
            (
                t["name"].as_str().unwrap().to_owned(),
                (fields.collect(), t["origin"].as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

/// A copy of the repository's config.toml with `extra` appended.
fn config_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("config.toml")).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
    path
}

#[test]
fn the_protocol_document_lists_every_built_in_template_with_its_fields() {
    let doc = std::fs::read_to_string(repo().join("docs/PROTOCOL.md")).unwrap();
    let table = doc
        .split("| template | fields | for |")
        .nth(1)
        .expect("PROTOCOL.md has the templates table");
    let documented: BTreeMap<String, Vec<String>> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let ticked = |cell: &str| -> Vec<String> {
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect()
            };
            (ticked(cells[1]).remove(0), ticked(cells[2]))
        })
        .collect();
    let shipped: BTreeMap<String, Vec<String>> = listed(&repo().join("config.toml"))
        .into_iter()
        .map(|(name, (fields, origin))| {
            assert_eq!(origin, "built-in", "{name}");
            (name, fields)
        })
        .collect();
    assert_eq!(documented, shipped);
}

#[test]
fn templates_of_the_config_are_listed_beside_the_built_in_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        r#"
[templates.benefit_granted]
about = "a benefit granted"
kk = "Сізге {benefit} тағайындалды. Шешім № {document_number}, ЖСН {iin}."
required = ["benefit", "document_number"]
iin_fields = ["iin"]

[templates.otp]
kk = "Код: {code}"
ru = "Код: {code}"
required = ["code"]
"#,
    );
    let all = listed(&config);
    assert_eq!(
        all["benefit_granted"],
        (
            vec!["benefit".into(), "document_number".into(), "iin".into()],
            "config.toml".into()
        )
    );
    assert_eq!(all["otp"].1, "config.toml (replaces the built-in)");
    assert_eq!(all["service_result"].1, "built-in");

    let one = khabar(&config, &["templates", "benefit_granted"]);
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(one.status.success());
    assert!(
        text.starts_with("benefit_granted  (config.toml)\n"),
        "{text}"
    );
    assert!(text.contains("fields     benefit, document_number, iin (IIN/BIN, optional)"));
    assert!(text.contains("ru         (none: sent in Kazakh)"), "{text}");
    assert!(!text.contains("service_result"), "{text}");

    let unknown = khabar(&config, &["templates", "benefit"]);
    assert_eq!(unknown.status.code(), Some(2));
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("no template named \"benefit\""), "{said}");
    assert!(said.contains("benefit_granted"), "{said}");
}

#[test]
fn a_template_the_daemon_would_refuse_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        "[templates.broken]\nkk = \"Құжат № {document_number}\"\nrequired = []\n",
    );
    let out = khabar(&config, &["templates"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("{document_number}"), "{said}");
    assert!(
        said.contains("not listed in its `required` or `iin_fields`"),
        "{said}"
    );
}
