//! The host's view shared by both sides: tags, slots, posted buffers, hold records, and the request entries each step becomes.

use super::*;

/// What a step does on a side.
#[derive(Debug, Clone)]
pub(super) enum Action {
    /// The CPU writes host memory (a scatter-gather list).
    Mem { addr: u64, data: Vec<u8> },
    /// A request entry goes on the ring.
    Req([u8; 64]),
    /// Frames are queued on the wire.
    Frames(Vec<Vec<u8>>),
    /// A register write.
    Reg { addr: u32, value: u32 },
    /// Periodic timer ticks: TIMER_PERIOD = `period` until `ticks` more ticks were taken
    /// (CNT_TICKS, polled), then TIMER_PERIOD = 0.
    Ticks { period: u32, ticks: u32 },
    /// A TX_POST through the driver (`Driver::tx_post`: it writes the page list, holds the
    /// pages and marks them copy-on-write until their TX_DONE).
    TxPost {
        sock: u16,
        list: u64,
        pages: Vec<u64>,
        first_off: u16,
        len: u32,
        psh: bool,
    },
    /// A DEVMEM TX_POST through the driver (`Driver::tx_post_dev`: host buflets).
    TxPostDev {
        sock: u16,
        buflets: Vec<u16>,
        first_off: u16,
        len: u32,
        psh: bool,
    },
}

/// Host buflets each region of a case's p2p reads spans (the posts' region is the top one,
/// the reads' region the next).
const DEV_REGION: u32 = 8;

/// The host's view, kept from side A's completions (they equal side B's while the case runs).
#[derive(Debug, Clone)]
pub(super) struct Host {
    pub(super) next_tag: u32,
    pub(super) num_nbs: u32,
    pub(super) live: BTreeSet<u16>,
    pub(super) nb_free: BTreeSet<u32>,
    pub(super) nb_busy: BTreeSet<u32>,
    /// NB_POST tag -> the slot reserved for it.
    pub(super) posts: BTreeMap<u32, u32>,
    pub(super) num_anon: u32,
    pub(super) anon_free: BTreeSet<u32>,
    pub(super) anon_busy: BTreeSet<u32>,
    /// ANON_POST tag -> the slot reserved for it.
    pub(super) anon_posts: BTreeMap<u32, u32>,
    /// Sockets added with HOLD (p2p, docs/p2p.md).
    pub(super) hold_socks: BTreeSet<u16>,
    /// NB_POST tags of posts over the slot's own (registered) page list: only their records
    /// landed in host memory.
    pub(super) good_posts: BTreeSet<u32>,
    /// Held chain heads from hold records, oldest first, not yet released, each with the id
    /// of the extent whose record reported it.
    pub(super) held: VecDeque<(u16, u64)>,
    /// Buflet extents from hold records, oldest first, not yet written by a DEVMEM block
    /// write. An extent is dropped once its bytes may be gone: when a head reported at or after
    /// it is released (its chain may be reused), or when its socket is deleted before its
    /// segment ended (the device freed that segment).
    pub(super) extents: VecDeque<Extent>,
    /// Id of the next extent.
    pub(super) next_extent: u64,
    /// Per hold socket, the id of its last extent that ended a segment.
    pub(super) last_end: BTreeMap<u16, u64>,
    /// Next free page and page list of the send pool.
    pub(super) tx_page: u64,
    pub(super) tx_list: u64,
    /// Per socket, the tags of its TX_POSTs not yet returned, oldest first (a refusal's
    /// CMD_DONE removes its tag, a TX_DONE the oldest COUNT).
    pub(super) tx_out: BTreeMap<u16, VecDeque<u32>>,
    /// Active opens (SOCK_ADD with CONNECT) whose CMD_DONE has not come: tag -> socket. The
    /// socket counts as live from the request on (it exists in SYN_SENT).
    pub(super) connects: BTreeMap<u32, u16>,
    /// Accepted sockets (docs/tcp-receive.md, "Listening sockets"), from their ACCEPT
    /// completions whatever the status: (peer IPv4, peer port) -> socket. Live until deleted.
    pub(super) accepted: BTreeMap<(u32, u16), u16>,
}

