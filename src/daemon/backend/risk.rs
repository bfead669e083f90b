//! Which queued messages will miss their `send_by` at the current rate.
//!
//! An estimate, from the head of each lane (the messages the scheduler will claim first):
//! a message waits for the SMS parts ahead of it — every queued message of the higher lanes
//! and those before it in its own lane — at the summed TPS cap of the operators that can
//! submit now; a lane with a minimum share gets at least that share of the rate. It is never
//! sent before it is due. If that estimate falls after its `send_by`, it is at risk. With no
//! operator able to submit, every queued message with a `send_by` is at risk.

use crate::api::views::AtRiskMessage;
use crate::encoding::{self, EncodingConfig};
use crate::message::{Kind, Message, Millis, State};

/// The head of one lane.
pub struct LaneHead {
    /// The lane's kind.
    pub kind: Kind,
    /// Queued messages in the whole lane.
    pub queued: u64,
    /// The first queued messages with their due times, in claim order.
    pub head: Vec<(Millis, Message)>,
}

/// How the sending capacity is shared.
pub struct Capacity {
    /// SMS parts per second, over all operators that can submit now.
    pub parts_per_second: f64,
    /// Minimum share of the rate per lane (`Kind::lane`).
    pub shares: [f64; 4],
}

/// SMS parts a message needs (1 if its text is gone or cannot be planned).
fn parts(message: &Message, encoding: &EncodingConfig) -> f64 {
    message
        .text
        .as_deref()
        .and_then(|text| encoding::plan(text, encoding).ok())
        .map_or(1.0, |plan| plan.parts as f64)
}

/// The queued messages at risk, soonest deadline first, given lanes in priority order.
pub fn at_risk(
    lanes: &[LaneHead],
    capacity: &Capacity,
    encoding: &EncodingConfig,
    now: Millis,
) -> Vec<AtRiskMessage> {
    let rate = capacity.parts_per_second;
    let mut higher_parts = 0.0;
    let mut risky = Vec::new();
    for lane in lanes {
        let share = capacity.shares[lane.kind.lane() as usize] * rate;
        let mut own_parts = 0.0;
        for (due, message) in &lane.head {
            own_parts += parts(message, encoding);
            let Some(send_by) = message.send_by else {
                continue;
            };
            let wait_s = if rate > 0.0 {
                let by_priority = (higher_parts + own_parts) / rate;
                let by_share = if share > 0.0 {
                    own_parts / share
                } else {
                    f64::INFINITY
                };
                by_priority.min(by_share)
            } else {
                f64::INFINITY
            };
            let sent_at = if wait_s.is_finite() {
                (*due).max(now.saturating_add((wait_s * 1000.0) as Millis))
            } else {
                Millis::MAX
            };
            if sent_at > send_by {
                risky.push(AtRiskMessage {
                    message_id: message.id,
                    kind: message.kind,
                    state: State::Queued,
                    send_by,
                    seconds_left: (send_by - now).div_euclid(1000),
                });
            }
        }
        // the rest of the lane is assumed to need as many parts per message as its head
        let per_message = if lane.head.is_empty() {
            1.0
        } else {
            own_parts / lane.head.len() as f64
        };
        higher_parts += lane.queued as f64 * per_message;
    }
    risky.sort_by_key(|m| (m.send_by, m.message_id));
    risky
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Extra, MessageId};

    fn queued(id: u64, kind: Kind, send_by: Option<Millis>) -> Message {
        Message {
            id: MessageId(id),
            reference: None,
            kind,
            recipient: "77011234567".into(),
            sender: None,
            text: Some("short".into()),
            created: 0,
            send_by,
            receipt_by: None,
            attempts: 0,
            next_try: 0,
            state: State::Queued,
            operator: None,
            parts: Vec::new(),
            history: Vec::new(),
            extra: Extra::default(),
            concat_ref: None,
        }
    }

    #[test]
    fn messages_behind_a_long_queue_are_at_risk_and_those_in_front_are_not() {
        let now = 1_000_000;
        // ten single-part messages per second; each message's deadline is 5 s away
        let capacity = Capacity {
            parts_per_second: 10.0,
            shares: [0.0; 4],
        };
        let lane = |kind, ids: std::ops::Range<u64>| LaneHead {
            kind,
            queued: ids.end - ids.start,
            head: ids
                .map(|i| (now, queued(i, kind, Some(now + 5_000))))
                .collect(),
        };
        let lanes = [lane(Kind::Otp, 0..30), lane(Kind::Bulk, 100..101)];
        let risky = at_risk(&lanes, &capacity, &EncodingConfig::default(), now);
        let ids: Vec<u64> = risky.iter().map(|m| m.message_id.0).collect();
        // 50 parts fit in 5 s: all 30 OTPs make it, and the bulk message after them too
        assert!(ids.is_empty(), "{ids:?}");

        // with 80 OTPs, the 51st and later ones miss, and so does the bulk message
        let lanes = [lane(Kind::Otp, 0..80), lane(Kind::Bulk, 100..101)];
        let risky = at_risk(&lanes, &capacity, &EncodingConfig::default(), now);
        let ids: Vec<u64> = risky.iter().map(|m| m.message_id.0).collect();
        let mut expected: Vec<u64> = (50..80).collect();
        expected.push(100);
        assert_eq!(ids, expected);
    }

    #[test]
    fn without_capacity_every_deadline_is_at_risk() {
        let capacity = Capacity {
            parts_per_second: 0.0,
            shares: [0.0; 4],
        };
        let lanes = [LaneHead {
            kind: Kind::Notification,
            queued: 2,
            head: vec![
                (0, queued(1, Kind::Notification, Some(90_000))),
                (0, queued(2, Kind::Notification, None)),
            ],
        }];
        let risky = at_risk(&lanes, &capacity, &EncodingConfig::default(), 0);
        assert_eq!(risky.len(), 1);
        assert_eq!(
            (risky[0].message_id, risky[0].seconds_left),
            (MessageId(1), 90)
        );
    }
}
