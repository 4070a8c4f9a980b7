//! Run one TCP stream through the NIC and the zero-copy write, then check the disk.
//!
//! The sender is paced by the NIC itself (docs/tcp-receive.md): every frame the NIC transmits
//! comes out of [`crate::Bench::wire`] and is parsed with etherparse; the sender
//! keeps the highest acknowledgment number and the latest window, and sends (in scenario order)
//! the frames whose data ends at or before `ack + window`. The stream starts with the client's
//! SYN; nothing else of the connection is sent before the NIC's SYN-ACK arrives and checks out.
//!
//! Like any TCP sender it recovers from what the NIC did not take (a segment trimmed or dropped
//! because the window shrank while it was on the wire): when the NIC has been silent for
//! [`RunOptions::rto_cycles`] with nothing left on the wire, the frame holding the first
//! unacknowledged byte is sent again, and in that recovery every partial ACK re-sends the frame
//! at the new ACK at once (NewReno). When everything sent is acknowledged but the window is too
//! small for the next frame, or the window is closed (zero), the NIC sends no window update of
//! its own, so the sender probes as Linux does: a pure ACK one byte left of the window (`SEQ = ack - 1`), which the NIC answers
//! with an ACK carrying its window and counts as an OUT_OF_WINDOW drop. Both are counted in the
//! report (`retransmits`, `probes`). A run that stops making progress is an error.
//!
//! At the end the socket is deleted (SOCK_DEL returns its named buffers first), and every
//! buflet must be back on the free list.
//!
//! The NAS application on top ([`Protocol`]) writes the file: the whole stream at offset 0
//! (raw), each SMB2 WRITE's data at its file offset (`buflet_nas::app::Smb2App`), or each
//! BFW1 record's data at its file offset (`buflet_nas::app::FramedApp`). The file
//! is one extent of a raw disk image, or a file of a real ext2/ext4 file system
//! ([`RunOptions::fs`]) whose blocks come from the file system's own metadata; then it is read
//! back (and, on a file system, checked by `e2fsck -fn` and read by `debugfs cat`) and compared
//! with the file known from the scenario alone ([`Scenario::expected_file`]).
//!
//! With [`RunOptions::pcap_out`] every frame on the wire, both directions, is written to a
//! classic pcap file, which `buflet replay` (and [`crate::pcap::load`]) reads back.

use crate::pcap::{segment_ok, tcp_info, Capture, TcpInfo};
use crate::sparse::SparseFile;
use crate::{frames, sha256_hex, Backend, Bench, TbError};
use buflet_driver::{Counters, Driver, SocketSpec};
use buflet_fs::{FsCheck, FsFile, FsKind};
use buflet_nas::server::App;
use buflet_nas::{AppKind, ExtentFile, FileMap, NasServer, ServerConfig, WriteMode, WriteStats};
use buflet_platform::{BlockDevice, DeviceConfig, DiskMode};
use buflet_spec::reg;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

mod multi;
mod report;
mod run;
mod scenario;
mod sender;
mod store;
pub use multi::*;
pub use report::*;
pub use run::*;
pub use scenario::*;
use sender::*;
use store::*;
