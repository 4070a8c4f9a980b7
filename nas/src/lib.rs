//! Buflet's NAS protocols: where, in a received TCP stream, the file data of each write request
//! is, so the NAS application can hand it to the block engine without copying it.
//!
//! - [`smb2`]: SMB2/3 WRITE requests over NetBIOS session framing (port 445).
//! - [`framed`]: Buflet's own minimal framed write protocol, for demos.

pub mod framed;
pub mod smb2;
