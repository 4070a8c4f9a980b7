//! How the NAS writer moves payload (zero-copy, p2p, or the seed's prior-art copy paths) and
//! its limits.

/// How the NAS writer moves a write's bytes from the named buffers to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WriteMode {
    /// Seed 000: the block DMA reads the bytes where the NIC put them (2 host-DRAM crossings
    /// per byte: the NIC's DMA write, the block DMA's read).
    #[default]
    ZeroCopy,
    /// The seed's prior art (splice): the CPU copies the named buffer (kernel buffer) into a
    /// page-cache buffer, which the block DMA reads (4 crossings per byte).
    Splice,
    /// The conventional path: the CPU copies the named buffer (kernel buffer) into an
    /// application buffer, then into a page-cache buffer, which the block DMA reads (6 crossings
    /// per byte).
    Copy,
    /// p2p (docs/p2p.md): the payload never enters host DRAM. The stream's socket is a hold
    /// socket (`sock_flag::HOLD`): its named buffers receive hold records, and block writes read
    /// the payload straight from the NIC's buflet memory (`DEVMEM` elements). 0 payload
    /// crossings; only metadata (records, elements, requests) crosses host DRAM.
    P2p,
}

impl WriteMode {
    /// Every mode, cheapest first.
    pub const ALL: [WriteMode; 4] = [
        WriteMode::P2p,
        WriteMode::ZeroCopy,
        WriteMode::Splice,
        WriteMode::Copy,
    ];

    /// Name on the command line: "p2p", "zerocopy", "splice" or "copy".
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::ZeroCopy => "zerocopy",
            WriteMode::Splice => "splice",
            WriteMode::Copy => "copy",
            WriteMode::P2p => "p2p",
        }
    }

    /// Whether the mode needs a hold socket (only [`WriteMode::P2p`]); every other mode needs
    /// the payload in host memory, so a socket without `HOLD`.
    pub fn needs_hold(self) -> bool {
        self == WriteMode::P2p
    }

    /// Host-DRAM crossings per payload byte of an aligned whole-block write, by construction of
    /// the path (the tests measure them from the host memory counters; p2p adds about 0.08 of
    /// metadata per byte on top of its 0).
    pub fn crossings_per_byte(self) -> u32 {
        match self {
            WriteMode::P2p => 0,
            WriteMode::ZeroCopy => 2,
            WriteMode::Splice => 4,
            WriteMode::Copy => 6,
        }
    }
}

impl std::fmt::Display for WriteMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A write mode name that is not one of "p2p", "zerocopy", "splice", "copy".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown write mode '{0}' (expected p2p, zerocopy, splice or copy)")]
pub struct ParseModeError(pub String);

impl std::str::FromStr for WriteMode {
    type Err = ParseModeError;
    fn from_str(s: &str) -> Result<Self, ParseModeError> {
        match s {
            "zerocopy" | "zero-copy" => Ok(WriteMode::ZeroCopy),
            "splice" => Ok(WriteMode::Splice),
            "copy" => Ok(WriteMode::Copy),
            "p2p" => Ok(WriteMode::P2p),
            _ => Err(ParseModeError(s.to_string())),
        }
    }
}

/// Retries of a failed block operation, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// Block commands a stream keeps outstanding at most, by default: below the block engine's
/// 4-deep command FIFO, so a block command never holds up a named-buffer post behind it.
pub const DEFAULT_MAX_COMMANDS: usize = 3;

/// Most pages of a hold socket's named buffer: its record room (`pages * 512` records) must fit
/// the 16-bit `nb_desc.RECS`, or the device never returns it for want of room.
pub const MAX_HOLD_NB_PAGES: usize = 127;

/// Largest write accepted in one call.
pub const MAX_WRITE_BYTES: u64 = 1 << 30;
