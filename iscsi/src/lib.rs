//! iSCSI (RFC 7143) as bytes: PDU views, text-key negotiation, the login phase, digests.
//! No I/O: the NAS application's target (`buflet_nas::iscsi`) reads PDU headers out of the
//! named buffers and sends its PDUs through the NIC.
//!
//! - [`pdu`]: the Basic Header Segment view ([`pdu::Bhs`]), one `Repr` per PDU type with
//!   `parse`/`emit`, the SCSI Command AHS, CRC32C digests, padding, serial numbers.
//! - [`text`]: key=value data segments and the target's [`text::Negotiator`].
//! - [`login`]: the target's login-phase state machine ([`login::LoginTarget`]).
//! - [`discovery`]: SendTargets answers for Text Requests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod discovery;
pub mod error;
pub mod login;
pub mod pdu;
pub mod text;

pub use error::{Error, Result};
