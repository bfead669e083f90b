//! The load generator: one transceiver bind keeping `window` submit_sm outstanding.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use rusmpp::extra::encoding::gsm7bit::Gsm7BitUnpacked;
use rusmpp::extra::encoding::ucs2::Ucs2;
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandStatus, Pdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::codec::{Encoder, Framed};

use crate::Args;

const SUBMIT_SM_RESP: u32 = 0x8000_0004;
const DELIVER_SM: u32 = 0x0000_0005;

/// What one run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// submit_sm answered ESME_ROK.
    pub answered: u64,
    /// submit_sm answered with an error.
    pub refused: u64,
    /// Receipts received.
    pub receipts: u64,
    /// From the first submit to the last submit_sm_resp.
    pub submits_done: Duration,
    /// From the first submit to the last receipt.
    pub receipts_done: Duration,
}

/// Runs the load on a single-threaded runtime of its own.
pub fn run(addr: SocketAddr, args: &Args) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let timeout = Duration::from_secs(args.timeout_secs);
    runtime.block_on(async {
        tokio::time::timeout(timeout, drive(addr, args))
            .await
            .map_err(|_| format!("gave up after {timeout:?}"))?
    })
}

fn encode(command: Command) -> Result<BytesMut, String> {
    let mut buf = BytesMut::new();
    CommandCodec::new()
        .encode(command, &mut buf)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

fn submit_template(args: &Args) -> Result<BytesMut, String> {
    let (bytes, coding) = if args.ucs2 {
        let text = "Сәлеметсіз бе! Әлеуметтік әмиян: қолдау шарасы тағайындалды";
        (
            Ucs2::new()
                .encode_to_vec(text)
                .map_err(|e| format!("{e:?}"))?,
            DataCoding::Ucs2,
        )
    } else {
        let text = "Your one-time code is 482913. It is valid for 5 minutes.";
        let bytes = Gsm7BitUnpacked::new()
            .encode_to_vec(text)
            .map_err(|e| format!("{e:?}"))?;
        (bytes, DataCoding::McSpecific)
    };
    let address = |a: &str| COctetString::from_str(a).map_err(|e| format!("{e:?}"));
    let sm = SubmitSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr(address("egov")?)
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(address("77011234567")?)
        .registered_delivery(RegisteredDelivery::from(u8::from(!args.no_receipts)))
        .data_coding(coding)
        .short_message(OctetString::from_vec(bytes).map_err(|e| format!("{e:?}"))?)
        .build();
    encode(Command::new(CommandStatus::EsmeRok, 0, sm))
}

/// Appends `template` with its sequence number replaced.
fn push(buf: &mut BytesMut, template: &[u8], sequence: u32) {
    let at = buf.len() + 12;
    buf.extend_from_slice(template);
    buf[at..at + 4].copy_from_slice(&sequence.to_be_bytes());
}

async fn drive(addr: SocketAddr, args: &Args) -> Result<Outcome, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, CommandCodec::new());
    let bind = BindTransceiver::builder()
        .system_id(COctetString::from_str("bench").map_err(|e| format!("{e:?}"))?)
        .password(COctetString::from_str("secret").map_err(|e| format!("{e:?}"))?)
        .build();
    framed
        .send(Command::new(CommandStatus::EsmeRok, u32::MAX, bind))
        .await
        .map_err(|e| e.to_string())?;
    match framed.next().await {
        Some(Ok(resp)) if resp.status() == CommandStatus::EsmeRok => {}
        other => return Err(format!("bind failed: {other:?}")),
    }
    let parts = framed.into_parts();
    let (mut read, write) = parts.io.into_split();
    let mut rbuf = parts.read_buf;

    let total = args.submits;
    let credits = Arc::new(Semaphore::new(args.window as usize));
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<u32>();
    let submit = submit_template(args)?;
    let ack = encode(Command::new(
        CommandStatus::EsmeRok,
        0,
        Pdu::from(DeliverSmResp::builder().build()),
    ))?;
    let started = Instant::now();
    let writer = tokio::spawn(write_loop(
        write,
        submit,
        ack,
        total,
        credits.clone(),
        ack_rx,
    ));

    let mut out = Outcome::default();
    loop {
        while rbuf.len() >= 16 {
            let len = u32::from_be_bytes([rbuf[0], rbuf[1], rbuf[2], rbuf[3]]) as usize;
            if len < 16 {
                return Err(format!("bad command_length {len} from the simulator"));
            }
            if rbuf.len() < len {
                break;
            }
            let frame = rbuf.split_to(len);
            let word = |at: usize| {
                u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]])
            };
            let (id, status, sequence) = (word(4), word(8), word(12));
            match id {
                SUBMIT_SM_RESP => {
                    if status == 0 {
                        out.answered += 1;
                    } else {
                        out.refused += 1;
                    }
                    credits.add_permits(1);
                    if out.answered + out.refused == total {
                        out.submits_done = started.elapsed();
                    }
                }
                DELIVER_SM => {
                    out.receipts += 1;
                    out.receipts_done = started.elapsed();
                    let _ = ack_tx.send(sequence);
                }
                _ => {}
            }
        }
        let all_answered = out.answered + out.refused == total;
        let receipts_due = if args.no_receipts { 0 } else { out.answered };
        if all_answered && out.receipts >= receipts_due {
            break;
        }
        rbuf.reserve(64 * 1024);
        let n = read.read_buf(&mut rbuf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the simulator closed the connection".into());
        }
    }
    drop(ack_tx);
    writer.await.map_err(|e| e.to_string())??;
    Ok(out)
}

async fn write_loop(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    submit: BytesMut,
    ack: BytesMut,
    total: u64,
    credits: Arc<Semaphore>,
    mut acks: mpsc::UnboundedReceiver<u32>,
) -> Result<(), String> {
    let mut sent = 0u64;
    let mut sequence = 0u32;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        while let Ok(s) = acks.try_recv() {
            push(&mut buf, &ack, s);
        }
        let free = (credits.available_permits() as u64).min(total - sent);
        if free > 0 {
            if let Ok(permits) = credits.acquire_many(free as u32).await {
                permits.forget();
            }
            for _ in 0..free {
                sequence += 1;
                push(&mut buf, &submit, sequence);
            }
            sent += free;
        }
        if buf.is_empty() {
            if sent == total {
                match acks.recv().await {
                    Some(s) => push(&mut buf, &ack, s),
                    None => break,
                }
            } else {
                tokio::select! {
                    permit = credits.acquire() => {
                        if let Ok(p) = permit {
                            p.forget();
                            sequence += 1;
                            push(&mut buf, &submit, sequence);
                            sent += 1;
                        }
                    }
                    Some(s) = acks.recv() => push(&mut buf, &ack, s),
                }
            }
        }
        write.write_all(&buf).await.map_err(|e| e.to_string())?;
        buf.clear();
    }
    let _ = write.shutdown().await;
    Ok(())
}
