//! A Linux TAP device as the far end of the wire (`buflet serve --tap`): the kernel's own
//! network stack sends the NIC Ethernet frames and takes its answers, as a real port would.
//!
//! [`Tap::open`] attaches to (or creates) the TAP interface `name`; [`Tap::reader`] starts the
//! thread that reads frames from it and hands them over a crossbeam channel, and
//! [`Tap::send`] writes one frame the NIC transmitted. The interface's addresses and its link
//! state belong to whoever set it up (`scripts/live-clients.sh` does it inside a network
//! namespace); this module only moves frames.

use crossbeam_channel::{bounded, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Largest frame read from the TAP (MAX_FRAME of the spec, with room to spare so a longer
/// frame is seen as such and the device drops it TOO_LONG).
const READ_BUF: usize = 16384;
/// Frames read and not yet taken by the device thread; the reader blocks (and the kernel
/// drops, as a full NIC queue would) beyond it.
const QUEUE: usize = 4096;

/// The TAP device failed.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// Opening `/dev/net/tun` or attaching the interface failed.
    #[error("cannot open TAP interface {name:?}: {source} (it needs root or CAP_NET_ADMIN and /dev/net/tun)")]
    Open {
        name: String,
        source: std::io::Error,
    },
    /// Writing a frame failed.
    #[error("TAP interface {name}: write failed: {source}")]
    Write {
        name: String,
        source: std::io::Error,
    },
    /// The reader thread could not be started.
    #[error("TAP interface {name}: cannot start its reader thread: {source}")]
    Thread {
        name: String,
        source: std::io::Error,
    },
}

/// An open TAP interface (no packet-info header: whole Ethernet frames).
pub struct Tap {
    iface: Arc<tun_tap::Iface>,
    name: String,
}

impl Tap {
    /// Attach to the TAP interface `name`, creating it when it does not exist.
    pub fn open(name: &str) -> Result<Tap, TapError> {
        let iface =
            tun_tap::Iface::without_packet_info(name, tun_tap::Mode::Tap).map_err(|source| {
                TapError::Open {
                    name: name.to_string(),
                    source,
                }
            })?;
        let name = iface.name().to_string();
        Ok(Tap {
            iface: Arc::new(iface),
            name,
        })
    }

    /// The interface's name as the kernel has it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Start the thread that reads frames from the interface. Frames arrive on the returned
    /// channel in order; the channel closes when a read fails (the interface went away). The
    /// thread blocks in the kernel between frames; it ends with the process, or when the
    /// channel's receiver is dropped and the next frame arrives.
    pub fn reader(&self) -> Result<(Receiver<Vec<u8>>, JoinHandle<()>), TapError> {
        let (tx, rx) = bounded(QUEUE);
        let iface = self.iface.clone();
        let h = std::thread::Builder::new()
            .name("tap-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; READ_BUF];
                while let Ok(n) = iface.recv(&mut buf) {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            })
            .map_err(|source| TapError::Thread {
                name: self.name.clone(),
                source,
            })?;
        Ok((rx, h))
    }

    /// Write one frame to the interface (the kernel receives it).
    pub fn send(&self, frame: &[u8]) -> Result<(), TapError> {
        self.iface
            .send(frame)
            .map(|_| ())
            .map_err(|source| TapError::Write {
                name: self.name.clone(),
                source,
            })
    }
}
