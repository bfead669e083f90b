//! The built-in templates, written to fit 1 (OTP) to 3 UCS-2 parts with realistic fields.
//!
//! - `service_result` (seed 001): a service result sent by SMS carries the document's unique
//!   number and the recipient's IIN/BIN.
//! - `housing_queue` (seed 004): the removal-from-the-housing-queue notice, shortened from the
//!   annex's wording ("Құрметті көрсетілетін қызметті алушы! …") to fit three parts; `reason`
//!   is what the inventory found (e.g. "тұрғын үйдің болуы").
//! - `otp` (seed 001): a one-time password, valid for one identification session.
//! - `proactive_request` (seed 002): the automatic offer of a service, answered Yes/No.
//! - `request_follow_up` (seed 002): sent when a request's reply window closed unanswered and
//!   the request was cancelled.

use super::Template;
use std::collections::BTreeMap;

/// A built-in template: name, what it is for, Kazakh, Russian, required fields, IIN fields.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// The built-in templates.
const BUILTIN: [Builtin; 5] = [
    (
        "service_result",
        "a service result, which must carry the document number and the IIN/BIN (seed 001)",
        "Мемлекеттік қызмет нәтижесі: құжат № {document_number}, ЖСН/БСН {iin}. \
         Құжатты eGov.kz сайтында тексеруге болады.",
        "Результат госуслуги: документ № {document_number}, ИИН/БИН {iin}. \
         Проверить документ можно на eGov.kz.",
        &["document_number", "iin"],
        &["iin"],
    ),
    (
        "housing_queue",
        "removal from the housing queue, with the reason found (seed 004)",
        "Құрметті көрсетілетін қызметті алушы! Есепті түгендеуде Сізден {reason} анықталды. \
         Сіз қызметтік тұрғынжайға мұқтаждар есебінен шығарылдыңыз. \
         Сұрақтар: ҚР ҚМ «Жедел желісі».",
        "Уважаемый получатель услуги! При инвентаризации учёта у Вас выявлено: {reason}. \
         Вы сняты с учёта нуждающихся в служебном жилище. Вопросы: «Горячая линия» МО РК.",
        &["reason"],
        &[],
    ),
    (
        "otp",
        "the text of otp_send; the daemon fills the code (seed 001)",
        "Бір реттік құпия сөз: {code}. Оны ешкімге хабарламаңыз.",
        "Одноразовый пароль: {code}. Никому его не сообщайте.",
        &["code"],
        &[],
    ),
    (
        "proactive_request",
        "the automatic offer of a service, answered Yes/No (seed 002)",
        "«{service}» мемлекеттік қызметін проактивті түрде алуға келісесіз бе? \
         Жауап жазыңыз: Иә немесе Жоқ.",
        "Согласны получить госуслугу «{service}» в проактивном порядке? Ответьте: Да или Нет.",
        &["service"],
        &[],
    ),
    (
        "request_follow_up",
        "the notice sent when a request's reply window closed unanswered (seed 002)",
        "«{service}» қызметі бойынша сұрау салу жойылды: жауап күту мерзімі өтті. \
         Қызметті eGov.kz арқылы алуға болады.",
        "Запрос по услуге «{service}» отменён: срок ожидания ответа истёк. \
         Услугу можно получить на eGov.kz.",
        &["service"],
        &[],
    ),
];

/// The built-in templates by name.
pub(super) fn builtin() -> BTreeMap<String, Template> {
    BUILTIN
        .iter()
        .map(|(name, about, kk, ru, required, iin_fields)| {
            let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
            let template = Template {
                kk: (*kk).to_owned(),
                ru: Some((*ru).to_owned()),
                required: strings(required),
                iin_fields: strings(iin_fields),
                about: Some((*about).to_owned()),
            };
            ((*name).to_owned(), template)
        })
        .collect()
}