/// A run of payload bytes in buflet memory, from a hold record (docs/p2p.md).
#[derive(Debug, Clone, Copy)]
pub(super) struct Extent {
    pub(super) buflet: u16,
    pub(super) off: u16,
    pub(super) len: u16,
    pub(super) sock: u16,
    pub(super) id: u64,
}

impl Host {
    pub(super) fn new(num_nbs: u32, num_anon: u32) -> Self {
        Host {
            next_tag: HOST_TAG0,
            num_nbs,
            live: BTreeSet::new(),
            nb_free: (0..num_nbs).collect(),
            nb_busy: BTreeSet::new(),
            posts: BTreeMap::new(),
            num_anon,
            anon_free: (0..num_anon).collect(),
            anon_busy: BTreeSet::new(),
            anon_posts: BTreeMap::new(),
            hold_socks: BTreeSet::new(),
            good_posts: BTreeSet::new(),
            held: VecDeque::new(),
            extents: VecDeque::new(),
            next_extent: 0,
            last_end: BTreeMap::new(),
            tx_page: 0,
            tx_list: 0,
            tx_out: BTreeMap::new(),
            connects: BTreeMap::new(),
            accepted: BTreeMap::new(),
        }
    }

    /// The socket accepted for this peer, as the host learned it.
    fn accepted_sock(&self, ip: [u8; 4], port: u16) -> Option<u16> {
        self.accepted.get(&(u32::from_be_bytes(ip), port)).copied()
    }

    /// A TX_POST went through the driver with this tag.
    pub(super) fn tx_posted(&mut self, sock: u16, tag: u32) {
        self.tx_out.entry(sock).or_default().push_back(tag);
    }

