//! The simulator's own ceiling: a minimal SMPP client sending the very submit_sm PDUs khabar
//! would send for the same messages (built with khabar's encoder, encoded before the clock
//! starts), over the same number of binds with the same window, acknowledging every receipt.
//!
//! Written here, not with rusmppc, because a ceiling must cost the client as little as
//! possible: PDUs are pre-encoded and replies are read by their 16-octet header only.

use crate::traffic;
use bytes::BytesMut;
use khabar::encoding::{EncodingConfig, build_submits};
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::COctetString;
use rusmpp::values::{Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandStatus, Pdu};
use smpp_sim::SimHandle;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;

const SUBMIT_SM_RESP: u32 = 0x8000_0004;
const DELIVER_SM: u32 = 0x0000_0005;

/// What the raw client measured.
#[derive(Clone, Copy, Debug)]
pub struct Ceiling {
    /// submit_sm answered per second, first submit to last response.
    pub submits_per_s: f64,
    /// From the first submit to the last receipt.
    pub receipts_done: Duration,
}

fn encoded(command: Command) -> Result<BytesMut, String> {
    let mut buf = BytesMut::new();
    CommandCodec::new()
        .encode(command, &mut buf)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

fn address(a: &str) -> Result<COctetString<1, 21>, String> {
    COctetString::from_str(a).map_err(|e| e.to_string())
}

/// Every part of message `n` as encoded submit_sm PDUs, numbered from `*sequence`.
fn submits_of(n: u64, sequence: &mut u32, out: &mut Vec<BytesMut>) -> Result<(), String> {
    let base = SubmitSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr_npi(Npi::Unknown)
        .source_addr(address("eGov")?)
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(address(&traffic::recipient(n))?)
        .registered_delivery(RegisteredDelivery::request_all())
        .build();
    let text = traffic::text(n);
    let parts = build_submits(base, &text, (n & 0xffff) as u16, &EncodingConfig::default())
        .map_err(|e| e.to_string())?;
    for part in parts {
        *sequence += 1;
        out.push(encoded(Command::new(
            CommandStatus::EsmeRok,
            *sequence,
            part,
        ))?);
    }
    Ok(())
}

/// Sends messages `0..messages` to the first `operators` of `sim`'s operators (routed by
/// prefix as khabar does, or all to the first), `binds` connections each, `window`
/// outstanding per connection.
pub async fn measure(
    sim: &SimHandle,
    messages: u64,
    operators: usize,
    binds: usize,
    window: usize,
    patience: Duration,
) -> Result<Ceiling, String> {
    let infos = sim.operators();
    let connections = operators * binds;
    let mut streams = vec![Vec::new(); connections];
    let mut sequences = vec![0u32; connections];
    for n in 0..messages {
        let (op, spread) = if operators == 1 {
            (0, n)
        } else {
            (traffic::operator_of(n) % operators, n / operators as u64)
        };
        let c = op * binds + (spread % binds as u64) as usize;
        submits_of(n, &mut sequences[c], &mut streams[c])?;
    }
    let mut bound = Vec::new();
    for (c, pdus) in streams.into_iter().enumerate() {
        let info = &infos[c / binds];
        bound.push((
            bind(info.addr, &info.system_id, &info.password).await?,
            pdus,
        ));
    }
    // The simulator may send a receipt on any bind of the account, so the readers stop
    // together once every part's receipt has arrived on one of them.
    let receipts = Receipts {
        expected: bound.iter().map(|(_, pdus)| pdus.len() as u64).sum(),
        seen: Arc::new(AtomicU64::new(0)),
        all_in: CancellationToken::new(),
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (stream, pdus) in bound {
        tasks.spawn(drive(stream, pdus, window, started, receipts.clone()));
    }
    let (mut parts, mut last_answer, mut last_receipt) = (0u64, Duration::ZERO, Duration::ZERO);
    let all = async {
        while let Some(done) = tasks.join_next().await {
            let (n, answer, receipt) = done.map_err(|e| e.to_string())??;
            parts += n;
            last_answer = last_answer.max(answer);
            last_receipt = last_receipt.max(receipt);
        }
        Ok::<_, String>(())
    };
    tokio::time::timeout(patience, all)
        .await
        .map_err(|_| format!("the raw client gave up after {patience:?}"))??;
    Ok(Ceiling {
        submits_per_s: parts as f64 / last_answer.as_secs_f64().max(1e-9),
        receipts_done: last_receipt,
    })
}

/// Receipts over every connection of a measurement.
#[derive(Clone)]
struct Receipts {
    expected: u64,
    seen: Arc<AtomicU64>,
    all_in: CancellationToken,
}

impl Receipts {
    fn one_more(&self) {
        if self.seen.fetch_add(1, Ordering::Relaxed) + 1 >= self.expected {
            self.all_in.cancel();
        }
    }
}

/// A bound transceiver connection.
async fn bind(
    addr: std::net::SocketAddr,
    system_id: &str,
    password: &str,
) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let bind = BindTransceiver::builder()
        .system_id(COctetString::from_str(system_id).map_err(|e| e.to_string())?)
        .password(COctetString::from_str(password).map_err(|e| e.to_string())?)
        .build();
    let request = encoded(Command::new(CommandStatus::EsmeRok, u32::MAX, bind))?;
    stream
        .write_all(&request)
        .await
        .map_err(|e| e.to_string())?;
    let mut header = [0u8; 16];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|e| e.to_string())?;
    let (length, status) = (word(&header, 0) as usize, word(&header, 8));
    let mut body = vec![0u8; length.saturating_sub(16)];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| e.to_string())?;
    if status != 0 {
        return Err(format!("bind refused with status {status:#x}"));
    }
    Ok(stream)
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Sends `pdus` with `window` outstanding and acknowledges receipts until every connection's
/// receipts are in; returns (parts accepted, time of the last response, of the last receipt).
async fn drive(
    stream: TcpStream,
    pdus: Vec<BytesMut>,
    window: usize,
    started: Instant,
    receipts: Receipts,
) -> Result<(u64, Duration, Duration), String> {
    let total = pdus.len() as u64;
    let (mut read, write) = stream.into_split();
    let credits = Arc::new(Semaphore::new(window));
    let (acks, acks_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(write, pdus, credits.clone(), acks_rx));
    let (mut answered, mut accepted) = (0u64, 0u64);
    let (mut last_answer, mut last_receipt) = (Duration::ZERO, Duration::ZERO);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        while buf.len() >= 16 {
            let length = word(&buf, 0) as usize;
            if length < 16 {
                return Err(format!("command_length {length} from the simulator"));
            }
            if buf.len() < length {
                break;
            }
            let frame = buf.split_to(length);
            match word(&frame, 4) {
                SUBMIT_SM_RESP => {
                    answered += 1;
                    accepted += u64::from(word(&frame, 8) == 0);
                    last_answer = started.elapsed();
                    credits.add_permits(1);
                }
                DELIVER_SM => {
                    last_receipt = started.elapsed();
                    let _ = acks.send(word(&frame, 12));
                    receipts.one_more();
                }
                _ => {}
            }
        }
        let finished = answered == total;
        buf.reserve(64 * 1024);
        tokio::select! {
            read = read.read_buf(&mut buf) => {
                if read.map_err(|e| e.to_string())? == 0 {
                    return Err("the simulator closed the connection".into());
                }
            }
            _ = receipts.all_in.cancelled(), if finished => break,
        }
    }
    drop(acks);
    writer.await.map_err(|e| e.to_string())??;
    Ok((accepted, last_answer, last_receipt))
}

