//! History records packed with zstd and a dictionary trained on the history's own records.
//!
//! A finished message without its text is a few hundred bytes of names and numbers that repeat
//! from one message to the next: its kind, state names, reasons, deadline rule, operator,
//! timestamps close together. Compressed alone, so small a record hardly shrinks; with a
//! dictionary of those repeats it shrinks several times (docs/BENCHMARKS.md, "E"). The writer
//! samples the records it writes (without what identifies a person: [`sample_of`]), trains a
//! dictionary, stores it in the `dictionaries` table
//! in the same transaction as the first rows packed with it (so no row names a dictionary the
//! file lacks), and trains a new one every [`Training::retrain_after`] records, so that traffic
//! that changes (new templates, operators) does not leave it behind. Each row names its own
//! dictionary; dictionaries are kept for as long as the file.
//!
//! A packed record is [`PACKED`], the dictionary's id (u16, big-endian) and one zstd frame
//! (with its content size, without checksum or zstd's own dictionary id: SQLite checks pages,
//! and the id is ours). Any other first byte is a record version of `codec`, stored as is
//! (rows written before the first dictionary, and by schemas 1 and 2).

use super::failed;
use crate::message::Message;
use crate::store::error::StoreError;
use crate::store::layout::codec;
use rusqlite::{Connection, OptionalExtension, params};
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use zstd::bulk::Compressor;
use zstd::dict::DecoderDictionary;
use zstd::zstd_safe::{CParameter, DCtx};

/// First byte of a packed record; `codec`'s record versions stay below it.
pub const PACKED: u8 = 0x80;
/// zstd's level: higher levels gain little on records this small and cost the writer more.
const LEVEL: i32 = 3;
/// The largest record unpacked (a guard against a corrupt frame's content size).
const MOST_UNPACKED: usize = 16 << 20;

/// When and how the writer trains a dictionary.
#[derive(Clone, Copy, Debug)]
pub struct Training {
    /// Records sampled for one dictionary.
    pub samples: usize,
    /// The dictionary's size in bytes.
    pub dictionary_bytes: usize,
    /// Records packed with a dictionary before the next is trained.
    pub retrain_after: u64,
}

impl Default for Training {
    fn default() -> Training {
        // zstd's guidance: samples about a hundred times the dictionary's size
        Training {
            samples: 4096,
            dictionary_bytes: 16 * 1024,
            retrain_after: 1_000_000,
        }
    }
}

/// The error of a failed compression or compressor set-up.
fn packing(e: std::io::Error) -> StoreError {
    StoreError::storage(format!("history: packing: {e}"), e)
}

/// A dictionary and the compressor that holds it.
struct Dictionary {
    id: u16,
    compressor: Compressor<'static>,
}

impl Dictionary {
    fn new(id: u16, bytes: &[u8]) -> Result<Dictionary, StoreError> {
        let mut compressor = Compressor::with_dictionary(LEVEL, bytes).map_err(packing)?;
        compressor
            .set_parameter(CParameter::DictIdFlag(false))
            .map_err(packing)?;
        compressor
            .set_parameter(CParameter::ChecksumFlag(false))
            .map_err(packing)?;
        Ok(Dictionary { id, compressor })
    }
}

/// The writer's side: samples, trains and packs.
pub struct Packer {
    training: Training,
    /// The newest dictionary committed to the file.
    current: Option<Dictionary>,
    /// A dictionary trained in the open transaction (committed with it, or forgotten).
    pending: Option<Dictionary>,
    /// Sampled records, end to end, and their lengths.
    samples: (Vec<u8>, Vec<usize>),
    /// Records packed with the newest dictionary.
    packed: u64,
}

