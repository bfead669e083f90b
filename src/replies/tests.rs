use super::*;

fn assert_all(replies: &[&str], expected: ReplyClass) {
    for reply in replies {
        assert_eq!(classify(reply), expected, "reply {reply:?}");
    }
}

#[test]
fn kazakh_yes_in_many_spellings() {
    assert_all(
        &[
            "Иә", "иә", "ИӘ", "Иа", "ИА", "Ия", "Ие", "Иэ", "Iә", "Ia", "IA", "iya", "Иә!",
            " иә. ", "«Иә»",
        ],
        ReplyClass::Accept,
    );
}

#[test]
fn russian_and_latin_yes() {
    assert_all(
        &[
            "Да", "ДА", "да!!!", "Da", "DA", "Yes", "YES", "y", "Y", "Ok", "OK", "ок", "ОК",
            "Окей", "1", "1.",
        ],
        ReplyClass::Accept,
    );
}

#[test]
fn mixed_script_look_alikes_are_the_same_word() {
    // Latin 'a' inside Cyrillic, Cyrillic 'а' inside Latin, Latin 'I' for Kazakh 'І'.
    assert_all(&["Дa", "Иa", "Іә", "dа", "Оk"], ReplyClass::Accept);
    // "НЕТ" typed with Latin H, E and T.
    assert_all(&["HET", "Heт", "NET", "Net"], ReplyClass::Decline);
}

#[test]
fn kazakh_no_in_many_spellings() {
    assert_all(
        &[
            "Жоқ", "жоқ", "ЖОҚ", "Жок", "жок.", "Zhoq", "ZHOK", "joq", "Jok", "жоқ!",
        ],
        ReplyClass::Decline,
    );
}

#[test]
fn russian_and_latin_no() {
    assert_all(
        &["Нет", "НЕТ", "нет.", "No", "NO", "n", "N", "2", "неа"],
        ReplyClass::Decline,
    );
}

#[test]
fn whole_phrases() {
    assert_all(
        &["Келісемін", "Согласен", "Иә, келісемін", "Әрине"],
        ReplyClass::Accept,
    );
    assert_all(
        &[
            "Не согласен",
            "не надо",
            "Қажет емес",
            "Керек емес",
            "Бас тартамын",
            "Келіспеймін",
            "Отказываюсь",
        ],
        ReplyClass::Decline,
    );
}

#[test]
fn short_replies_are_classified_by_their_first_word() {
    assert_all(
        &["Иә, рақмет", "Да, спасибо", "ok thanks"],
        ReplyClass::Accept,
    );
    assert_all(
        &["Жоқ, рақмет", "Нет, спасибо большое"],
        ReplyClass::Decline,
    );
}

#[test]
fn contradictions_long_texts_and_noise_are_other() {
    assert_all(
        &[
            "",
            "   ",
            "?!",
            "Да нет",
            "Иә жоқ",
            "12",
            "3",
            "Не знаю",
            "Бұл не?",
            "Кто это?",
            "Да, но я уже получил эту услугу в прошлом году",
            "😀",
        ],
        ReplyClass::Other,
    );
}

#[test]
fn skeleton_folds_kazakh_letters_to_substitutes() {
    assert_eq!(
        skeleton("Әә Ққ Ғғ Ңң Өө Ұұ Үү Һһ Іі"),
        "аа кк гг нн оо уу уу хх ии"
    );
    assert_eq!(skeleton("  Иә!!  "), "иа");
}

#[test]
fn accept_and_decline_lists_never_share_a_skeleton() {
    for accept in ACCEPT {
        for decline in DECLINE {
            assert_ne!(skeleton(accept), skeleton(decline), "{accept} / {decline}");
        }
    }
}

#[test]
fn reply_class_names_for_the_protocol() {
    assert_eq!(
        serde_json::to_string(&ReplyClass::Accept).unwrap(),
        "\"accept\""
    );
    assert_eq!(
        serde_json::to_string(&ReplyClass::Decline).unwrap(),
        "\"decline\""
    );
}
