//! A test ESME that reads PDUs as raw frames (header fields and body octets), for PDUs
//! rusmpp's codec cannot decode (a malformed deliver_sm) and exact command_length checks.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::{Command, CommandStatus, Pdu};
use smpp_sim::SimHandle;
use smpp_sim::codec::{Frame, FrameCodec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder};

use super::{Bind, WAIT, bind_pdu};

/// One PDU as read off the wire.
#[derive(Debug, Clone)]
pub struct RawPdu {
    pub command_length: u32,
    pub command_id: u32,
    pub status: u32,
    pub sequence: u32,
    /// The whole PDU, header included.
    pub octets: Vec<u8>,
}

impl RawPdu {
    /// The PDU decoded by the simulator's own framing: a command, or `None` when its body
    /// does not decode.
    pub fn decode(&self) -> Option<Command> {
        let mut buf = BytesMut::from(&self.octets[..]);
        match FrameCodec::new(usize::MAX).decode(&mut buf) {
            Ok(Some(Frame::Command(command))) => Some(command),
            _ => None,
        }
    }
}

/// A connection reading raw frames.
pub struct RawClient {
    stream: TcpStream,
    buf: BytesMut,
    next: u32,
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.expect("connects"),
            buf: BytesMut::new(),
            next: 0,
        }
    }

    /// Connects to `operator` and binds with its credentials; panics unless ESME_ROK.
    pub async fn bound(sim: &SimHandle, operator: &str, kind: Bind) -> Self {
        let info = sim
            .operators()
            .into_iter()
            .find(|o| o.name == operator)
            .expect("operator exists");
        let mut client = Self::connect(info.addr).await;
        let status = client.bind(kind, &info.system_id, &info.password).await;
        assert_eq!(status, 0, "bind to {operator}");
        client
    }

    /// Sends a bind and returns the status of its response.
    pub async fn bind(&mut self, kind: Bind, system_id: &str, password: &str) -> u32 {
        let sequence = self.next_sequence();
        self.send(Command::new(
            CommandStatus::EsmeRok,
            sequence,
            bind_pdu(kind, system_id, password),
        ))
        .await;
        self.response_to(sequence).await.status
    }

    pub fn next_sequence(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    pub async fn send(&mut self, command: Command) {
        let mut out = BytesMut::new();
        CommandCodec::new()
            .without_max_length()
            .encode(&command, &mut out)
            .expect("encodes");
        self.send_raw(&out).await;
    }

    /// Sends `pdu` as a request with a fresh sequence number; returns the number.
    pub async fn send_request(&mut self, pdu: impl Into<Pdu>) -> u32 {
        let sequence = self.next_sequence();
        self.send(Command::new(CommandStatus::EsmeRok, sequence, pdu))
            .await;
        sequence
    }

    /// Answers with a header-only PDU (`command_id`, `status`, `sequence`).
    pub async fn answer(&mut self, command_id: u32, status: u32, sequence: u32) {
        let mut raw = Vec::with_capacity(16);
        for w in [16, command_id, status, sequence] {
            raw.extend_from_slice(&u32::to_be_bytes(w));
        }
        self.send_raw(&raw).await;
    }

    /// Answers a deliver_sm with deliver_sm_resp (empty message_id).
    pub async fn ack_deliver(&mut self, sequence: u32, status: u32) {
        let mut raw = Vec::with_capacity(17);
        for w in [17, 0x8000_0005, status, sequence] {
            raw.extend_from_slice(&u32::to_be_bytes(w));
        }
        raw.push(0);
        self.send_raw(&raw).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("writes");
    }

    /// The next PDU, or `None` when the connection closed or nothing came within `timeout`.
    pub async fn recv_within(&mut self, timeout: Duration) -> Option<RawPdu> {
        tokio::time::timeout(timeout, self.read_frame())
            .await
            .ok()
            .flatten()
    }

    /// The next PDU within [`WAIT`]; panics otherwise.
    pub async fn recv(&mut self) -> RawPdu {
        self.recv_within(WAIT).await.expect("a PDU arrives")
    }

    /// Reads PDUs until one matches `wanted`; panics when none did within [`WAIT`].
    async fn first(&mut self, what: &str, wanted: impl Fn(&RawPdu) -> bool) -> RawPdu {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.read_frame()).await {
                Ok(Some(pdu)) if wanted(&pdu) => return pdu,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("connection closed while waiting for {what}"),
                Err(_) => panic!("no {what} within {WAIT:?}"),
            }
        }
    }

    /// Reads PDUs until one has `command_id`, returning it.
    pub async fn next_of(&mut self, command_id: u32) -> RawPdu {
        self.first(&format!("command_id 0x{command_id:08x}"), |p| {
            p.command_id == command_id
        })
        .await
    }

    /// Reads PDUs until the response to `sequence`.
    pub async fn response_to(&mut self, sequence: u32) -> RawPdu {
        self.first(&format!("response to {sequence}"), |p| {
            p.sequence == sequence && p.command_id & 0x8000_0000 != 0
        })
        .await
    }

    /// Whether the server closed the connection (EOF within [`WAIT`], PDUs before it skipped).
    pub async fn closed_by_server(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.read_frame()).await {
                Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    async fn read_frame(&mut self) -> Option<RawPdu> {
        loop {
            if self.buf.len() >= 16 {
                let length = word(&self.buf, 0) as usize;
                assert!(length >= 16, "impossible command_length {length}");
                if self.buf.len() >= length {
                    let octets = self.buf.split_to(length).to_vec();
                    return Some(RawPdu {
                        command_length: word(&octets, 0),
                        command_id: word(&octets, 4),
                        status: word(&octets, 8),
                        sequence: word(&octets, 12),
                        octets,
                    });
                }
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}
