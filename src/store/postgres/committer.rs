//! The writer task's connection and what its transactions need to know of this node: every
//! transaction of the cluster engine runs on a [`Committer`], and counts its changes there once
//! it committed.

use super::counts::{Deltas, Known};
use super::failed;
use crate::message::{MessageId, Millis};
use crate::store::config::PostgresConfig;
use crate::store::error::StoreError;
use std::sync::{Arc, Mutex};
use tokio_postgres::{Client, Transaction};

/// The writer's connection, with what its transactions need to know of this node.
pub struct Committer {
    /// The connection.
    pub client: Client,
    /// This node's name, recorded on its claims and its counters' rows.
    pub node: String,
    /// Which of the node's writing connections this is: [`WRITER`] or [`CLAIMER`] (each has
    /// its own counters' rows).
    pub writer: i16,
    /// The counters as this node knows them.
    pub known: Arc<Mutex<Known>>,
    /// How long finished messages keep their texts and are kept.
    pub retention: Retention,
    /// How to connect again when the connection is lost.
    pub config: PostgresConfig,
    /// The messages of a claim whose commit was sent and not answered (the connection was
    /// lost): claimed or not, nobody sends them, so they go back to the queue once connected
    /// again.
    pub unsure: Vec<MessageId>,
    /// An accept group's commit was sent (a lost connection then leaves its outcome unknown).
    pub commit_sent: bool,
}

impl Committer {
    /// Counts the changes of a transaction that committed.
    pub fn committed(&self, counted: &Deltas) {
        if let Ok(mut known) = self.known.lock() {
            known.committed(counted);
        }
    }
}

/// The connection that accepts and changes messages (and does all but claiming).
pub const WRITER: i16 = 0;
/// The connection that claims messages for sending: a claim, an OTP's above all, never waits
/// behind a group of changes.
pub const CLAIMER: i16 = 1;

/// How long finished messages keep their texts, and how long they are kept at all.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Texts are erased this long after the message finished, in milliseconds.
    pub erase_after_ms: Millis,
    /// Messages are forgotten this long after they finished, in milliseconds.
    pub forget_after_ms: Millis,
}

/// Starts a transaction on `client` (a [`Committer`]'s); `doing` names the work in its error.
pub async fn begin<'a>(client: &'a mut Client, doing: &str) -> Result<Transaction<'a>, StoreError> {
    client
        .transaction()
        .await
        .map_err(|e| failed(&format!("{doing}: starting"), e))
}
