//! A recipient number as upstream might type it, any string: normalising never panics, a
//! normalised number normalises to itself, and its mask never shows the middle digits.
#![no_main]

use khabar::number::{mask, normalize, normalize_any};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    for result in [normalize(input), normalize_any(input)] {
        if let Ok(number) = result {
            let again = normalize_any(&format!("+{}", number.as_str())).expect("stays valid");
            assert_eq!(again, number, "normalising is idempotent");
            let masked = mask(number.as_str());
            assert!(masked.contains('*'), "the mask hides digits: {masked}");
        }
    }
    let _ = mask(input);
});
