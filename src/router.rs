//! Routing: which operator's SMSC a recipient number is sent through.
//!
//! Kazakhstan's operators are reached by number prefix (the 7xx code after the country code).
//! A [`Router`] holds the prefix table from [`RouteConfig`] and answers with the longest
//! matching prefix; numbers ported to another operator (mobile number portability) are listed
//! in an override file that wins over the prefixes. When an operator's sessions are down the
//! caller walks [`Router::candidates`]: the primary operator, then its configured fallbacks.
//!
//! Default prefixes (E.164, country code 7 included), as assigned by Kazakhstan's numbering
//! plan and published by the operators; this is our best knowledge as of 2025 and should be
//! checked against the operators' contracts before production:
//! - `kcell` (Kcell / Activ): 7701, 7702, 7775, 7778
//! - `beeline` (Beeline KZ): 7705, 7771, 7776, 7777
//! - `tele2` (Tele2 / Altel, one company since 2019): 7700, 7707, 7708, 7747
//!
//! These are the twelve codes listed in DESIGN.md. Codes not listed (e.g. 7706, 776x for new
//! MVNOs) get no route unless `default_route` is set.

mod overrides;

pub use overrides::{OverrideLineError, parse_overrides};

use crate::number::Msisdn;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// One prefix → operator rule.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// E.164 digits the number starts with, country code included (e.g. `7701`).
    pub prefix: String,
    /// Operator name, as in the sessions config (e.g. `kcell`).
    pub operator: String,
}

impl Route {
    fn new(prefix: &str, operator: &str) -> Route {
        Route {
            prefix: prefix.to_owned(),
            operator: operator.to_owned(),
        }
    }
}

/// The `[router]` section of config.toml.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// Prefix rules; the longest matching prefix wins.
    pub routes: Vec<Route>,
    /// For each operator, the operators to try (in order) when it cannot take a message.
    pub fallback: BTreeMap<String, Vec<String>>,
    /// Operator for numbers no prefix matches (e.g. an international aggregator); None =
    /// such numbers have no route.
    pub default_route: Option<String>,
    /// Text file of ported numbers, one `number operator` per line; see [`parse_overrides`].
    pub override_file: Option<PathBuf>,
}

impl Default for RouteConfig {
    /// Kazakhstan's three operators with their prefixes. Each falls back to the other two:
    /// SMS interworking delivers off-net messages (at a different tariff), so a message still
    /// goes out when one operator's SMSC is down. Remove the fallbacks to forbid that.
    fn default() -> Self {
        let routes = [
            ("7701", "kcell"),
            ("7702", "kcell"),
            ("7775", "kcell"),
            ("7778", "kcell"),
            ("7705", "beeline"),
            ("7771", "beeline"),
            ("7776", "beeline"),
            ("7777", "beeline"),
            ("7700", "tele2"),
            ("7707", "tele2"),
            ("7708", "tele2"),
            ("7747", "tele2"),
        ]
        .into_iter()
        .map(|(prefix, operator)| Route::new(prefix, operator))
        .collect();
        let fallback = [
            ("kcell", ["beeline", "tele2"]),
            ("beeline", ["kcell", "tele2"]),
            ("tele2", ["kcell", "beeline"]),
        ]
        .into_iter()
        .map(|(op, fb)| (op.to_owned(), fb.iter().map(|s| (*s).to_owned()).collect()))
        .collect();
        RouteConfig {
            routes,
            fallback,
            default_route: None,
            override_file: None,
        }
    }
}

/// Why a router could not be built, or a number has no route.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// A route's prefix is empty or not all digits.
    #[error("route prefix {prefix:?} is invalid: it must be E.164 digits like \"7701\"")]
    InvalidPrefix {
        /// The prefix as configured.
        prefix: String,
    },
    /// A route or fallback names an empty operator.
    #[error("route for prefix {prefix:?} has an empty operator name")]
    EmptyOperator {
        /// The prefix (or `fallback` / `default_route`) it belongs to.
        prefix: String,
    },
    /// The same prefix is configured twice.
    #[error("route prefix {prefix:?} is configured twice (for {first:?} and {second:?})")]
    DuplicatePrefix {
        /// The prefix.
        prefix: String,
        /// The operator of its first rule.
        first: String,
        /// The operator of its second rule.
        second: String,
    },
    /// The override file could not be read.
    #[error("cannot read the routing override file {path}: {source}")]
    OverrideFile {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The override file has invalid lines.
    #[error("routing override file {path} has {} invalid line(s): {}", .errors.len(),
        .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    OverrideLines {
        /// The file (or `<inline>`).
        path: PathBuf,
        /// Every invalid line, with its number.
        errors: Vec<OverrideLineError>,
    },
    /// No prefix matches the number, it is not overridden and there is no default route.
    #[error("no route for {number}: no configured prefix matches it and no default_route is set")]
    NoRoute {
        /// The number, masked.
        number: String,
    },
}

