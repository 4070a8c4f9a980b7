//! The Buflet NAS application: it receives file writes over TCP through the offload NIC and
//! writes them to the block device without the CPU copying a byte (seed 000). It sits on top of
//! a driver that only drives the device.
//!
//! | part | module |
//! |---|---|
//! | one socket's receive stream in named buffers (payload or, p2p, hold records) | [`stream`] |
//! | file ranges to block-device writes, read-modify-write, ordering, retries | [`writer`] (on [`NasStream`]) |
//! | which blocks and scatter-gather elements a write needs | `plan` |
//! | p2p: held buflet chains and their release | `hold` (on [`NasStream`]) |
//! | where a file's bytes are on disk | [`FileMap`] |
//! | how payload moves ([`WriteMode`]), what a write reports ([`WriteError`], [`WriteStats`]) | [`mode`], [`error`] |
//! | SMB2/3 WRITE requests over NetBIOS session framing (port 445) | [`smb2`] |
//! | Buflet's own framed write protocol (BFW1) | [`framed`] |
//! | the applications that feed the writer as data arrives (raw stream, SMB2, BFW1) | [`app`] |
//! | one connection's run loop: socket, stream, application, file | [`server`] |
//! | many connections: listen, accept pool, dispatch by socket and tag, one file each | [`multi`] |
//! | an iSCSI target on seed 003's logical unit | [`iscsi`] |

pub mod answer;
pub mod app;
mod bounce;
pub mod error;
pub mod filemap;
pub mod framed;
mod hold;
pub mod iscsi;
pub mod mode;
pub mod multi;
mod plan;
pub mod server;
pub mod smb2;
pub mod stream;
pub mod writer;

pub use error::{BlockOp, WriteCallback, WriteError, WriteStats};
pub use filemap::{ExtentFile, FileMap};
pub use mode::*;
pub use multi::{ConnId, ConnSummary, FileAlloc, MultiConfig, MultiServer};
pub use server::{AppKind, NasServer, ServeError, ServerConfig};
pub use stream::NasStream;
