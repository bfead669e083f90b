//! A small async client for the socket, used by the CLI and the tests.
//!
//! Requests are JSON objects (`serde_json::json!`); answers come back as [`Answer`] or, through
//! the typed helpers, as the protocol's payload types.

use crate::api::error::{ApiError, ErrorCode};
use crate::api::protocol::{
    BatchAnswer, EventLine, MessageAnswer, MessageRef, StatusAnswer, Subscribed,
};
use crate::api::views::{EventView, MessageView, StatusReport};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{FramedRead, LinesCodec};

/// Longest reply line the client accepts (a status report of a large deployment fits).
const MAX_REPLY_BYTES: usize = 64 << 20;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be opened: the daemon is not running, or not here.
    #[error("daemon not reachable at {}: {source}", path.display())]
    Unreachable {
        /// The socket path tried.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The socket exists but this user may not open it.
    #[error(
        "permission denied on {}: your user is not in the socket's group (`ls -l` shows its \
         owner and group); ask the operator to add you to that group",
        path.display()
    )]
    PermissionDenied {
        /// The socket path tried.
        path: PathBuf,
    },
    /// The connection failed after it was opened.
    #[error("connection to {} failed: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The daemon closed the connection before answering.
    #[error("the daemon closed the connection")]
    Closed,
    /// The daemon answered something this client cannot read.
    #[error("unreadable reply from the daemon: {0}")]
    Protocol(String),
    /// The daemon refused the connection or the subscription (e.g. `forbidden`).
    #[error("{0}")]
    Refused(ApiError),
}

/// One reply: the echoed `id` and the payload fields or the error.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The echoed request id.
    pub id: Option<Value>,
    /// The payload fields (without `id` and `ok`), or the error.
    pub result: Result<Map<String, Value>, ApiError>,
}

impl Answer {
    /// Reads a reply line.
    pub fn parse(line: &str) -> Result<Answer, ClientError> {
        let value: Value =
            serde_json::from_str(line).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(ClientError::Protocol(format!("not an object: {line}")));
        };
        let id = map.remove("id");
        let result = match map.remove("ok") {
            Some(Value::Bool(true)) => Ok(map),
            Some(Value::Bool(false)) => Err(map
                .remove("error")
                .and_then(|e| serde_json::from_value(e).ok())
                .ok_or_else(|| {
                    ClientError::Protocol(format!("an error without a code: {line}"))
                })?),
            _ => return Err(ClientError::Protocol(format!("no `ok` field: {line}"))),
        };
        Ok(Answer { id, result })
    }

    /// The payload as `T`, or the daemon's error.
    pub fn into_payload<T: DeserializeOwned>(self) -> Result<Result<T, ApiError>, ClientError> {
        match self.result {
            Ok(map) => serde_json::from_value(Value::Object(map))
                .map(Ok)
                .map_err(|e| ClientError::Protocol(e.to_string())),
            Err(e) => Ok(Err(e)),
        }
    }
}

/// An open connection to the daemon.
#[derive(Debug)]
pub struct Client {
    lines: FramedRead<OwnedReadHalf, LinesCodec>,
    writer: BufWriter<OwnedWriteHalf>,
    path: PathBuf,
    next_id: u64,
}

