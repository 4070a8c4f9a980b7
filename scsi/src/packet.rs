//! The emulation packet's byte layout (TODO: helper).
