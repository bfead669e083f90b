//! Delivery receipts and mobile-originated messages.

pub mod ingest;
pub mod text;

pub use ingest::ReceiptStage;