    /// Posts not returned: (socket, tags).
    pub(super) fn tx_outstanding(&self) -> Vec<(u16, Vec<u32>)> {
        self.tx_out
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(&s, q)| (s, q.iter().copied().collect()))
            .collect()
    }

    /// The hold records of a returned named buffer of a hold socket: read from side A's host
    /// memory (record r at page[8r / 4096] + 8r mod 4096) until their lengths add up to the
    /// completion's BYTES; their heads and extents are remembered.
    pub(super) fn read_records(&mut self, c: &Completion, mem: &mut HostMemory, lay: &Layout) {
        let Some(pages) = lay.nb_pages.get(c.ref_num as usize) else {
            return;
        };
        let per_page = (4096 / hold_rec::SIZE) as u64;
        let (mut sum, mut r) = (0u64, 0u64);
        while sum < c.bytes as u64 {
            let Some(&page) = pages.get((r / per_page) as usize) else {
                return;
            };
            let mut b = [0u8; hold_rec::SIZE];
            let at = page + (r % per_page) * hold_rec::SIZE as u64;
            if mem.read(Agent::Cpu, at, &mut b).is_err() {
                return;
            }
            let Ok(rec) = HoldRec::parse(&b) else {
                return;
            };
            let len = u64::from(rec.len);
            if len == 0 {
                return;
            }
            let id = self.next_extent;
            self.next_extent += 1;
            self.extents.push_back(Extent {
                buflet: rec.buflet,
                off: rec.off,
                len: rec.len,
                sock: c.sock_ref,
                id,
            });
            if let Some(head) = rec.held_head() {
                self.held.push_back((head, id));
                self.last_end.insert(c.sock_ref, id);
            }
            sum += len;
            r += 1;
        }
    }

    pub(super) fn anon_release(&mut self, tag: u32) {
        if let Some(r) = self.anon_posts.remove(&tag) {
            if self.anon_busy.remove(&r) {
                self.anon_free.insert(r);
            }
        }
    }

    pub(super) fn tag(&mut self) -> u32 {
        let t = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1).max(HOST_TAG0);
        t
    }

    pub(super) fn absorb(&mut self, cpls: &[Completion], mem: &mut HostMemory, lay: &Layout) {
        for c in cpls {
            match c.kind {
                CplKind::NbReturn => {
                    if self.good_posts.remove(&c.tag) && self.hold_socks.contains(&c.sock_ref) {
                        self.read_records(c, mem, lay);
                    }
                    self.posts.remove(&c.tag);
                    if self.nb_busy.remove(&c.ref_num) {
                        self.nb_free.insert(c.ref_num);
                    }
                }
                CplKind::AnonRx => self.anon_release(c.tag),
                CplKind::Accept => {
                    // The slot is in use until SOCK_DEL, whatever the status.
                    self.accepted
                        .insert((c.ref_num, c.bytes as u16), c.sock_ref);
                    self.live.insert(c.sock_ref);
                    self.hold_socks.remove(&c.sock_ref);
                }
                CplKind::TxDone => {
                    if let Some(q) = self.tx_out.get_mut(&c.sock_ref) {
                        let n = (c.ref_num as usize).min(q.len());
                        q.drain(..n);
                    }
                }
                CplKind::CmdDone => match Opcode::try_from(c.opcode) {
                    Ok(Opcode::AnonPost) => self.anon_release(c.tag),
                    Ok(Opcode::NbPost) => {
                        if let Some(r) = self.posts.remove(&c.tag) {
                            if self.nb_busy.remove(&r) {
                                self.nb_free.insert(r);
                            }
                        }
                    }
                    Ok(Opcode::TxPost) => {
                        // Refused (an accepted post completes with TX_DONE).
                        if let Some(q) = self.tx_out.get_mut(&c.sock_ref) {
                            q.retain(|&t| t != c.tag);
                        }
                    }
                    Ok(Opcode::SockAdd) if self.connects.contains_key(&c.tag) => {
                        // An active open ended: established, refused by the peer or timed
                        // out, the socket stays until SOCK_DEL; refused by the device, it
                        // never existed.
                        self.connects.remove(&c.tag);
                        if !matches!(c.status, Status::Ok | Status::Reset | Status::Timeout) {
                            self.live.remove(&c.sock_ref);
                        }
                    }
                    Ok(Opcode::SockAdd) if c.is_ok() => {
                        self.live.insert(c.sock_ref);
                    }
                    Ok(Opcode::SockDel) if c.is_ok() => {
                        self.live.remove(&c.sock_ref);
                        self.accepted.retain(|_, s| *s != c.sock_ref);
                        self.connects.retain(|_, s| *s != c.sock_ref);
                        // Its partly delivered segment was freed with it.
                        let end = self.last_end.remove(&c.sock_ref);
                        self.extents
                            .retain(|e| e.sock != c.sock_ref || Some(e.id) <= end);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    /// Turn a step into actions, updating the host's view (tags, reserved slots).
    pub(super) fn plan(&mut self, step: &Step, lay: &Layout) -> Vec<Action> {
        match step {
            Step::AddSocket(p) => {
                if p.flags.contains(SockFlags::HOLD) {
                    self.hold_socks.insert(p.sock_ref);
                } else {
                    self.hold_socks.remove(&p.sock_ref);
                }
                let e = self.sock_add(p);
                if p.flags.contains(SockFlags::CONNECT) && !self.live.contains(&p.sock_ref) {
                    let tag = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
                    self.connects.insert(tag, p.sock_ref);
                    self.live.insert(p.sock_ref);
                }
                vec![Action::Req(e)]
            }
            Step::TxPost(t) if t.dev && t.bad.is_none() => self.tx_post_dev(t, lay),
            Step::TxPost(t) => self.tx_post(t, lay),
            Step::HostBuflets { n } => vec![Action::Reg {
                addr: reg::HOST_BUFLETS,
                value: *n,
            }],
            Step::DevRead(d) => self.dev_read(d, lay),
            Step::SockAbort { sock } => {
                let mut e = self.hdr(Opcode::SockClose.code(), *sock);
                e[1] = buflet_spec::CloseFlags::ABORT.bits();
                vec![Action::Req(e)]
            }
            Step::SockClose { sock } => {
                vec![Action::Req(self.hdr(Opcode::SockClose.code(), *sock))]
            }
            Step::TxPolicy {
                rto_init,
                rto_min,
                rto_max,
                retries,
            } => [
                (reg::RTO_INIT, *rto_init),
                (reg::RTO_MIN, *rto_min),
                (reg::RTO_MAX, *rto_max),
                (reg::TX_RETRIES, *retries),
            ]
            .into_iter()
            .map(|(addr, value)| Action::Reg { addr, value })
            .collect(),
            Step::Release { bad } => self.release(*bad).into_iter().collect(),
            Step::DelSocket { sock } => {
                vec![Action::Req(self.hdr(Opcode::SockDel.code(), *sock))]
            }
            Step::Nop => vec![Action::Req(self.hdr(Opcode::Nop.code(), 0))],
            Step::BadOpcode { opcode } => vec![Action::Req(self.hdr(*opcode, 0))],
            Step::PostNb(n) => self.nb_post(n, lay).into_iter().collect(),
            Step::BlkWrite(b) => self.blk_write(b, lay),
            Step::PostAnon(a) => self.anon_post(a, lay).into_iter().collect(),
            Step::NicAddr { mac, ip } => vec![
                Action::Reg {
                    addr: reg::NIC_MAC_LO,
                    value: u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
                },
                Action::Reg {
                    addr: reg::NIC_MAC_HI,
                    value: u16::from_le_bytes([mac[4], mac[5]]) as u32,
                },
                Action::Reg {
                    addr: reg::NIC_IP,
                    value: u32::from_be_bytes(*ip),
                },
            ],
            Step::TimerKick => vec![Action::Reg {
                addr: reg::TIMER_KICK,
                value: 1,
            }],
            Step::TimerTicks { period, ticks } => vec![Action::Ticks {
                period: *period,
                ticks: *ticks,
            }],
            Step::Listen(l) => {
                let mut e = [0u8; 64];
                ListenParams {
                    tag: self.tag(),
                    ..*l
                }
                .emit(&mut e);
                vec![Action::Req(e)]
            }
            Step::Unlisten { slot } => {
                vec![Action::Req(self.hdr(Opcode::SockUnlisten.code(), *slot))]
            }
            Step::Pool { sock } => vec![Action::Req(self.hdr(Opcode::SockPool.code(), *sock))],
            Step::HalfOpenMax { n } => vec![Action::Reg {
                addr: reg::HALF_OPEN_MAX,
                value: *n,
            }],
            Step::AcceptedNb {
                peer_ip,
                peer_port,
                pages,
            } => {
                let Some(sock) = self.accepted_sock(*peer_ip, *peer_port) else {
                    return Vec::new();
                };
                let pages = (*pages).clamp(1, MAX_NB_PAGES);
                let n = NbPost {
                    sock,
                    slot: NbSlot::Free,
                    pages,
                    total_bytes: pages * param::PAGE_BYTES as u32,
                    list: PageList::Good,
                    timeout: 0,
                };
                self.nb_post(&n, lay).into_iter().collect()
            }
            Step::AcceptedDel {
                peer_ip,
                peer_port,
                repool,
            } => {
                let Some(sock) = self.accepted_sock(*peer_ip, *peer_port) else {
                    return Vec::new();
                };
                let mut v = vec![Action::Req(self.hdr(Opcode::SockDel.code(), sock))];
                if *repool {
                    v.push(Action::Req(self.hdr(Opcode::SockPool.code(), sock)));
                }
                v
            }
            Step::Frame(f) => vec![Action::Frames(vec![f.bytes.clone()])],
            Step::Burst(fs) => vec![Action::Frames(fs.iter().map(|f| f.bytes.clone()).collect())],
        }
    }

    /// A TX_POST: whole pages from the send pool filled with the post's seeded bytes, then
    /// the driver's `tx_post` (or, for DEVMEM, the host's own entry: the driver has no p2p
    /// post). Nothing when the pool is used up.
    pub(super) fn tx_post(&mut self, t: &TxPost, lay: &Layout) -> Vec<Action> {
        let page = param::PAGE_BYTES;
        let first_off = match t.bad {
            Some(TxBad::FirstOffPastPage) => t.first_off.max(page as u16),
            _ => t.first_off % page as u16,
        };
        let len = match t.bad {
            Some(TxBad::ZeroLen) => 0,
            Some(TxBad::HugeLen) => (1 << 30) + t.bytes.max(1),
            _ => t.bytes,
        };
        // Pages the request names: what FIRST_OFF + LEN needs (one fewer for ShortList; a
        // huge or zero length names one page, a first offset past the page two).
        let need = match t.bad {
            Some(TxBad::ZeroLen) | Some(TxBad::HugeLen) => 1,
            Some(TxBad::FirstOffPastPage) => 2,
            _ => (u64::from(first_off) + u64::from(len))
                .div_ceil(page)
                .max(1),
        };
        let n = match t.bad {
            Some(TxBad::ShortList) if need > 1 => need - 1,
            Some(TxBad::ShortList) => {
                // One page is the least a list can name: make the post need two.
                1
            }
            _ => need,
        };
        let len = if t.bad == Some(TxBad::ShortList) && need == 1 {
            (page - u64::from(first_off)) as u32 + len.max(1)
        } else {
            len
        };
        if n * 8 > TX_LIST_BYTES
            || self.tx_page + n > TX_POOL_PAGES
            || self.tx_list >= TX_LIST_SLOTS
        {
            return Vec::new();
        }
        let mut pages: Vec<u64> = (0..n)
            .map(|k| lay.tx_pool + (self.tx_page + k) * page)
            .collect();
        self.tx_page += n;
        if t.scatter {
            pages.reverse();
        }
        let list = lay.tx_lists + self.tx_list * TX_LIST_BYTES;
        self.tx_list += 1;
        let mut bytes = crate::frames::payload(t.seed, (n * page) as usize);
        // The CPU's own bytes (an iSCSI header) over the first seeded ones, within LEN.
        let at = usize::from(first_off).min(bytes.len());
        let k = t.head.len().min(len as usize).min(bytes.len() - at);
        bytes[at..at + k].copy_from_slice(&t.head[..k]);
        let mut out: Vec<Action> = pages
            .iter()
            .zip(bytes.chunks(page as usize))
            .map(|(&addr, d)| Action::Mem {
                addr,
                data: d.to_vec(),
            })
            .collect();
        if t.bad == Some(TxBad::Devmem) {
            // DEVMEM with FIRST_OFF past the buflet (a DEVMEM list entry covers a buflet):
            // refused, BAD_NB.
            let first_off = first_off.max(lay.buflet_bytes as u16);
            let l: Vec<u8> = pages.iter().flat_map(|a| a.to_le_bytes()).collect();
            out.push(Action::Mem {
                addr: list,
                data: l,
            });
            let e = TxDesc {
                opcode: Opcode::TxPost,
                flags: TxFlags::DEVMEM
                    | if t.psh {
                        TxFlags::PSH
                    } else {
                        TxFlags::empty()
                    },
                sock_ref: t.sock,
                tag: self.tag(),
                len,
                first_off,
                hmd_addr: list,
                hmd_pages: n as u32,
                ..Default::default()
            }
            .to_bytes();
            out.push(Action::Req(e));
            return out;
        }
        out.push(Action::TxPost {
            sock: t.sock,
            list,
            pages,
            first_off,
            len,
            psh: t.psh,
        });
        out
    }

    /// A DEVMEM post of the posts' region: `FIRST_OFF` modulo BUFLET_BYTES, the buflets its
    /// bytes need (at most the region), in a rotated order.
    pub(super) fn tx_post_dev(&mut self, t: &TxPost, lay: &Layout) -> Vec<Action> {
        let bb = lay.buflet_bytes;
        let first_off = (u64::from(t.first_off) % bb) as u16;
        let max = DEV_REGION as u64 * bb - u64::from(first_off);
        let len = (u64::from(t.bytes).clamp(1, max)) as u32;
        let n = (u64::from(first_off) + u64::from(len)).div_ceil(bb) as u32;
        let top = lay.num_buflets - 1;
        let rot = (t.seed % u64::from(DEV_REGION)) as u32;
        let buflets = (0..n)
            .map(|k| (top - (k + rot) % DEV_REGION) as u16)
            .collect();
        vec![Action::TxPostDev {
            sock: t.sock,
            buflets,
            first_off,
            len,
            psh: t.psh,
        }]
    }

    /// A BLK_READ whose elements put each buflet-sized piece of the blocks into a host buflet
    /// of its region (DEVMEM), or a broken one.
    pub(super) fn dev_read(&mut self, d: &DevRead, lay: &Layout) -> Vec<Action> {
        let bb = lay.buflet_bytes;
        if bb == 0 || 4096 % bb != 0 {
            return Vec::new();
        }
        let base = lay.num_buflets - 1 - if d.post_region { 0 } else { DEV_REGION };
        let pieces = u64::from(d.blocks.clamp(1, 4)) * (4096 / bb);
        let mut els: Vec<(u64, u32, u32, u64)> = (0..pieces)
            .map(|k| {
                let b = u64::from(base - (k as u32 + d.first) % DEV_REGION);
                (
                    b * bb,
                    bb as u32,
                    SgFlags::DEVMEM.bits(),
                    d.lba * 512 + k * bb,
                )
            })
            .collect();
        match d.bad {
            Some(DevBad::Misaligned) => els[0].0 += 32,
            Some(DevBad::NotHost) => els[0].0 = 0,
            Some(DevBad::Zero) => els[0].2 |= SgFlags::ZERO.bits(),
            Some(DevBad::Crosses) => els[0].0 += 64,
            None => {}
        }
        let bytes = pieces * bb;
        self.blk_req(Opcode::BlkRead, &els, bytes, els.len() as u64, lay)
    }

    pub(super) fn hdr(&mut self, opcode: u8, sock: u16) -> [u8; 64] {
        let mut e = [0u8; 64];
        ReqHdr {
            opcode,
            sock_ref: sock,
            tag: self.tag(),
            ..Default::default()
        }
        .emit(&mut e);
        e
    }

    pub(super) fn sock_add(&mut self, p: &SockParams) -> [u8; 64] {
        let mut e = [0u8; 64];
        SockParams {
            tag: self.tag(),
            ..*p
        }
        .emit(&mut e);
        e
    }

    pub(super) fn nb_post(&mut self, n: &NbPost, lay: &Layout) -> Option<Action> {
        let (ref_num, reserve) = match n.slot {
            NbSlot::Free => (*self.nb_free.iter().next()?, true),
            NbSlot::Busy => (*self.nb_busy.iter().next()?, false),
            NbSlot::Raw(r) => (r, false),
        };
        let list = n.list;
        let hmd = match list {
            PageList::Good => lay
                .nb_hmd
                .get(ref_num as usize)
                .or(lay.nb_hmd.first())
                .copied()
                .unwrap_or(0),
            PageList::UnregisteredPage => lay.bad_page_hmd,
            PageList::UnregisteredList => lay.unreg_list,
        };
        let tag = self.tag();
        if reserve && ref_num < self.num_nbs {
            self.nb_free.remove(&ref_num);
            self.nb_busy.insert(ref_num);
            self.posts.insert(tag, ref_num);
            if list == PageList::Good {
                self.good_posts.insert(tag);
            }
        }
        let e = NbDesc {
            opcode: Opcode::NbPost,
            sock_ref: n.sock,
            tag,
            ref_num,
            timeout: n.timeout,
            total_bytes: n.total_bytes,
            next_nb: spec::NULL16,
            prev_nb: spec::NULL16,
            hmd_addr: hmd,
            hmd_pages: n.pages,
            ..Default::default()
        }
        .to_bytes();
        Some(Action::Req(e))
    }

    pub(super) fn anon_post(&mut self, a: &AnonPost, lay: &Layout) -> Option<Action> {
        let (ref_num, reserve) = match a.slot {
            AnonSlot::Free => (*self.anon_free.iter().next()?, true),
            AnonSlot::Busy => (*self.anon_busy.iter().next()?, false),
            AnonSlot::Raw(r) => (r, false),
        };
        let addr = lay
            .anon
            .get(ref_num as usize)
            .or(lay.anon.first())
            .copied()
            .unwrap_or(0);
        let tag = self.tag();
        // A post the device will refuse for its length frees the slot with its CMD_DONE.
        if reserve && ref_num < self.num_anon {
            self.anon_free.remove(&ref_num);
            self.anon_busy.insert(ref_num);
            self.anon_posts.insert(tag, ref_num);
        }
        let e = AnonDesc {
            opcode: Opcode::AnonPost,
            tag,
            ref_num,
            len: a.len,
            addr,
            ..Default::default()
        }
        .to_bytes();
        Some(Action::Req(e))
    }

    /// OP_BUF_RELEASE of the oldest held heads (docs/p2p.md), broken as `bad` says.
    pub(super) fn release(&mut self, bad: Option<RelBad>) -> Option<Action> {
        let max = param::RELEASE_MAX as usize;
        let mut heads: Vec<u16> = Vec::new();
        let mut count = match bad {
            Some(RelBad::CountZero) => 0,
            Some(RelBad::CountOver) => param::RELEASE_MAX + 1,
            _ => {
                let room = if bad.is_some() { max - 1 } else { max };
                // Chains whose extents were all written go first; while more than
                // HOLD_KEEP chains are held, older ones go too (their unwritten extents are
                // dropped), so the pool never starves.
                while heads.len() < room {
                    let written = self.extents.front().map_or(u64::MAX, |e| e.id);
                    match self.held.front().copied() {
                        Some((h, id)) if id < written || self.held.len() > HOLD_KEEP => {
                            self.held.pop_front();
                            heads.push(h);
                            // The chain may be reused once released: forget every extent up
                            // to the record that reported it (others only lose coverage).
                            self.extents.retain(|e| e.id > id);
                        }
                        _ => break,
                    }
                }
                heads.len() as u64
            }
        };
        match bad {
            Some(RelBad::NotHeld) => {
                heads.push(spec::NULL16);
                count += 1;
            }
            Some(RelBad::Twice) => {
                if let Some(&h) = heads.first() {
                    heads.push(h);
                    count += 1;
                }
            }
            _ => {}
        }
        if count == 0 && bad.is_none() {
            return None;
        }
        let e =
            BufRelease::new(self.tag(), &heads[..heads.len().min(max)], count as u16).to_bytes();
        Some(Action::Req(e))
    }

    /// Elements of DEVMEM blocks over the oldest extents (docs/p2p.md): whole blocks from
    /// `disk`, each padded with a ZERO element when the extents run out, within the SG area.
    pub(super) fn devmem_elems(
        &mut self,
        blocks: u64,
        disk: u64,
        bb: u64,
    ) -> Vec<(u64, u32, u32, u64)> {
        let mut els = Vec::new();
        for k in 0..blocks {
            if els.len() as u64 + 2 > SG_SLOTS || self.extents.is_empty() {
                break;
            }
            let mut d = disk + k * 4096;
            let end = d + 4096;
            while d < end && (els.len() as u64) + 1 < SG_SLOTS {
                let Some(x) = self.extents.pop_front() else {
                    break;
                };
                let n = (x.len as u64).min(end - d);
                els.push((
                    x.buflet as u64 * bb + x.off as u64,
                    n as u32,
                    SgFlags::DEVMEM.bits(),
                    d,
                ));
                if n < x.len as u64 {
                    self.extents.push_front(Extent {
                        off: x.off + n as u16,
                        len: x.len - n as u16,
                        ..x
                    });
                }
                d += n;
            }
            if d < end {
                els.push((0, (end - d) as u32, SgFlags::ZERO.bits(), d));
            }
        }
        els
    }

    pub(super) fn blk_write(&mut self, b: &BlkParams, lay: &Layout) -> Vec<Action> {
        if b.devmem && b.bad.is_none() && !self.extents.is_empty() {
            let mut els = self.devmem_elems(
                b.blocks.clamp(1, MAX_NB_PAGES) as u64,
                b.lba * 512,
                lay.buflet_bytes,
            );
            if b.zero_first {
                // DEVMEM and ZERO exclude each other: BAD_SG.
                els[0].2 |= SgFlags::ZERO.bits();
            }
            // The disk start is block-aligned, so each block's first element starts one.
            let bytes = 4096 * els.iter().filter(|e| e.3 % 4096 == 0).count() as u64;
            return self.blk_actions(&els, bytes, els.len() as u64, lay);
        }
        let pages = lay
            .nb_pages
            .get(b.src_ref as usize % lay.nb_pages.len().max(1))
            .cloned()
            .unwrap_or_default();
        let blocks = b.blocks.clamp(1, MAX_NB_PAGES) as u64;
        let split = b.split || b.bad == Some(BlkBad::Discontiguous);
        // (src, len, flags, disk byte address)
        let mut els: Vec<(u64, u32, u32, u64)> = Vec::new();
        for k in 0..blocks {
            let src = pages.get(k as usize).copied().unwrap_or(0);
            let disk = b.lba * 512 + k * 4096;
            if split {
                els.push((src, 2048, 0, disk));
                els.push((src + 2048, 2048, 0, disk + 2048));
            } else {
                els.push((src, 4096, 0, disk));
            }
        }
        if b.zero_first {
            els[0].2 = SgFlags::ZERO.bits();
        }
        let mut bytes = blocks * 4096;
        let mut sg_max = els.len() as u64;
        match b.bad {
            Some(BlkBad::BytesNotMultiple) => bytes -= 512,
            Some(BlkBad::ZeroLen) => {
                if let Some(l) = els.last_mut() {
                    l.1 = 0;
                }
            }
            Some(BlkBad::Discontiguous) => els[1].3 += 512,
            Some(BlkBad::SgMaxShort) => sg_max -= 1,
            Some(BlkBad::Unregistered) => {
                els[0].0 = lay.unreg_page;
                els[0].2 = 0;
            }
            None => {}
        }
        self.blk_actions(&els, bytes, sg_max, lay)
    }

    /// The SG list `els` (src, len, flags, disk byte address) in the SG area, and the
    /// BLK_WRITE request over it.
    pub(super) fn blk_actions(
        &mut self,
        els: &[(u64, u32, u32, u64)],
        bytes: u64,
        sg_max: u64,
        lay: &Layout,
    ) -> Vec<Action> {
        self.blk_req(Opcode::BlkWrite, els, bytes, sg_max, lay)
    }

    /// A block request of `opcode` over the elements (src, len, flags, disk byte address).
    pub(super) fn blk_req(
        &mut self,
        opcode: Opcode,
        els: &[(u64, u32, u32, u64)],
        bytes: u64,
        sg_max: u64,
        lay: &Layout,
    ) -> Vec<Action> {
        let elems: Vec<SgElem> = els
            .iter()
            .map(|&(src, len, flags, disk)| SgElem {
                src_addr: src,
                len,
                flags: SgFlags::from_bits_retain(flags),
                disk_addr: disk,
                next: 0,
            })
            .collect();
        let list = spec::sg_list(lay.sg, &elems);
        // Hostile lists may describe more than the fields hold: they keep their low bits.
        let e = BlkReq {
            opcode,
            tag: self.tag(),
            sg_addr: lay.sg,
            sg_max: sg_max as u32,
            bytes: bytes as u32,
            ..Default::default()
        }
        .to_bytes();
        vec![
            Action::Mem {
                addr: lay.sg,
                data: list,
            },
            Action::Req(e),
        ]
    }
}
