//! The asynchronous emulation module (TODO: helper).
