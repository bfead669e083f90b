//! Classifying a mobile-originated reply to a proactive service request (seed 002) as
//! accept, decline or something else.
//!
//! People answer from any phone: in Kazakh or Russian Cyrillic, in Latin transliteration, in
//! any case, with punctuation, with Kazakh letters replaced by their common substitutes
//! (`Иа` for `Иә`, `Жок` for `Жоқ`), or with Latin look-alikes mixed into Cyrillic words.
//! Both the reply and the known answers are reduced to one *skeleton* before comparing:
//! lower-cased (Unicode), Kazakh-specific letters replaced (ә→а, қ→к, ғ→г, ң→н, ө→о, ұ/ү→у,
//! һ→х, і→и), and Latin letters that look like Cyrillic ones replaced by those (so `Ia`,
//! `Iә`, `Иа` are the same). A reply is a known answer as a whole (`Иә`, `не согласен`), or a
//! short reply (up to four words) whose first word is an answer and no word is the opposite
//! answer (`Иә, рақмет`, `Нет, спасибо`). Everything else is [`ReplyClass::Other`].

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

/// What a reply means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyClass {
    /// Yes: the recipient accepts the offered service.
    Accept,
    /// No: the recipient declines.
    Decline,
    /// Anything else; passed upstream as text.
    Other,
}

/// Answers meaning yes, as people type them.
const ACCEPT: &[&str] = &[
    "иә",
    "иа",
    "ия",
    "ие",
    "иэ",
    "ыя",
    "iә",
    "ia",
    "iya",
    "ija",
    "ie",
    "ya",
    "да",
    "da",
    "yes",
    "y",
    "yeah",
    "yep",
    "ok",
    "okay",
    "ок",
    "окей",
    "ага",
    "1",
    "әрине",
    "конечно",
    "келісемін",
    "келісем",
    "келісімін",
    "согласен",
    "согласна",
    "иә келісемін",
];

/// Answers meaning no, as people type them.
const DECLINE: &[&str] = &[
    "жоқ",
    "жок",
    "zhoq",
    "zhok",
    "joq",
    "jok",
    "нет",
    "net",
    "no",
    "n",
    "nope",
    "неа",
    "2",
    "келіспеймін",
    "отказ",
    "отказываюсь",
    "қажет емес",
    "керек емес",
    "бас тартамын",
    "не согласен",
    "не согласна",
    "не надо",
    "не нужно",
    "не хочу",
];

/// Longest reply classified by its first word.
const MAX_WORDS: usize = 4;

/// Classifies a reply; see the module docs for the rules.
pub fn classify(text: &str) -> ReplyClass {
    let words = skeleton_words(text);
    if words.is_empty() {
        return ReplyClass::Other;
    }
    let answers = answers();
    if let Some(class) = answers.get(&words.join(" ")) {
        return *class;
    }
    if words.len() > MAX_WORDS {
        return ReplyClass::Other;
    }
    let first = match answers.get(&words[0]) {
        Some(class) => *class,
        None => return ReplyClass::Other,
    };
    let contradicted = words[1..]
        .iter()
        .any(|word| answers.get(word).is_some_and(|class| *class != first));
    if contradicted {
        ReplyClass::Other
    } else {
        first
    }
}

/// The reply reduced to skeleton words (see the module docs), for logs and tests.
pub fn skeleton(text: &str) -> String {
    skeleton_words(text).join(" ")
}

/// Known answers by skeleton.
fn answers() -> &'static HashMap<String, ReplyClass> {
    static ANSWERS: OnceLock<HashMap<String, ReplyClass>> = OnceLock::new();
    ANSWERS.get_or_init(|| {
        let accept = ACCEPT.iter().map(|a| (skeleton(a), ReplyClass::Accept));
        let decline = DECLINE.iter().map(|d| (skeleton(d), ReplyClass::Decline));
        accept.chain(decline).collect()
    })
}

/// Lower-cases, folds letters to their skeleton and splits on anything not a letter or digit.
fn skeleton_words(text: &str) -> Vec<String> {
    let folded: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !('\u{0300}'..='\u{036F}').contains(c))
        .map(fold)
        .collect();
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One lower-case letter to its skeleton: Kazakh letters to their common substitutes, Latin
/// (incl. Kazakh Latin alphabet) look-alikes to Cyrillic. `h` becomes `н` (capital H looks
/// like Н, as in a Latin-typed "HET").
fn fold(c: char) -> char {
    match c {
        'ә' | 'a' | 'ä' | 'á' => 'а',
        'қ' | 'k' | 'q' => 'к',
        'ғ' | 'ğ' => 'г',
        'ң' | 'h' | 'ñ' => 'н',
        'ө' | 'o' | 'ö' => 'о',
        'ұ' | 'ү' | 'y' | 'ü' | 'ū' | 'ý' => 'у',
        'һ' | 'x' => 'х',
        'і' | 'i' | 'ı' | 'й' => 'и',
        'e' | 'ё' | 'э' => 'е',
        'c' => 'с',
        'p' => 'р',
        't' => 'т',
        'm' => 'м',
        'b' => 'в',
        other => other,
    }
}

#[cfg(test)]
mod tests;
