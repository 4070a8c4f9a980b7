//! The wire side of the device seam: the Ethernet link between a device's MAC and whoever
//! sends it frames and takes its answers (the demo's sender, the smoltcp peer, the cosim, a
//! test).
//!
//! [`link`] makes the two ends. The device gets the [`MacPort`] when it is built and serves it
//! as its clock runs; the harness keeps the [`WirePort`]. The host driver holds neither: it sees
//! only the host-bus side ([`crate::Device`]: registers, DMA, interrupt), as a real driver does.
//!
//! No time passes on the wire itself. A frame sent between two device calls reaches the MAC at
//! the cycle the device stands at when its next call begins; the MAC then paces it at the line
//! rate. A frame counts as pending from [`WirePort::send`] until it has fully entered the device
//! (the MAC calls [`MacPort::rx_done`]).

use crossbeam_channel::{unbounded, Receiver, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Make a link: the MAC end for the device, the wire end for the harness.
pub fn link() -> (MacPort, WirePort) {
    let (to_mac, mac_rx) = unbounded();
    let (mac_tx, from_mac) = unbounded();
    let pending = Arc::new(AtomicUsize::new(0));
    (
        MacPort {
            rx: mac_rx,
            tx: mac_tx,
            pending: pending.clone(),
        },
        WirePort {
            tx: to_mac,
            rx: from_mac,
            pending,
        },
    )
}

/// The device's end of the link.
#[derive(Debug)]
pub struct MacPort {
    rx: Receiver<Vec<u8>>,
    tx: Sender<Vec<u8>>,
    pending: Arc<AtomicUsize>,
}

impl MacPort {
    /// The frames the wire delivered since the last call, in order. Each stays pending until
    /// the device calls [`MacPort::rx_done`] for it.
    pub fn take_rx(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.rx.try_iter()
    }

    /// One received frame has fully entered the device (or was consumed without entering).
    pub fn rx_done(&self) {
        // Never below zero: a device that reports more than it took does not wrap the count.
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Put a frame the device transmitted on the wire. With the wire end gone the frame is
    /// lost, as on an unplugged cable.
    pub fn transmit(&self, frame: Vec<u8>) {
        let _ = self.tx.send(frame);
    }
}

/// The world's end of the link.
#[derive(Debug)]
pub struct WirePort {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    pending: Arc<AtomicUsize>,
}

impl WirePort {
    /// Send a frame to the device's MAC receive side. With the device gone the frame is lost.
    pub fn send(&self, frame: Vec<u8>) {
        if self.tx.send(frame).is_ok() {
            self.pending.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Take the next frame the device transmitted, if any.
    pub fn recv(&self) -> Option<Vec<u8>> {
        self.rx.try_recv().ok()
    }

    /// Frames sent that have not fully entered the device.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_in_order_and_count_until_taken() {
        let (mac, wire) = link();
        wire.send(vec![1]);
        wire.send(vec![2, 2]);
        assert_eq!(wire.pending(), 2);
        let got: Vec<_> = mac.take_rx().collect();
        assert_eq!(got, vec![vec![1], vec![2, 2]]);
        assert_eq!(wire.pending(), 2, "taken by the MAC is not yet entered");
        mac.rx_done();
        assert_eq!(wire.pending(), 1);
        mac.rx_done();
        mac.rx_done();
        assert_eq!(wire.pending(), 0, "never below zero");
        mac.transmit(vec![9]);
        assert_eq!(wire.recv(), Some(vec![9]));
        assert_eq!(wire.recv(), None);
    }

    #[test]
    fn a_dropped_end_loses_frames_quietly() {
        let (mac, wire) = link();
        drop(mac);
        wire.send(vec![1]);
        assert_eq!(wire.pending(), 0);
        let (mac, wire) = link();
        drop(wire);
        mac.transmit(vec![1]);
    }
}
