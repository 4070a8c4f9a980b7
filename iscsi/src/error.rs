//! The one error type of the crate: every hostile or malformed input maps to a variant.

use crate::pdu::Opcode;

/// Why bytes could not be understood as iSCSI (a PDU header, an AHS, a text segment) or why a
/// negotiation broke the protocol. Returned instead of panicking on any input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the structure it should hold.
    #[error("buffer too short: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes the structure needs.
        need: usize,
        /// Bytes the buffer has.
        have: usize,
    },
    /// The 6-bit opcode is not one RFC 7143 defines.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A typed parse was handed a header of another PDU type.
    #[error("expected opcode {expected:?}, found {found:#04x}")]
    WrongOpcode {
        /// The opcode the parser handles.
        expected: Opcode,
        /// The opcode in the header.
        found: u8,
    },
    /// DataSegmentLength exceeds what the receiver accepts (its MaxRecvDataSegmentLength).
    #[error("data segment length {len} exceeds the limit {max}")]
    DataSegmentTooLong {
        /// DataSegmentLength from the header.
        len: u32,
        /// The receiver's limit.
        max: u32,
    },
    /// A PDU type that never carries data has a nonzero DataSegmentLength.
    #[error("{0:?} PDU must not carry a data segment")]
    UnexpectedData(Opcode),
    /// An additional header segment is malformed (length past the end, bad type, bad size).
    #[error("malformed AHS: {0}")]
    BadAhs(&'static str),
    /// A header field holds a value the protocol forbids.
    #[error("bad header field: {0}")]
    BadField(&'static str),
    /// A CRC32C digest does not match the bytes it covers.
    #[error("digest mismatch: computed {computed:#010x}, received {received:#010x}")]
    DigestMismatch {
        /// The CRC32C computed over the bytes.
        computed: u32,
        /// The CRC32C found on the wire.
        received: u32,
    },
    /// A text segment is not valid UTF-8.
    #[error("text segment is not UTF-8")]
    TextNotUtf8,
    /// A text pair has no '=' separating key and value.
    #[error("text pair without '='")]
    MissingEquals,
    /// The last text pair is not terminated by a NUL byte.
    #[error("text pair not NUL-terminated")]
    MissingNul,
    /// A key name is empty or has characters RFC 7143 section 6.1 forbids.
    #[error("bad key name")]
    BadKeyName,
    /// A key name is longer than 63 bytes.
    #[error("key name longer than 63 bytes")]
    KeyTooLong,
    /// A value is longer than the text-segment limit.
    #[error("value longer than {max} bytes")]
    ValueTooLong {
        /// The limit.
        max: usize,
    },
    /// The (accumulated) text segment is longer than this implementation accepts.
    #[error("text longer than {max} bytes")]
    TextTooLong {
        /// The limit.
        max: usize,
    },
    /// A key was sent twice in one negotiation (RFC 7143 section 6.2: a protocol error).
    #[error("key {0} negotiated twice")]
    DuplicateKey(String),
}

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;
