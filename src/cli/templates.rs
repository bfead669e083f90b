//! `khabar templates [NAME]`: the message templates a `submit` may name, with their fields,
//! languages and texts, read from the config (built-in ones and `[templates]`) and checked as
//! the daemon checks them at start. Does not need the daemon.

use super::{CliError, CliResult, Exit};
use crate::config::Config;
use crate::templates::{Template, Templates, TemplatesConfig};
use clap::Args;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

const AFTER_HELP: &str = "\
A submit names a template with \"template\" and gives its fields in \"fields\"; a missing field
is refused (missing_field), an IIN/BIN field must be 12 digits with a valid checksum
(invalid_iin). A template without a Russian text is sent in Kazakh when Russian is asked for.
Add or replace templates in config.toml's [templates] section.

Examples:
  khabar templates
  khabar templates service_result
  khabar templates --json";

/// Arguments of `khabar templates`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct TemplatesArgs {
    /// Show only this template.
    name: Option<String>,
    /// Print the templates as JSON.
    #[arg(long)]
    json: bool,
}

/// One template as listed.
#[derive(Debug, Serialize)]
struct Listed {
    name: String,
    about: Option<String>,
    /// "built-in", "config.toml" or "config.toml (replaces the built-in)".
    origin: &'static str,
    /// Every field, in the order required then IIN-only.
    fields: Vec<Field>,
    /// The languages it has a text of ("kk", and "ru" when it has its own Russian text).
    languages: Vec<&'static str>,
    kk: String,
    ru: Option<String>,
}

/// One field of a template.
#[derive(Debug, Serialize)]
struct Field {
    name: String,
    required: bool,
    iin: bool,
}

/// Runs `khabar templates`.
pub(crate) fn run(config_path: &Path, args: TemplatesArgs) -> CliResult {
    let config = Config::load(config_path).map_err(|e| CliError::Usage(e.to_string()))?;
    Templates::new(&config.templates).map_err(|e| CliError::Usage(e.to_string()))?;
    let all = &config.templates;
    let listed: Vec<Listed> = match &args.name {
        Some(name) => match all.templates.get(name) {
            Some(template) => vec![listed(all, name, template)],
            None => {
                let known: Vec<&str> = all.templates.keys().map(String::as_str).collect();
                return Err(CliError::Usage(format!(
                    "there is no template named {name:?}; known templates: {}",
                    known.join(", ")
                )));
            }
        },
        None => (all.templates.iter())
            .map(|(name, template)| listed(all, name, template))
            .collect(),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&listed).unwrap_or_default()
        );
    } else {
        print!("{}", render(&listed));
    }
    Ok(Exit::Ok)
}

fn listed(all: &TemplatesConfig, name: &str, t: &Template) -> Listed {
    let mut fields: Vec<Field> = (t.required.iter())
        .map(|f| Field {
            name: f.clone(),
            required: true,
            iin: t.iin_fields.contains(f),
        })
        .collect();
    fields.extend(
        (t.iin_fields.iter())
            .filter(|f| !t.required.contains(f))
            .map(|f| Field {
                name: f.clone(),
                required: false,
                iin: true,
            }),
    );
    let origin = if all.is_builtin(name) {
        "built-in"
    } else if all.replaces_builtin(name) {
        "config.toml (replaces the built-in)"
    } else {
        "config.toml"
    };
    Listed {
        name: name.to_owned(),
        about: t.about.clone(),
        origin,
        fields,
        languages: if t.ru.is_some() {
            vec!["kk", "ru"]
        } else {
            vec!["kk"]
        },
        kk: t.kk.clone(),
        ru: t.ru.clone(),
    }
}

/// The templates as text: a header line each, then its texts.
fn render(listed: &[Listed]) -> String {
    let mut out = String::new();
    for (i, t) in listed.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}  ({})", t.name, t.origin);
        if let Some(about) = &t.about {
            let _ = writeln!(out, "  for        {about}");
        }
        let fields: Vec<String> = (t.fields.iter())
            .map(|f| match (f.required, f.iin) {
                (true, true) => format!("{} (IIN/BIN)", f.name),
                (true, false) => f.name.clone(),
                (false, _) => format!("{} (IIN/BIN, optional)", f.name),
            })
            .collect();
        let fields = if fields.is_empty() {
            "-".to_owned()
        } else {
            fields.join(", ")
        };
        let _ = writeln!(out, "  fields     {fields}");
        let _ = writeln!(out, "  kk         {}", t.kk);
        match &t.ru {
            Some(ru) => {
                let _ = writeln!(out, "  ru         {ru}");
            }
            None => out.push_str("  ru         (none: sent in Kazakh)\n"),
        }
    }
    out
}
