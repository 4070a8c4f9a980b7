//! The target's PDUs on their way to the initiator through the NIC's send side
//! (docs/tcp-transmit.md): each post is either bytes the CPU wrote (a PDU header with its
//! digest, a small data segment such as sense data or login text, padding) into pages the
//! copy-on-write table says the NIC no longer owns (seed 002), or data by reference: the
//! data-in pages the block engine read into, sent from where they are (zero-copy), or, in p2p,
//! the host buflets the block engine read into inside the NIC (`DEVMEM` posts: the data never
//! enters host memory). Pages come back to the connection's [`PagePool`] with their post's
//! `TX_DONE`, host buflets to the driver ([`PduTx::take_returned_buflets`]).

use std::collections::VecDeque;

use buflet_driver::{Completion, CplKind, Driver, DriverError};
use buflet_platform::Agent;
use buflet_spec::{Opcode, Status};

/// Posts in the NIC at once, at most.
pub const MAX_POSTS: usize = 64;

/// Host pages of one connection: data-in buffers and header pages, reused once the NIC no
/// longer reads them.
pub struct PagePool {
    free: Vec<u64>,
    page: u64,
    total: usize,
    max: usize,
}

impl PagePool {
    /// A pool of at most `max` pages of `page` bytes, allocated as needed.
    pub fn new(page: u64, max: usize) -> Self {
        PagePool {
            free: Vec::new(),
            page,
            total: 0,
            max,
        }
    }

    /// One page the NIC does not own; `Ok(None)` when the pool is used up for now.
    pub fn take(&mut self, drv: &mut Driver) -> Result<Option<u64>, DriverError> {
        if let Some(i) = self.free.iter().position(|&p| !drv.is_marked(p, self.page)) {
            let p = self.free.swap_remove(i);
            return Ok(Some(p));
        }
        if self.total >= self.max {
            return Ok(None);
        }
        let p = drv.env.mem.alloc(self.page, self.page)?;
        self.total += 1;
        Ok(Some(p))
    }

    /// Pages back to the pool.
    pub fn give(&mut self, pages: impl IntoIterator<Item = u64>) {
        self.free.extend(pages);
    }

    /// Give every free page back to host memory (the connection is over). Pages the NIC
    /// still reads are not free, and stay allocated.
    pub fn free_all(&mut self, drv: &mut Driver) {
        for p in self.free.drain(..) {
            drv.env.mem.free(p);
            self.total -= 1;
        }
    }

    /// Page size.
    pub fn page(&self) -> u64 {
        self.page
    }
}

/// One post.
#[derive(Debug)]
pub enum Seg {
    /// Bytes the CPU writes (header, digest, small data, padding).
    Bytes(Vec<u8>),
    /// Data by reference: `len` bytes from `first_off` in `pages` (pool pages, given back
    /// with the post's `TX_DONE`).
    Pages {
        pages: Vec<u64>,
        first_off: u16,
        len: u32,
    },
    /// p2p data by reference: `len` bytes from `first_off` in host buflets (by index).
    Dev {
        buflets: Vec<u16>,
        first_off: u16,
        len: u32,
    },
}

struct Post {
    seg: Seg,
    /// Pages the post holds (given back on `TX_DONE`).
    pages: Vec<u64>,
    /// Host buflets the post holds (given back to the driver on `TX_DONE`).
    buflets: Vec<u16>,
    psh: bool,
}

/// What the sender did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct TxStats {
    /// Posts the initiator acknowledged.
    pub posts_done: u64,
    /// Bytes the CPU wrote into header pages.
    pub cpu_bytes: u64,
    /// Data bytes sent by reference.
    pub ref_bytes: u64,
    /// Of those, bytes sent from host buflets (p2p).
    pub dev_bytes: u64,
    /// Posts sent again after `NO_POST`.
    pub reposts: u64,
}

/// The send queue of one connection.
pub struct PduTx {
    sock: u16,
    queue: VecDeque<Post>,
    posted: VecDeque<(u32, Post)>,
    /// Host buflets whose posts are over, for the driver.
    returned: Vec<u16>,
    failure: Option<String>,
    /// Counters.
    pub stats: TxStats,
}

impl PduTx {
    /// The send queue of socket `sock`.
    pub fn new(sock: u16) -> Self {
        PduTx {
            sock,
            queue: VecDeque::new(),
            posted: VecDeque::new(),
            returned: Vec::new(),
            failure: None,
            stats: TxStats::default(),
        }
    }

    /// Queue bytes the CPU writes; `psh` at the end of a PDU.
    pub fn bytes(&mut self, b: Vec<u8>, psh: bool) {
        if b.is_empty() {
            return;
        }
        self.queue.push_back(Post {
            seg: Seg::Bytes(b),
            pages: Vec::new(),
            buflets: Vec::new(),
            psh,
        });
    }

