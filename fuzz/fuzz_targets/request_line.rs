//! One socket request line, any bytes: parsing never panics, and whatever it says, the reply
//! built from it is one line of valid JSON that echoes the request's id.
#![no_main]

use khabar::api::protocol::{error_line, ok_line, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let parsed = parse_line(line);
    let reply = match &parsed.request {
        Ok(_) => ok_line(parsed.id.as_ref(), &"ok"),
        Err(error) => error_line(parsed.id.as_ref(), error),
    };
    let body = reply.strip_suffix(b"\n").unwrap_or(&reply);
    assert!(!body.contains(&b'\n'), "a reply is exactly one line");
    let value: serde_json::Value = serde_json::from_slice(body).expect("a reply is valid JSON");
    if let Some(id) = &parsed.id {
        assert_eq!(value.get("id"), Some(id), "the reply echoes the request's id");
    }
});