impl Packer {
    /// The packer of the file `c` writes, with its newest dictionary.
    pub fn load(c: &Connection, training: Training) -> Result<Packer, StoreError> {
        let newest: Option<(u16, Vec<u8>)> = c
            .query_row(
                "SELECT id, dict FROM dictionaries ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| failed("dictionaries", e))?;
        Ok(Packer {
            training,
            current: newest
                .map(|(id, bytes)| Dictionary::new(id, &bytes))
                .transpose()?,
            pending: None,
            samples: (Vec::new(), Vec::new()),
            packed: 0,
        })
    }

    /// The record of `message` without its text as the messages table stores it, packed once a
    /// dictionary exists (training one in transaction `c` when enough have been sampled).
    pub fn pack(&mut self, c: &Connection, message: &Message) -> Result<Vec<u8>, StoreError> {
        let sampling = self.pending.is_none()
            && match &self.current {
                None => true,
                Some(d) => self.packed >= self.training.retrain_after && d.id < u16::MAX,
            };
        if sampling {
            let sample = codec::encode_record(&sample_of(message))?;
            self.samples.0.extend_from_slice(&sample);
            self.samples.1.push(sample.len());
            if self.samples.1.len() >= self.training.samples {
                self.train(c)?;
            }
        }
        let record = codec::encode_record(&Message {
            text: None,
            ..message.clone()
        })?;
        let Some(dictionary) = self.pending.as_mut().or(self.current.as_mut()) else {
            return Ok(record);
        };
        let frame = dictionary.compressor.compress(&record).map_err(packing)?;
        self.packed += 1;
        let mut out = Vec::with_capacity(3 + frame.len());
        out.push(PACKED);
        out.extend_from_slice(&dictionary.id.to_be_bytes());
        out.extend_from_slice(&frame);
        Ok(out)
    }

    /// Trains a dictionary on the samples and stores it in transaction `c`. A training zstd
    /// refuses (samples too alike or too few) is logged and sampling starts again.
    fn train(&mut self, c: &Connection) -> Result<(), StoreError> {
        let (data, sizes) = std::mem::take(&mut self.samples);
        let bytes = match zstd::dict::from_continuous(&data, &sizes, self.training.dictionary_bytes)
        {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "history: no dictionary trained; records stay unpacked until the next try");
                return Ok(());
            }
        };
        let id = self.current.as_ref().map_or(1, |d| d.id + 1);
        c.execute(
            "INSERT INTO dictionaries (id, dict) VALUES (?1, ?2)",
            params![id, bytes],
        )
        .map_err(|e| failed("dictionaries", e))?;
        self.pending = Some(Dictionary::new(id, &bytes)?);
        self.packed = 0;
        Ok(())
    }

    /// The transaction committed: a dictionary trained in it is the newest.
    pub fn committed(&mut self) {
        if let Some(trained) = self.pending.take() {
            self.current = Some(trained);
        }
    }

    /// The transaction rolled back: a dictionary trained in it is gone, sample again.
    pub fn rolled_back(&mut self) {
        if self.pending.take().is_some() {
            self.packed = self.training.retrain_after;
        }
    }
}

/// What a dictionary may learn from `m`: its shape, not whom it was for or what it said.
/// Dictionaries stay as long as the file, past `erase_texts_after` and `forget_after` of the
/// messages they were trained on, so the recipient keeps only its country and operator code,
/// and the reference, the identification session and every text are left out.
fn sample_of(m: &Message) -> Message {
    let mut sample = Message {
        text: None,
        reference: None,
        recipient: (m.recipient.chars().enumerate())
            .map(|(i, digit)| if i < 4 { digit } else { '0' })
            .collect(),
        ..m.clone()
    };
    sample.extra.otp_session = None;
    sample.extra.follow_up_text = None;
    for reply in &mut sample.extra.replies {
        reply.text = None;
    }
    sample
}

/// A reading connection's side: the dictionaries it has loaded and one decompression context.
#[derive(Default)]
pub struct Unpacker {
    dictionaries: HashMap<u16, DecoderDictionary<'static>>,
    context: Option<DCtx<'static>>,
}

impl Unpacker {
    /// The record a messages row holds, unpacked (dictionaries are read from `c` when first
    /// needed).
    pub fn unpack<'r>(
        &mut self,
        c: &Connection,
        stored: &'r [u8],
    ) -> Result<Cow<'r, [u8]>, StoreError> {
        let corrupt = |why: &str| StoreError::Corrupt(format!("history: packed record: {why}"));
        let Some((&PACKED, rest)) = stored.split_first() else {
            return Ok(Cow::Borrowed(stored));
        };
        let (id, frame) = rest
            .split_at_checked(2)
            .ok_or_else(|| corrupt("truncated"))?;
        let id = u16::from_be_bytes([id[0], id[1]]);
        let dictionary = match self.dictionaries.entry(id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let bytes: Option<Vec<u8>> = c
                    .query_row("SELECT dict FROM dictionaries WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(|e| failed("dictionaries", e))?;
                let bytes = bytes.ok_or_else(|| corrupt(&format!("no dictionary {id}")))?;
                new.insert(DecoderDictionary::copy(&bytes))
            }
        };
        let size = zstd::bulk::Decompressor::upper_bound(frame)
            .filter(|&n| n <= MOST_UNPACKED)
            .ok_or_else(|| corrupt("no size"))?;
        let mut out = Vec::with_capacity(size);
        let context = self.context.get_or_insert_with(DCtx::create);
        context
            .decompress_using_ddict(&mut out, frame, dictionary.as_ddict())
            .map_err(|code| corrupt(zstd::zstd_safe::get_error_name(code)))?;
        Ok(Cow::Owned(out))
    }
}
