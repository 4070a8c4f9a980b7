//! The NAS's answers to its client over the NIC's send side (docs/tcp-transmit.md, "The NAS
//! answers"; issue 12, in progress): BFW1 `WRITE_ACK` records, each sent once the record's
//! data is durable on the block device, in record order. (`READ_DATA`, the zero-copy read
//! answer, is not built yet.)
//!
//! A 24-byte header is written by the CPU into a scratch page and handed to the NIC with
//! [`Driver::tx_send`], which copies a partial page into a bounce page (24 bytes of CPU copy
//! per answer) and posts that by reference. At most [`MAX_POSTS`] answers are in the NIC at
//! once; one refused with `NO_POST` (the NIC's post table full) is sent again.

use std::collections::VecDeque;

use buflet_driver::{Completion, CplKind, Driver, DriverError};
use buflet_spec::{Opcode, Status};

use crate::framed::{header_of, Kind, HDR};

/// Answers posted and not yet acknowledged, at most.
pub const MAX_POSTS: usize = 64;

/// Failures of the answer path.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The driver failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The NIC refused or gave back an answer (the connection was reset, or a bad post).
    #[error("an answer to the client was not sent: {0}")]
    Refused(String),
}

/// What the answer path did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct AnswerStats {
    /// `WRITE_ACK` records handed to the NIC.
    pub write_acks: u64,
    /// Of them, acknowledged by the client (their `TX_DONE` came back OK).
    pub write_acks_done: u64,
    /// Answers sent again after the NIC's post table was full (`NO_POST`).
    pub reposts: u64,
}

/// The answer queue of one connection.
pub struct Answers {
    sock: u16,
    /// A page the headers are written into before they are sent.
    scratch: u64,
    /// Headers waiting for room in the NIC.
    queue: VecDeque<[u8; HDR as usize]>,
    /// Posted answers by tag, oldest first (a `TX_DONE` covers the oldest ones).
    posted: VecDeque<(u32, [u8; HDR as usize])>,
    /// The first failure.
    failure: Option<String>,
    /// Counters.
    pub stats: AnswerStats,
}

impl Answers {
    /// Answers on socket `sock`.
    pub fn new(drv: &mut Driver, sock: u16) -> Result<Self, AnswerError> {
        let page = drv.info.page_bytes as u64;
        let scratch = drv
            .env
            .mem
            .alloc(page, page)
            .map_err(|e| AnswerError::Refused(format!("no host memory for answers: {e}")))?;
        Ok(Answers {
            sock,
            scratch,
            queue: VecDeque::new(),
            posted: VecDeque::new(),
            failure: None,
            stats: AnswerStats::default(),
        })
    }

    /// Queue a `WRITE_ACK` for `len` bytes at `file_off`.
    pub fn write_ack(&mut self, len: u64, file_off: u64) {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.queue
            .push_back(header_of(Kind::WriteAck, len, file_off));
        self.stats.write_acks += 1;
    }

    /// Hand the NIC the queued answers it has room for.
    pub fn flush(&mut self, drv: &mut Driver) -> Result<(), AnswerError> {
        while self.posted.len() < MAX_POSTS {
            let Some(h) = self.queue.pop_front() else {
                break;
            };
            drv.env
                .mem
                .write(buflet_platform::Agent::Cpu, self.scratch, &h)
                .map_err(DriverError::from)?;
            let tag = drv.tx_send(self.sock, self.scratch, HDR as u32, true)?;
            self.posted.push_back((tag, h));
        }
        Ok(())
    }

    /// Take a completion that concerns the answers (`TX_DONE` of this socket, a refused
    /// `TX_POST`); `false` when it is not one.
    pub fn handle(&mut self, c: &Completion) -> bool {
        if c.sock_ref != self.sock {
            return false;
        }
        match c.kind {
            CplKind::TxDone => {
                // One completion covers the oldest `ref_num` posts.
                for _ in 0..c.ref_num {
                    if self.posted.pop_front().is_none() {
                        break;
                    }
                }
                if c.status == Status::Ok {
                    self.stats.write_acks_done += u64::from(c.ref_num);
                } else {
                    self.failure.get_or_insert(format!(
                        "{} answers came back {:?}: the connection ended before the client had them",
                        c.ref_num, c.status
                    ));
                }
                true
            }
            CplKind::CmdDone if c.opcode == Opcode::TxPost.code() => {
                if let Some(i) = self.posted.iter().position(|p| p.0 == c.tag) {
                    let (_, h) = self.posted.remove(i).expect("posted answer");
                    if c.status == Status::NoPost {
                        // The NIC's post table was full: send it again, in its place.
                        self.queue.push_front(h);
                        self.stats.reposts += 1;
                    } else {
                        self.failure
                            .get_or_insert(format!("the NIC refused an answer: {:?}", c.status));
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Every answer queued so far has been sent and acknowledged by the client.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.posted.is_empty()
    }

    /// The first failure, if any.
    pub fn failed(&self) -> Option<String> {
        self.failure.clone()
    }
}
