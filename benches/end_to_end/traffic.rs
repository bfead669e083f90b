//! The benchmark's message mix: half Kazakh (UCS-2) and half Latin (GSM 7-bit) texts, a tenth
//! of them 2–3 parts long, to numbers spread over the three operators' prefixes.

use khabar::encoding::{Coding, EncodingConfig, plan};
use khabar::message::{Extra, Kind, NewMessage};
use serde_json::{Value, json};
use std::sync::OnceLock;

/// One prefix per operator, in the order of `SimConfig::ephemeral()` (kcell, beeline, tele2).
pub const PREFIXES: [&str; 3] = ["7701", "7705", "7707"];

const KAZAKH_FILLER: &str = " Толығырақ ақпарат egov.kz порталында берілген.";
const LATIN_FILLER: &str = " More details are available on the egov.kz portal.";

/// Message `n`'s text: its number makes every text unique (the simulator counts repeats).
pub fn text(n: u64) -> String {
    let kazakh = (n / 10).is_multiple_of(2);
    let parts = if !n.is_multiple_of(10) {
        1
    } else if (n / 20).is_multiple_of(2) {
        2
    } else {
        3
    };
    let mut text = base_text(n, kazakh);
    let filler = if kazakh { KAZAKH_FILLER } else { LATIN_FILLER };
    for _ in 0..fillers(kazakh, parts) {
        text.push_str(filler);
    }
    text
}

fn base_text(n: u64, kazakh: bool) -> String {
    if kazakh {
        format!("Құрметті алушы! Өтінішіңіз №{n:07} қабылданды.")
    } else {
        format!("Dear citizen, your application No {n:07} has been received.")
    }
}

/// How many fillers make a base text `parts` long (the base has a fixed width below 10^7,
/// so this is worked out once per alphabet by planning, not per message).
fn fillers(kazakh: bool, parts: usize) -> usize {
    static TABLE: OnceLock<[[usize; 4]; 2]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [[0; 4]; 2];
        for (row, kazakh) in [(0, false), (1, true)] {
            let filler = if kazakh { KAZAKH_FILLER } else { LATIN_FILLER };
            for (wanted, count) in table[row].iter_mut().enumerate().skip(1) {
                let mut text = base_text(0, kazakh);
                // Each filler is shorter than a part, so this stops at exactly `wanted`.
                while parts_of(&text) < wanted {
                    text.push_str(filler);
                    *count += 1;
                }
            }
        }
        table
    });
    table[usize::from(kazakh)][parts.min(3)]
}

/// How many SMS parts khabar sends for `text` with the default encoding settings.
pub fn parts_of(text: &str) -> usize {
    plan(text, &EncodingConfig::default()).map_or(0, |p| p.parts)
}

/// Whether `text` goes out as UCS-2.
pub fn is_ucs2(text: &str) -> bool {
    plan(text, &EncodingConfig::default()).is_ok_and(|p| p.coding == Coding::Ucs2)
}

/// Index into [`PREFIXES`] of message `n`'s recipient.
pub fn operator_of(n: u64) -> usize {
    (n % PREFIXES.len() as u64) as usize
}

/// Message `n`'s recipient, E.164 digits without `+`.
pub fn recipient(n: u64) -> String {
    format!("{}{:07}", PREFIXES[operator_of(n)], n % 10_000_000)
}

/// Message `n` as a `submit` / `submit_batch` item; `tag` keeps references unique per run.
pub fn request(n: u64, tag: &str) -> Value {
    json!({
        "to": format!("+{}", recipient(n)),
        "text": text(n),
        "kind": "notification",
        "reference": format!("{tag}-{n}"),
    })
}

/// What the mix of messages `0..count` amounts to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mix {
    /// Messages.
    pub messages: u64,
    /// SMS parts over all messages.
    pub parts: u64,
    /// Messages sent as UCS-2.
    pub ucs2: u64,
    /// Messages of more than one part.
    pub multipart: u64,
}

impl Mix {
    /// Counts the mix by planning every text as the daemon will.
    pub fn of(count: u64) -> Mix {
        let mut mix = Mix {
            messages: count,
            ..Mix::default()
        };
        for n in 0..count {
            let text = text(n);
            let parts = parts_of(&text) as u64;
            mix.parts += parts;
            mix.ucs2 += u64::from(is_ucs2(&text));
            mix.multipart += u64::from(parts > 1);
        }
        mix
    }
}

/// Message `n`'s recipient for long runs: the operator as in [`recipient`], the subscriber
/// number stepping through 9,000,000 numbers (1000000–9999999) in a scattered order, never
/// one ending in 0000–0004 (smpp-sim's test numbers).
pub fn spread_recipient(n: u64) -> String {
    // 7,919 is prime and does not divide 9,000,000: n ↦ subscriber is one-to-one over
    // 9,000,000 consecutive messages.
    let mut subscriber = 1_000_000 + n.wrapping_mul(7_919) % 9_000_000;
    if subscriber % 10_000 < 5 {
        subscriber += 5;
    }
    format!("{}{subscriber:07}", PREFIXES[operator_of(n)])
}

/// Whether message `n` of [`soak_request`] is `bulk` (one in 25, either alphabet).
pub fn is_bulk(n: u64) -> bool {
    n % 25 == 7
}

/// Whether message `n` of [`soak_request`] carries a reference (half of them, either
/// alphabet and length).
pub fn has_reference(n: u64) -> bool {
    n % 4 < 2
}

/// Message `n` for long runs, as a `submit_batch` item: [`text`]'s mix, kind `notification`
/// but one in 25 `bulk`, a reference (`tag`-`n`, an upstream idempotency key) on half of
/// them, recipients from [`spread_recipient`].
pub fn soak_request(n: u64, tag: &str) -> Value {
    let mut item = json!({
        "to": format!("+{}", spread_recipient(n)),
        "text": text(n),
        "kind": if is_bulk(n) { "bulk" } else { "notification" },
    });
    if has_reference(n) {
        item["reference"] = json!(format!("{tag}-{n}"));
    }
    item
}

/// Message `n` of `kind` as the `Store` API takes it (benches that fill a store directly).
pub fn new_message(n: u64, kind: Kind, reference: Option<String>) -> NewMessage {
    NewMessage {
        reference,
        kind,
        recipient: recipient(n),
        sender: None,
        text: text(n),
        send_by: None,
        receipt_by: None,
        extra: Extra::default(),
    }
}
