//! The block command set (TODO: helper).
