//! A small test-only ESME on rusmpp's codec, and helpers shared by the integration tests.
#![allow(dead_code)]

pub mod raw;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rusmpp::extra::concatenation::SubmitSmMultipartExt;
use rusmpp::extra::encoding::gsm7bit::Gsm7BitUnpacked;
use rusmpp::extra::encoding::ucs2::Ucs2;
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSm, SubmitSm};
use rusmpp::tlvs::TlvValue;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use smpp_sim::{ReceiptConfig, SimConfig, SimHandle, Simulator};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Generous wait for anything that should happen (the machine may be loaded).
pub const WAIT: Duration = Duration::from_secs(30);

/// The Kazakh notification text of the issue.
pub const KAZAKH: &str = "Сәлеметсіз бе! Әлеуметтік әмиян: қолдау шарасы тағайындалды";

/// Starts one operator `kcell` (system_id kcell, password secret) on an ephemeral port with
/// receipts after `delay_ms` exactly.
pub async fn start_sim(delay_ms: u64) -> SimHandle {
    let mut config = SimConfig::single("kcell");
    config.receipts = ReceiptConfig {
        min_delay_ms: delay_ms,
        max_delay_ms: delay_ms,
        ..ReceiptConfig::default()
    };
    Simulator::start(config).await.expect("simulator starts")
}

/// The three bind kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    Tx,
    Rx,
    Trx,
}

