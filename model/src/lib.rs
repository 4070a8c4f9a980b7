//! Cycle-approximate Rust model of the Buflet NIC (being written).