/// Answers "which operator takes this number" from prefix rules, overrides and fallbacks.
#[derive(Clone, Debug)]
pub struct Router {
    /// Prefix → operator. Lookup tries the number's own prefixes from longest to shortest,
    /// so it costs at most `longest_prefix` hash probes however many routes there are.
    prefixes: HashMap<String, String>,
    longest_prefix: usize,
    overrides: HashMap<Msisdn, String>,
    fallback: BTreeMap<String, Vec<String>>,
    default_route: Option<String>,
}

impl Router {
    /// Builds a router, reading `override_file` if one is configured.
    pub fn new(config: &RouteConfig) -> Result<Router, RouteError> {
        let overrides = match &config.override_file {
            None => HashMap::new(),
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| RouteError::OverrideFile {
                        path: path.clone(),
                        source,
                    })?;
                parse_overrides(&text).map_err(|errors| RouteError::OverrideLines {
                    path: path.clone(),
                    errors,
                })?
            }
        };
        Router::with_overrides(config, overrides)
    }

    /// Builds a router with the given ported-number overrides (ignores `override_file`).
    pub fn with_overrides(
        config: &RouteConfig,
        overrides: HashMap<Msisdn, String>,
    ) -> Result<Router, RouteError> {
        let mut prefixes: HashMap<String, String> = HashMap::new();
        for route in &config.routes {
            let prefix = route.prefix.trim().trim_start_matches('+');
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RouteError::InvalidPrefix {
                    prefix: route.prefix.clone(),
                });
            }
            let operator = route.operator.trim();
            if operator.is_empty() {
                return Err(RouteError::EmptyOperator {
                    prefix: route.prefix.clone(),
                });
            }
            if let Some(first) = prefixes.insert(prefix.to_owned(), operator.to_owned()) {
                return Err(RouteError::DuplicatePrefix {
                    prefix: prefix.to_owned(),
                    first,
                    second: operator.to_owned(),
                });
            }
        }
        let mut fallback = BTreeMap::new();
        for (operator, fallbacks) in &config.fallback {
            let fallbacks: Vec<String> = fallbacks.iter().map(|f| f.trim().to_owned()).collect();
            if operator.trim().is_empty() || fallbacks.iter().any(String::is_empty) {
                return Err(RouteError::EmptyOperator {
                    prefix: "fallback".to_owned(),
                });
            }
            fallback.insert(operator.trim().to_owned(), fallbacks);
        }
        let default_route = match config.default_route.as_deref().map(str::trim) {
            Some("") => {
                return Err(RouteError::EmptyOperator {
                    prefix: "default_route".to_owned(),
                });
            }
            other => other.map(str::to_owned),
        };
        Ok(Router {
            longest_prefix: prefixes.keys().map(String::len).max().unwrap_or(0),
            prefixes,
            overrides,
            fallback,
            default_route,
        })
    }

    /// The primary operator for a number: its override if ported, else the longest matching
    /// prefix, else the default route. None = no route.
    pub fn route(&self, number: &Msisdn) -> Option<&str> {
        if let Some(operator) = self.overrides.get(number) {
            return Some(operator);
        }
        let digits = number.as_str();
        (1..=self.longest_prefix.min(digits.len()))
            .rev()
            .find_map(|len| self.prefixes.get(&digits[..len]))
            .or(self.default_route.as_ref())
            .map(String::as_str)
    }

    /// Like [`Router::route`], but a number without a route is a [`RouteError::NoRoute`].
    pub fn require_route(&self, number: &Msisdn) -> Result<&str, RouteError> {
        self.route(number).ok_or_else(|| RouteError::NoRoute {
            number: number.masked(),
        })
    }

    /// Operators to try for a number, in order: the primary, then its fallbacks, without
    /// duplicates. Empty when the number has no route.
    pub fn candidates(&self, number: &Msisdn) -> impl Iterator<Item = &str> {
        let mut list: Vec<&str> = Vec::new();
        if let Some(primary) = self.route(number) {
            list.push(primary);
            for operator in self.fallback.get(primary).into_iter().flatten() {
                let operator = operator.as_str();
                if !list.contains(&operator) {
                    list.push(operator);
                }
            }
        }
        list.into_iter()
    }

    /// Every operator the router can name (routes, overrides, fallbacks, default), so the
    /// caller can check each has a configured SMPP connection.
    pub fn operators(&self) -> BTreeSet<&str> {
        self.prefixes
            .values()
            .chain(self.overrides.values())
            .chain(self.fallback.keys())
            .chain(self.fallback.values().flatten())
            .chain(self.default_route.iter())
            .map(String::as_str)
            .collect()
    }

    /// How many ported numbers are overridden.
    pub fn override_count(&self) -> usize {
        self.overrides.len()
    }
}

#[cfg(test)]
mod tests;
