//! iSCSI (RFC 7143) as bytes: PDU views, text-key negotiation, the login phase, digests.
//! No I/O: the NAS application's target (`buflet_nas::iscsi`) reads PDU headers out of the
//! named buffers and sends its PDUs through the NIC.