/// Writes submits as the window allows and a deliver_sm_resp for every receipt sequence.
async fn write_loop(
    mut write: OwnedWriteHalf,
    pdus: Vec<BytesMut>,
    credits: Arc<Semaphore>,
    mut acks: mpsc::UnboundedReceiver<u32>,
) -> Result<(), String> {
    let ack = encoded(Command::new(
        CommandStatus::EsmeRok,
        0,
        Pdu::from(DeliverSmResp::builder().build()),
    ))?;
    let push_ack = |out: &mut BytesMut, sequence: u32| {
        let at = out.len() + 12;
        out.extend_from_slice(&ack);
        out[at..at + 4].copy_from_slice(&sequence.to_be_bytes());
    };
    let mut pdus = pdus.into_iter().peekable();
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        while let Ok(sequence) = acks.try_recv() {
            push_ack(&mut out, sequence);
        }
        while pdus.peek().is_some() {
            let Ok(permit) = credits.try_acquire() else {
                break;
            };
            permit.forget();
            out.extend_from_slice(&pdus.next().unwrap_or_default());
        }
        if out.is_empty() {
            if pdus.peek().is_none() {
                match acks.recv().await {
                    Some(sequence) => push_ack(&mut out, sequence),
                    None => break,
                }
            } else {
                tokio::select! {
                    permit = credits.acquire() => {
                        permit.map_err(|e| e.to_string())?.forget();
                        out.extend_from_slice(&pdus.next().unwrap_or_default());
                    }
                    Some(sequence) = acks.recv() => push_ack(&mut out, sequence),
                }
            }
        }
        write.write_all(&out).await.map_err(|e| e.to_string())?;
        out.clear();
    }
    let _ = write.shutdown().await;
    Ok(())
}