/// What a test ESME talks over: a plain TCP stream or a TLS stream.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A test ESME connection.
pub struct Client {
    framed: Framed<Box<dyn Io>, CommandCodec>,
    next: u32,
    /// deliver_sm received while waiting for something else.
    pub delivered: VecDeque<DeliverSm>,
    /// Answer deliver_sm with ESME_ROK automatically.
    pub auto_ack: bool,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connects");
        Self::over(stream)
    }

    /// A client on a connection already made (e.g. a TLS stream whose handshake is done).
    pub fn over(stream: impl Io + 'static) -> Self {
        Self {
            framed: Framed::new(
                Box::new(stream) as Box<dyn Io>,
                CommandCodec::new().with_max_length(70_000),
            ),
            next: 0,
            delivered: VecDeque::new(),
            auto_ack: true,
        }
    }

    /// Connects and binds to `operator` of `sim` with its own credentials.
    pub async fn bound(sim: &SimHandle, operator: &str, kind: Bind) -> Self {
        let info = sim
            .operators()
            .into_iter()
            .find(|o| o.name == operator)
            .expect("operator exists");
        let mut client = Self::connect(info.addr).await;
        let status = client.bind(kind, &info.system_id, &info.password).await;
        assert_eq!(status, CommandStatus::EsmeRok, "bind to {operator}");
        client
    }

    pub fn next_sequence(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    pub async fn send(&mut self, command: Command) {
        self.framed.send(command).await.expect("sends");
    }

    /// Writes raw bytes (for malformed PDUs).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.framed
            .get_mut()
            .write_all(bytes)
            .await
            .expect("writes");
    }

    /// The next PDU, or `None` when the connection closed or nothing came within `timeout`.
    pub async fn recv_within(&mut self, timeout: Duration) -> Option<Command> {
        match tokio::time::timeout(timeout, self.framed.next()).await {
            Ok(Some(Ok(command))) => Some(command),
            _ => None,
        }
    }

    /// Whether the server closed the connection (EOF within [`WAIT`]).
    pub async fn closed_by_server(&mut self) -> bool {
        loop {
            match tokio::time::timeout(WAIT, self.framed.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Reads PDUs until the response with `sequence`, acknowledging deliver_sm on the way.
    pub async fn response_to(&mut self, sequence: u32) -> Command {
        loop {
            let command = self
                .recv_within(WAIT)
                .await
                .unwrap_or_else(|| panic!("no response to sequence {sequence}"));
            if command.sequence_number() == sequence && command.id().is_response() {
                return command;
            }
            self.stash(command).await;
        }
    }

    /// Reads PDUs until any response, acknowledging deliver_sm on the way.
    pub async fn response_to_any(&mut self) -> Command {
        loop {
            let command = self.recv_within(WAIT).await.expect("a response");
            if command.id().is_response() {
                return command;
            }
            self.stash(command).await;
        }
    }

    async fn stash(&mut self, command: Command) {
        if let Some(Pdu::DeliverSm(sm)) = command.pdu() {
            if self.auto_ack {
                self.ack(command.sequence_number(), CommandStatus::EsmeRok)
                    .await;
            }
            self.delivered.push_back(sm.clone());
        }
    }

    /// Answers a deliver_sm.
    pub async fn ack(&mut self, sequence: u32, status: CommandStatus) {
        let resp = rusmpp::pdus::DeliverSmResp::builder().build();
        self.send(Command::new(status, sequence, resp)).await;
    }

    /// Sends a request and waits for its response.
    pub async fn request(&mut self, pdu: impl Into<Pdu>) -> Command {
        let sequence = self.next_sequence();
        self.send(Command::new(CommandStatus::EsmeRok, sequence, pdu))
            .await;
        self.response_to(sequence).await
    }

    pub async fn bind(&mut self, kind: Bind, system_id: &str, password: &str) -> CommandStatus {
        self.request(bind_pdu(kind, system_id, password))
            .await
            .status()
    }

    /// Submits and returns (status, message id).
    pub async fn submit(&mut self, sm: SubmitSm) -> (CommandStatus, String) {
        let resp = self.request(sm).await;
        assert_eq!(resp.id(), CommandId::SubmitSmResp);
        let id = match resp.pdu() {
            Some(Pdu::SubmitSmResp(r)) => r.message_id().as_str().to_string(),
            _ => String::new(),
        };
        (resp.status(), id)
    }

    /// The next deliver_sm (acknowledged when `auto_ack`), waiting up to [`WAIT`].
    pub async fn next_deliver_sm(&mut self) -> DeliverSm {
        loop {
            if let Some(sm) = self.delivered.pop_front() {
                return sm;
            }
            let command = self.recv_within(WAIT).await.expect("a deliver_sm arrives");
            self.stash(command).await;
        }
    }

    /// The next deliver_sm with its sequence number, not acknowledged.
    pub async fn next_deliver_sm_raw(&mut self) -> (u32, DeliverSm) {
        loop {
            let command = self.recv_within(WAIT).await.expect("a deliver_sm arrives");
            if let Some(Pdu::DeliverSm(sm)) = command.pdu() {
                return (command.sequence_number(), sm.clone());
            }
        }
    }
}

/// A bind PDU of `kind` with these credentials, SMPP 3.4.
pub fn bind_pdu(kind: Bind, system_id: &str, password: &str) -> Pdu {
    let sid = COctetString::from_str(system_id).unwrap();
    let pw = COctetString::from_str(password).unwrap();
    let v = InterfaceVersion::Smpp3_4;
    match kind {
        Bind::Tx => BindTransmitter::builder()
            .system_id(sid)
            .password(pw)
            .interface_version(v)
            .build()
            .into(),
        Bind::Rx => BindReceiver::builder()
            .system_id(sid)
            .password(pw)
            .interface_version(v)
            .build()
            .into(),
        Bind::Trx => BindTransceiver::builder()
            .system_id(sid)
            .password(pw)
            .interface_version(v)
            .build()
            .into(),
    }
}

fn address(text: &str) -> COctetString<1, 21> {
    COctetString::from_str(text).unwrap()
}

/// A submit_sm from `egov` to `to`, GSM 7-bit when possible else UCS-2, asking for a receipt.
pub fn submit_sm(to: &str, text: &str) -> SubmitSm {
    let (bytes, dc) = match Gsm7BitUnpacked::new().encode_to_vec(text) {
        Ok(bytes) => (bytes, DataCoding::McSpecific),
        Err(_) => (Ucs2::new().encode_to_vec(text).unwrap(), DataCoding::Ucs2),
    };
    SubmitSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr(address("egov"))
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(address(to))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(dc)
        .short_message(OctetString::from_vec(bytes).unwrap())
        .build()
}

/// The parts of a long UCS-2 message, concatenated with rusmpp's multipart builder.
pub fn multipart_ucs2(to: &str, text: &str, reference: u8) -> Vec<SubmitSm> {
    let base = submit_sm(to, "x");
    base.multipart(text)
        .ucs2()
        .reference_u8(reference)
        .build()
        .expect("multipart builds")
}

/// A receipt's `key:value` fields (`submit date` and `done date` keep their space).
pub fn receipt_fields(sm: &DeliverSm) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(sm.short_message().as_ref()).into_owned();
    let mut fields = HashMap::new();
    let keys = [
        "id",
        "sub",
        "dlvrd",
        "submit date",
        "done date",
        "stat",
        "err",
        "text",
    ];
    for (i, key) in keys.iter().enumerate() {
        let marker = format!("{key}:");
        let Some(start) = text.find(&marker) else {
            continue;
        };
        let from = start + marker.len();
        let end = keys[i + 1..]
            .iter()
            .filter_map(|k| text[from..].find(&format!(" {k}:")).map(|p| from + p))
            .min()
            .unwrap_or(text.len());
        fields.insert(key.to_string(), text[from..end].to_string());
    }
    fields
}

/// receipted_message_id and message_state TLVs of a receipt.
pub fn receipt_tlvs(sm: &DeliverSm) -> (Option<String>, Option<u8>) {
    let mut id = None;
    let mut state = None;
    for tlv in sm.tlvs() {
        match tlv.value() {
            Some(TlvValue::ReceiptedMessageId(v)) => id = Some(v.as_str().to_string()),
            Some(TlvValue::MessageState(s)) => state = Some(u8::from(*s)),
            _ => {}
        }
    }
    (id, state)
}

/// Decodes a UCS-2 short message.
pub fn ucs2_text(bytes: &[u8]) -> String {
    char::decode_utf16(
        bytes
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]])),
    )
    .map(|c| c.unwrap_or('\u{FFFD}'))
    .collect()
}
