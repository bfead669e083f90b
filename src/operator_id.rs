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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_ids_compare_equal_across_case_and_leading_zeros() {
        assert_eq!(
            normalize_operator_id("000123"),
            normalize_operator_id("123")
        );
        assert_eq!(normalize_operator_id("0A1B"), normalize_operator_id("a1b"));
        assert_eq!(normalize_operator_id(" 0000 "), "0");
        assert_eq!(normalize_operator_id("msg-ABC"), "msg-abc");
    }

    #[test]
    fn hex_submit_resp_matches_decimal_receipt_and_back() {
        // submit_sm_resp said hex 0A1B; the receipt says decimal 2587 (= 0x0A1B).
        let indexed = normalize_operator_id("0A1B");
        assert!(id_candidates("2587").contains(&indexed));
        // And the other way round.
        let indexed = normalize_operator_id("2587");
        assert!(id_candidates("0A1B").contains(&indexed));
    }

    #[test]
    fn candidates_start_with_the_id_as_written() {
        assert_eq!(id_candidates("2587"), ["2587", "a1b", "9607"]);
        assert_eq!(id_candidates("0A1B"), ["a1b", "2587"]);
        assert_eq!(id_candidates("msg-1"), ["msg-1"]);
        assert_eq!(id_candidates("000"), ["0"]);
        assert!(id_candidates("  ").is_empty());
        // Too long for 128 bits: only the canonical form.
        let long = "f".repeat(40);
        assert_eq!(id_candidates(&long), std::slice::from_ref(&long));
    }
}