impl Client {
    /// Connects to the socket at `path`.
    pub async fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).await.map_err(|source| {
            let path = path.to_path_buf();
            if source.kind() == io::ErrorKind::PermissionDenied {
                ClientError::PermissionDenied { path }
            } else {
                ClientError::Unreachable { path, source }
            }
        })?;
        let (read, write) = stream.into_split();
        Ok(Client {
            lines: FramedRead::new(read, LinesCodec::new_with_max_length(MAX_REPLY_BYTES)),
            writer: BufWriter::new(write),
            path: path.to_path_buf(),
            next_id: 1,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes raw bytes (tests use this to send malformed lines).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let written = async {
            self.writer.write_all(bytes).await?;
            self.writer.flush().await
        }
        .await;
        written.map_err(|e| self.io_error(e))
    }

    /// Reads one raw line; `Closed` at the end of the stream.
    pub async fn read_line(&mut self) -> Result<String, ClientError> {
        match self.lines.next().await {
            Some(Ok(line)) => Ok(line),
            // The server may reset after its last line (it closed with our data unread).
            None => Err(ClientError::Closed),
            Some(Err(tokio_util::codec::LinesCodecError::Io(e)))
                if e.kind() == io::ErrorKind::ConnectionReset =>
            {
                Err(ClientError::Closed)
            }
            Some(Err(e)) => Err(ClientError::Protocol(e.to_string())),
        }
    }

    /// Reads one reply line.
    pub async fn read_answer(&mut self) -> Result<Answer, ClientError> {
        Answer::parse(&self.read_line().await?)
    }

    /// Gives `request` an `id` if it has none and returns the line to send.
    fn encode(&mut self, mut request: Value) -> Result<(Vec<u8>, Value), ClientError> {
        let Value::Object(map) = &mut request else {
            return Err(ClientError::Protocol(
                "a request must be a JSON object".into(),
            ));
        };
        let id = map
            .entry("id")
            .or_insert_with(|| {
                self.next_id += 1;
                json!(self.next_id - 1)
            })
            .clone();
        let mut line =
            serde_json::to_vec(&request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        Ok((line, id))
    }

    /// Checks that a reply answers the request with `id`. A connection-level refusal
    /// (`forbidden`, `too_many_connections`, …) carries no id and is returned as is.
    fn matched(reply: Answer, id: &Value) -> Result<Answer, ClientError> {
        match &reply.id {
            Some(got) if got == id => Ok(reply),
            None if reply.result.is_err() => Ok(reply),
            other => Err(ClientError::Protocol(format!(
                "expected the reply to request {id}, got one for {other:?}"
            ))),
        }
    }

    /// Sends one request (an `id` is added if missing) and waits for its reply.
    pub async fn request(&mut self, request: Value) -> Result<Answer, ClientError> {
        let (line, id) = self.encode(request)?;
        self.send_raw(&line).await?;
        Self::matched(self.read_answer().await?, &id)
    }

    /// Sends one request and reads its payload as `T`.
    pub async fn call<T: DeserializeOwned>(
        &mut self,
        request: Value,
    ) -> Result<Result<T, ApiError>, ClientError> {
        self.request(request).await?.into_payload()
    }

    /// Sends many requests without waiting, reading replies while writing (the server stops
    /// reading when its pipeline is full, so both must run at once). Replies are in order.
    pub async fn pipeline(&mut self, requests: Vec<Value>) -> Result<Vec<Answer>, ClientError> {
        let mut lines = Vec::new();
        let mut ids = Vec::with_capacity(requests.len());
        for request in requests {
            let (line, id) = self.encode(request)?;
            lines.extend_from_slice(&line);
            ids.push(id);
        }
        let path = self.path.clone();
        let (writer, reader) = (&mut self.writer, &mut self.lines);
        let write = async {
            writer.write_all(&lines).await?;
            writer.flush().await
        };
        let read = async {
            let mut replies = Vec::with_capacity(ids.len());
            for id in &ids {
                let line = match reader.next().await {
                    Some(Ok(line)) => line,
                    None => return Err(ClientError::Closed),
                    Some(Err(e)) => return Err(ClientError::Protocol(e.to_string())),
                };
                replies.push(Self::matched(Answer::parse(&line)?, id)?);
            }
            Ok(replies)
        };
        let (written, replies) = tokio::join!(write, read);
        written.map_err(|source| ClientError::Io { path, source })?;
        replies
    }

    /// `submit` one message given as a protocol object (`{"to":…,"text":…}`).
    pub async fn submit(
        &mut self,
        mut message: Value,
    ) -> Result<Result<crate::api::protocol::SubmitOk, ApiError>, ClientError> {
        if let Value::Object(map) = &mut message {
            map.insert("op".into(), json!("submit"));
        }
        self.call(message).await
    }

    /// `submit_batch` of protocol objects.
    pub async fn submit_batch(
        &mut self,
        messages: Vec<Value>,
    ) -> Result<Result<BatchAnswer, ApiError>, ClientError> {
        self.call(json!({"op": "submit_batch", "messages": messages}))
            .await
    }

    /// `get` one message.
    pub async fn get(
        &mut self,
        message: &MessageRef,
    ) -> Result<Result<MessageView, ApiError>, ClientError> {
        let reply: Result<MessageAnswer, ApiError> = self.call(ref_request("get", message)).await?;
        Ok(reply.map(|r| r.message))
    }

    /// `cancel` one message.
    pub async fn cancel(
        &mut self,
        message: &MessageRef,
    ) -> Result<Result<MessageView, ApiError>, ClientError> {
        let reply: Result<MessageAnswer, ApiError> =
            self.call(ref_request("cancel", message)).await?;
        Ok(reply.map(|r| r.message))
    }

    /// The daemon's status report.
    pub async fn status(&mut self) -> Result<Result<StatusReport, ApiError>, ClientError> {
        let reply: Result<StatusAnswer, ApiError> = self.call(json!({"op": "status"})).await?;
        Ok(reply.map(|r| r.status))
    }

    /// Turns this connection into an event stream from the durable `cursor` (or a live tail
    /// without one), starting at `from` if given.
    pub async fn subscribe(
        mut self,
        cursor: Option<&str>,
        from: Option<u64>,
    ) -> Result<Subscription, ClientError> {
        let reply: Result<Subscribed, ApiError> = self
            .call(json!({"op": "subscribe", "cursor": cursor, "from": from}))
            .await?;
        let subscribed = reply.map_err(ClientError::Refused)?;
        Ok(Subscription {
            client: self,
            cursor: subscribed.cursor,
            from: subscribed.from,
            unconfirmed_acks: 0,
        })
    }
}

/// `{"op":…,"message_id":…}` or `{"op":…,"reference":…}`.
fn ref_request(op: &str, message: &MessageRef) -> Value {
    match message {
        MessageRef::Id(id) => json!({"op": op, "message_id": id.to_string()}),
        MessageRef::Reference(r) => json!({"op": op, "reference": r}),
    }
}

/// A subscribed connection: events, and acks on the same connection.
#[derive(Debug)]
pub struct Subscription {
    client: Client,
    cursor: Option<String>,
    /// The seq of the first event the server will send.
    pub from: u64,
    /// Acks sent whose reply has not been read yet.
    unconfirmed_acks: usize,
}

impl Subscription {
    /// The next event. Replies to acks are skipped; a refused ack or a stream error is
    /// [`ClientError::Refused`].
    pub async fn next_event(&mut self) -> Result<EventView, ClientError> {
        loop {
            let line = self.client.read_line().await?;
            if is_event(&line)? {
                let event: EventLine = serde_json::from_str(&line)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                return Ok(event.event);
            }
            self.unconfirmed_acks = self.unconfirmed_acks.saturating_sub(1);
            match Answer::parse(&line)?.result {
                Ok(_) => continue,
                Err(e) => return Err(ClientError::Refused(e)),
            }
        }
    }

    /// Waits until every ack sent was confirmed (events arriving meanwhile are dropped; they
    /// come again on the next subscription), so the cursor is durable before disconnecting.
    pub async fn finish(mut self) -> Result<(), ClientError> {
        while self.unconfirmed_acks > 0 {
            let line = self.client.read_line().await?;
            if is_event(&line)? {
                continue;
            }
            self.unconfirmed_acks -= 1;
            if let Err(e) = Answer::parse(&line)?.result {
                return Err(ClientError::Refused(e));
            }
        }
        Ok(())
    }

    /// Acknowledges every event up to `seq` on the subscription's cursor. The reply is read
    /// and skipped by [`next_event`](Self::next_event); call [`finish`](Self::finish) before
    /// disconnecting to be sure the last ack was stored.
    pub async fn ack(&mut self, seq: u64) -> Result<(), ClientError> {
        let Some(cursor) = self.cursor.clone() else {
            return Err(ClientError::Refused(ApiError::new(
                ErrorCode::InvalidRequest,
                "a subscription without a cursor cannot acknowledge",
            )));
        };
        let (line, _) = self
            .client
            .encode(json!({"op": "ack", "cursor": cursor, "seq": seq}))?;
        self.client.send_raw(&line).await?;
        self.unconfirmed_acks += 1;
        Ok(())
    }
}

/// Whether a subscription line is an event (`{"event":…}`) rather than a reply.
fn is_event(line: &str) -> Result<bool, ClientError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok(value.get("event").is_some())
}
