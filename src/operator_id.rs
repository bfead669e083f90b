//! Operator message ids: one canonical form, and the candidates to look a receipt's id up by.
//!
//! Operators disagree on how they write the same id: submit_sm_resp may say hex `0A1B` while
//! the receipt says decimal `2587`, or `000123` against `123`, or `ABC` against `abc`.
//!
//! The rule:
//! 1. **Canonical form** ([`normalize_operator_id`]): trimmed, ASCII lower-case, leading
//!    zeros stripped (an all-zero id becomes `0`).
//! 2. The store indexes each submit_sm_resp id under its canonical form only.
//! 3. A receipt's id is looked up by [`id_candidates`], **in order, first hit wins**: the
//!    canonical form as written; then, if it is all decimal digits, its value written in hex;
//!    then, if it is all hex digits (decimal-looking ids included), its value written in
//!    decimal. Conversions are skipped for ids too long for 128 bits.
//!
//! The as-written form comes first so an id that matches literally is never shadowed by a
//! reinterpretation; the store should also scope lookups to the operator that sent the
//! receipt, which keeps accidental cross-radix collisions between messages out.

/// The canonical form of an operator message id; see the module docs.
pub fn normalize_operator_id(id: &str) -> String {
    let lower = id.trim().to_ascii_lowercase();
    // Whitespace between leading zeros goes too, so that normalising twice changes nothing.
    let stripped = lower.trim_start_matches(|c: char| c == '0' || c.is_whitespace());
    if stripped.is_empty() && !lower.is_empty() {
        "0".to_owned()
    } else {
        stripped.to_owned()
    }
}

/// Canonical forms under which a receipt's id may have been indexed, most likely first:
/// as written, decimal read as hex-rendered, hex read as decimal-rendered. No duplicates;
/// empty for an empty id.
pub fn id_candidates(id: &str) -> Vec<String> {
    let canonical = normalize_operator_id(id);
    if canonical.is_empty() {
        return Vec::new();
    }
    let mut candidates = vec![canonical.clone()];
    let mut push = |candidate: String| {
        if !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    };
    let decimal = canonical.bytes().all(|b| b.is_ascii_digit());
    if let Some(value) = decimal.then(|| canonical.parse::<u128>().ok()).flatten() {
        push(format!("{value:x}"));
    }
    let hex = canonical.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(value) = hex
        .then(|| u128::from_str_radix(&canonical, 16).ok())
        .flatten()
    {
        push(value.to_string());
    }
    candidates
}