    /// Queue `len` bytes from `first_off` in `pages` by reference; the pages in `own` go back
    /// to the pool with the post's `TX_DONE` (a page two posts read goes with the later one).
    pub fn pages(&mut self, pages: Vec<u64>, first_off: u16, len: u32, own: Vec<u64>, psh: bool) {
        let held = own;
        self.queue.push_back(Post {
            seg: Seg::Pages {
                pages,
                first_off,
                len,
            },
            pages: held,
            buflets: Vec::new(),
            psh,
        });
    }

    /// p2p: queue `len` bytes from `first_off` in host `buflets` by reference; the buflets in
    /// `own` go back to the driver once the post is over.
    pub fn buflets(
        &mut self,
        buflets: Vec<u16>,
        first_off: u16,
        len: u32,
        own: Vec<u16>,
        psh: bool,
    ) {
        self.queue.push_back(Post {
            seg: Seg::Dev {
                buflets,
                first_off,
                len,
            },
            pages: Vec::new(),
            buflets: own,
            psh,
        });
    }

    /// Host buflets whose posts are over (done or refused), to give back to the driver.
    pub fn take_returned_buflets(&mut self) -> Vec<u16> {
        std::mem::take(&mut self.returned)
    }

    /// Hand the NIC what it has room for.
    pub fn flush(&mut self, drv: &mut Driver, pool: &mut PagePool) -> Result<(), DriverError> {
        while self.posted.len() < MAX_POSTS && self.failure.is_none() {
            let Some(mut post) = self.queue.pop_front() else {
                break;
            };
            let tag = match &post.seg {
                Seg::Bytes(b) => {
                    let page = pool.page();
                    let n = (b.len() as u64).div_ceil(page) as usize;
                    let mut pages = Vec::with_capacity(n);
                    for _ in 0..n {
                        match pool.take(drv)? {
                            Some(p) => pages.push(p),
                            None => break,
                        }
                    }
                    if pages.len() < n {
                        pool.give(pages);
                        self.queue.push_front(post);
                        break;
                    }
                    for (i, chunk) in b.chunks(page as usize).enumerate() {
                        drv.env.mem.write(Agent::Cpu, pages[i], chunk)?;
                    }
                    self.stats.cpu_bytes += b.len() as u64;
                    let frames: Vec<u64> = pages.iter().map(|&p| drv.env.mem.cpu_phys(p)).collect();
                    let len = b.len() as u32;
                    post.pages.extend(pages);
                    drv.tx_post_pages(self.sock, &frames, 0, len, post.psh)?
                }
                Seg::Pages {
                    pages,
                    first_off,
                    len,
                } => {
                    self.stats.ref_bytes += u64::from(*len);
                    drv.tx_post_pages(self.sock, pages, *first_off, *len, post.psh)?
                }
                Seg::Dev {
                    buflets,
                    first_off,
                    len,
                } => {
                    self.stats.ref_bytes += u64::from(*len);
                    self.stats.dev_bytes += u64::from(*len);
                    drv.tx_post_dev(self.sock, buflets, *first_off, *len, post.psh)?
                }
            };
            self.posted.push_back((tag, post));
        }
        Ok(())
    }

    /// Take a completion of this socket's posts; `false` when it is not one.
    pub fn handle(&mut self, c: &Completion, pool: &mut PagePool) -> bool {
        match c.kind {
            CplKind::TxDone if c.sock_ref == self.sock => {
                for _ in 0..c.ref_num {
                    let Some((_, post)) = self.posted.pop_front() else {
                        break;
                    };
                    pool.give(post.pages);
                    self.returned.extend(post.buflets);
                }
                if c.status == Status::Ok {
                    self.stats.posts_done += u64::from(c.ref_num);
                } else {
                    self.failure.get_or_insert(format!(
                        "{} PDUs came back {:?}: the connection ended before the initiator had them",
                        c.ref_num, c.status
                    ));
                }
                true
            }
            CplKind::CmdDone if c.sock_ref == self.sock && c.opcode == Opcode::TxPost.code() => {
                if let Some(i) = self.posted.iter().position(|p| p.0 == c.tag) {
                    if let Some((_, mut post)) = self.posted.remove(i) {
                        if c.status == Status::NoPost {
                            if matches!(post.seg, Seg::Bytes(_)) {
                                // Written again into pages of its own at the next flush.
                                pool.give(std::mem::take(&mut post.pages));
                            }
                            self.queue.push_front(post);
                            self.stats.reposts += 1;
                        } else {
                            pool.give(post.pages);
                            self.returned.extend(post.buflets);
                            self.failure
                                .get_or_insert(format!("the NIC refused a PDU: {:?}", c.status));
                        }
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Posts queued or in the NIC.
    pub fn in_flight(&self) -> usize {
        self.queue.len() + self.posted.len()
    }

    /// Everything queued was sent and acknowledged.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.posted.is_empty()
    }

    /// The first failure.
    pub fn failed(&self) -> Option<String> {
        self.failure.clone()
    }
}
