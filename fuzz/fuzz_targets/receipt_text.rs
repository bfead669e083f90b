//! A delivery receipt's short_message text, any string: parsing never panics, and the id it
//! finds always yields matching candidates that normalise to themselves.
#![no_main]

use khabar::operator_id::{id_candidates, normalize_operator_id};
use khabar::receipts::text::parse_receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(receipt) = parse_receipt(text) {
        let normalized = normalize_operator_id(&receipt.id);
        assert_eq!(normalize_operator_id(&normalized), normalized, "normalising is idempotent");
        let _ = id_candidates(&receipt.id);
    }
    let _ = id_candidates(text);
});
