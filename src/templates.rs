//! Named message templates in Kazakh and Russian, with `{placeholder}` fields.
//!
//! Upstream may send a template name and fields instead of finished text; the gateway renders
//! it, refusing a request that lacks a field the document rules demand (seed 001: a service
//! result carries the document number and the recipient's IIN/BIN) or carries an invalid
//! IIN/BIN. Templates are checked when loaded, so a typo in config.toml fails at start-up,
//! not at the first message.
//!
//! Syntax: `{name}` is replaced by the field `name` (ASCII letters, digits, '_'); `{{` and `}}`
//! are literal braces. Every placeholder must be listed in the template's `required` or
//! `iin_fields`. A template without a Russian text is sent in Kazakh (the state language)
//! when Russian is asked for.

mod defaults;

use crate::iin::{IinError, validate_iin};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The language of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Kazakh (`kk`), the state language.
    #[default]
    Kk,
    /// Russian (`ru`).
    Ru,
}

impl Language {
    /// The ISO 639-1 code.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Kk => "kk",
            Language::Ru => "ru",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kk" | "kz" => Ok(Language::Kk),
            "ru" => Ok(Language::Ru),
            _ => Err(format!("unknown language {s:?}: expected \"kk\" or \"ru\"")),
        }
    }
}

/// One template as configured.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Kazakh text.
    pub kk: String,
    /// Russian text; None = the Kazakh text is used.
    #[serde(default)]
    pub ru: Option<String>,
    /// Fields that must be given (non-blank) to render.
    #[serde(default)]
    pub required: Vec<String>,
    /// Fields that must be valid IIN/BINs when given.
    #[serde(default)]
    pub iin_fields: Vec<String>,
    /// What the template is for, shown by `khabar templates`.
    #[serde(default)]
    pub about: Option<String>,
}

/// The `[templates]` section of config.toml: template name → template. Configured templates
/// are added to the built-in ones; one with a built-in's name replaces it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "BTreeMap<String, Template>")]
pub struct TemplatesConfig {
    /// Every template, by name.
    pub templates: BTreeMap<String, Template>,
}

impl TemplatesConfig {
    /// Whether `name` is a built-in template as shipped (not added or replaced in config.toml).
    pub fn is_builtin(&self, name: &str) -> bool {
        defaults::builtin().get(name) == self.templates.get(name)
    }

    /// Whether `name` is configured in config.toml over a built-in template of that name.
    pub fn replaces_builtin(&self, name: &str) -> bool {
        defaults::builtin().contains_key(name) && !self.is_builtin(name)
    }
}

impl Default for TemplatesConfig {
    /// The built-in templates: `service_result`, `housing_queue`, `otp`, `proactive_request`
    /// and `request_follow_up`.
    fn default() -> Self {
        TemplatesConfig {
            templates: defaults::builtin(),
        }
    }
}

impl From<BTreeMap<String, Template>> for TemplatesConfig {
    fn from(configured: BTreeMap<String, Template>) -> Self {
        let mut config = TemplatesConfig::default();
        config.templates.extend(configured);
        config
    }
}

/// Why a template could not be loaded or rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No template has that name.
    #[error("there is no template named {name:?}; known templates: {known}")]
    UnknownTemplate {
        /// The name asked for.
        name: String,
        /// The configured names, comma-separated.
        known: String,
    },
    /// A required field was not given or is blank.
    #[error("template {template:?} needs the field {field:?}, which is missing or empty")]
    MissingField {
        /// The template.
        template: String,
        /// The field.
        field: String,
    },
    /// The text uses a placeholder not declared in `required` or `iin_fields`.
    #[error(
        "template {template:?} ({language}) uses {{{placeholder}}}, which is not listed in its \
         `required` or `iin_fields`"
    )]
    UnknownPlaceholder {
        /// The template.
        template: String,
        /// The text's language.
        language: Language,
        /// The placeholder's name.
        placeholder: String,
    },
    /// A field listed in `iin_fields` is not a valid IIN/BIN.
    #[error("field {field:?} is not a valid IIN/BIN: {source}")]
    InvalidIin {
        /// The field.
        field: String,
        /// Why the IIN/BIN is invalid.
        #[source]
        source: IinError,
    },
    /// The template text is malformed.
    #[error("template {template:?} ({language}) is malformed: {reason}")]
    Syntax {
        /// The template.
        template: String,
        /// The text's language.
        language: Language,
        /// What is wrong.
        reason: String,
    },
}

