//! `get` and `cancel`: one message by id or reference.

use super::GatewayBackend;
use super::errors::{not_changed, not_read};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::MessageRef;
use crate::api::views::MessageView;
use crate::log_gate::{Repeated, note};
use crate::message::{Message, State};
use crate::store::StoreError;

const CANCELLED: Repeated = Repeated::info("cancelled by upstream");

/// The reason recorded when upstream cancels a message.
const CANCELLED_BY_UPSTREAM: &str = "by upstream";

/// `unknown_message` for a reference.
fn unknown(message: &MessageRef) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownMessage,
        format!("there is no {message} (or it was forgotten after its retention time)"),
    )
}

/// `not_cancellable` for a message in `state`.
fn not_cancellable(message: &Message, state: State) -> ApiError {
    let why = if state.is_final() {
        format!("it is already {state}, a final state")
    } else {
        format!("it is {state}: an operator already has it")
    };
    ApiError::new(
        ErrorCode::NotCancellable,
        format!("message {} cannot be cancelled: {why}", message.id),
    )
}

impl GatewayBackend {
    /// The message a reference names.
    pub(super) async fn find(&self, message: &MessageRef) -> Result<Message, ApiError> {
        let found = match message {
            MessageRef::Id(id) => self.store().get(*id).await,
            MessageRef::Reference(reference) => self.store().get_by_reference(reference).await,
        };
        found
            .map_err(|e| not_read(&e))?
            .ok_or_else(|| unknown(message))
    }

    /// `cancel`: only while the message is still queued.
    pub(super) async fn cancel_message(
        &self,
        reference: &MessageRef,
    ) -> Result<MessageView, ApiError> {
        let message = self.find(reference).await?;
        if message.state != State::Queued {
            return Err(not_cancellable(&message, message.state));
        }
        match self.store().cancel(message.id, CANCELLED_BY_UPSTREAM).await {
            Ok(cancelled) => {
                let id = cancelled.id;
                note(&CANCELLED, || tracing::info!(%id, "{}", CANCELLED.what));
                Ok(MessageView::from(&cancelled))
            }
            // claimed by the sending stage between the read and the cancel
            Err(StoreError::WrongState { state, .. }) => Err(not_cancellable(&message, state)),
            Err(StoreError::NotFound(_)) => Err(unknown(reference)),
            Err(e) => Err(not_changed(&e)),
        }
    }
}
