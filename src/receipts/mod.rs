//! Delivery receipts and mobile-originated messages.

pub mod text;