/// A piece of a parsed template text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Field(String),
}

/// A template checked and split into segments.
#[derive(Clone, Debug)]
struct Compiled {
    kk: Vec<Segment>,
    ru: Option<Vec<Segment>>,
    required: Vec<String>,
    iin_fields: Vec<String>,
}

/// Loaded, checked templates, ready to render.
#[derive(Clone, Debug)]
pub struct Templates {
    compiled: BTreeMap<String, Compiled>,
}

impl Templates {
    /// Loads and checks every template: syntax, and that each placeholder is declared.
    pub fn new(config: &TemplatesConfig) -> Result<Templates, TemplateError> {
        let mut compiled = BTreeMap::new();
        for (name, template) in &config.templates {
            let declared = |field: &str| {
                template
                    .required
                    .iter()
                    .chain(&template.iin_fields)
                    .any(|f| f == field)
            };
            let compile = |language: Language, text: &str| -> Result<Vec<Segment>, TemplateError> {
                let segments = parse(text).map_err(|reason| TemplateError::Syntax {
                    template: name.clone(),
                    language,
                    reason,
                })?;
                let undeclared = segments.iter().find_map(|segment| match segment {
                    Segment::Field(field) if !declared(field) => Some(field),
                    _ => None,
                });
                match undeclared {
                    Some(field) => Err(TemplateError::UnknownPlaceholder {
                        template: name.clone(),
                        language,
                        placeholder: field.clone(),
                    }),
                    None => Ok(segments),
                }
            };
            let entry = Compiled {
                kk: compile(Language::Kk, &template.kk)?,
                ru: template
                    .ru
                    .as_deref()
                    .map(|text| compile(Language::Ru, text))
                    .transpose()?,
                required: template.required.clone(),
                iin_fields: template.iin_fields.clone(),
            };
            compiled.insert(name.clone(), entry);
        }
        Ok(Templates { compiled })
    }

    /// The template names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.compiled.keys().map(String::as_str)
    }

    /// Renders template `name` in `language` with `fields` (values are trimmed; fields the
    /// template does not use are ignored).
    pub fn render(
        &self,
        name: &str,
        language: Language,
        fields: &BTreeMap<String, String>,
    ) -> Result<String, TemplateError> {
        let template = self
            .compiled
            .get(name)
            .ok_or_else(|| TemplateError::UnknownTemplate {
                name: name.to_owned(),
                known: self.names().collect::<Vec<_>>().join(", "),
            })?;
        let value = |field: &str| {
            fields
                .get(field)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let missing = |field: &str| TemplateError::MissingField {
            template: name.to_owned(),
            field: field.to_owned(),
        };
        if let Some(field) = template.required.iter().find(|f| value(f).is_none()) {
            return Err(missing(field));
        }
        for field in &template.iin_fields {
            if let Some(v) = value(field) {
                validate_iin(v).map_err(|source| TemplateError::InvalidIin {
                    field: field.clone(),
                    source,
                })?;
            }
        }
        let segments = match language {
            Language::Ru => template.ru.as_ref().unwrap_or(&template.kk),
            Language::Kk => &template.kk,
        };
        let mut text = String::new();
        for segment in segments {
            match segment {
                Segment::Literal(literal) => text.push_str(literal),
                Segment::Field(field) => text.push_str(value(field).ok_or_else(|| missing(field))?),
            }
        }
        Ok(text)
    }
}

/// Splits a template text into literals and `{field}`s.
fn parse(text: &str) -> Result<Vec<Segment>, String> {
    if text.trim().is_empty() {
        return Err("the text is empty".to_owned());
    }
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err("a '}' without '{' (write '}}' for a literal brace)".to_owned()),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_alphanumeric() || c == '_' => field.push(c),
                        Some(c) => {
                            return Err(format!(
                                "{c:?} inside a placeholder; names use ASCII letters, digits and '_'"
                            ));
                        }
                        None => return Err(format!("the placeholder {{{field} is not closed")),
                    }
                }
                if field.is_empty() {
                    return Err("an empty placeholder {}".to_owned());
                }
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Field(field));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests;
