//! The host side of DMA reads: read requests taken from a model's `m_dma_rd_req_*` port with
//! random backpressure, responses played back in request order on its `s_axis_dma_rd_*` stream,
//! each after a delay and with gaps. All draws come from the test's own random generator, so a
//! test's stimulus stays one seeded sequence.

use crate::*;

/// One DMA read response word: bytes, keep mask, last.
pub type Word = (Vec<u8>, u64, bool);

/// The DMA read ports of a model: its `m_dma_rd_req_*` requests and `s_axis_dma_rd_*`
/// responses (see `dma_rd_ports!`).
#[derive(Debug, Clone, Copy)]
pub struct RdPorts {
    pub req_valid: Port,
    pub req_ready: Port,
    pub req_addr: Port,
    pub req_len: Port,
    pub tdata: Port,
    pub tkeep: Port,
    pub tlast: Port,
    pub tuser: Port,
    pub tvalid: Port,
    pub tready: Port,
}

/// A response in flight: cycles before its first word, the words left, refused (the last word
/// carries `tuser`).
#[derive(Debug)]
struct Response {
    delay: u32,
    words: VecDeque<Word>,
    refused: bool,
}

/// The host's side of a model's DMA reads: takes requests (the test answers each with
/// [`DmaResponder::push`]) and plays the responses, one at a time in the order they were pushed.
///
/// Per cycle, before the evaluation, [`DmaResponder::drive`] raises the request ready with
/// probability 0.5, counts down the front response's delay and then offers its next word with
/// probability 0.7; after the evaluation, [`DmaResponder::request`] tells the request taken, if
/// any, and [`DmaResponder::take`] moves on if the model took the word.
#[derive(Debug)]
pub struct DmaResponder {
    s: RdPorts,
    kw: usize,
    queue: VecDeque<Response>,
    req_ready: bool,
    offered: bool,
}

impl DmaResponder {
    /// A responder on the ports `s`, with words as wide as its `tkeep` has bits.
    pub fn new(s: RdPorts) -> Self {
        DmaResponder {
            kw: s.tkeep.width() as usize,
            s,
            queue: VecDeque::new(),
            req_ready: false,
            offered: false,
        }
    }

    /// Queues the response `data` (cut into words by [`words_of`]), played after `delay`
    /// cycles; `refused` sets `tuser` on its last word.
    pub fn push(&mut self, delay: u32, data: &[u8], refused: bool) {
        self.queue.push_back(Response {
            delay,
            words: words_of(data, self.kw),
            refused,
        });
    }

    /// True when no response is queued or in flight.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Before the evaluation: sets the request ready, and the response's `tvalid` and, when a
    /// word is offered, `tdata`, `tkeep`, `tlast` and `tuser`. Returns whether a word is offered.
    pub fn drive(&mut self, m: &mut Model, rng: &mut impl Rng) -> bool {
        self.req_ready = rng.gen_bool(0.5);
        m.set(self.s.req_ready, self.req_ready as u64);
        self.offered = false;
        if let Some(r) = self.queue.front_mut() {
            if r.delay > 0 {
                r.delay -= 1;
            } else if rng.gen_bool(0.7) {
                let (b, k, l) = r.words.front().expect("a response has words");
                self.offered = true;
                m.set_bytes(self.s.tdata, b);
                m.set_bytes(self.s.tkeep, &k.to_le_bytes());
                m.set(self.s.tlast, *l as u64);
                m.set(self.s.tuser, (*l && r.refused) as u64);
            }
        }
        m.set(self.s.tvalid, self.offered as u64);
        self.offered
    }

    /// After the evaluation: the read request (address, length) taken this cycle, if any.
    pub fn request(&self, m: &Model) -> Option<(u64, u64)> {
        (self.req_ready && m.get(self.s.req_valid) == 1)
            .then(|| (m.get(self.s.req_addr), m.get(self.s.req_len)))
    }

    /// After the evaluation: if the offered word is taken (`tready`), removes it and returns it
    /// with its response's refused flag.
    pub fn take(&mut self, m: &Model) -> Option<(Word, bool)> {
        if !self.offered || m.get(self.s.tready) != 1 {
            return None;
        }
        let r = self.queue.front_mut().expect("an offered response");
        let w = r.words.pop_front().expect("an offered word");
        let refused = r.refused;
        if r.words.is_empty() {
            self.queue.pop_front();
        }
        Some((w, refused))
    }
}
