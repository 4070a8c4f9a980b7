//! p2p (docs/p2p.md): held buflet chains of a hold socket, released with `BUF_RELEASE` once
//! their bytes are on disk.

use crate::stream::NasStream;
use buflet_driver::{Driver, DriverError, NamedBuffer};
use buflet_spec::param;

impl NasStream {
    /// p2p: give back, in stream order, the held chains whose bytes are all written or given
    /// up and that no unfinished write reads, up to `RELEASE_MAX` heads per `BUF_RELEASE`.
    pub(crate) fn release_chains(&mut self, drv: &mut Driver) -> Result<(), DriverError> {
        let max = param::RELEASE_MAX as usize;
        let mut heads = Vec::new();
        while let Some(ch) = self.chains.front() {
            let free = self.done.covers(ch.start, ch.end)
                && !self
                    .ops
                    .iter()
                    .any(|o| o.stream_off < ch.end && ch.start < o.stream_off + o.len);
            if !free {
                break;
            }
            heads.push(ch.head);
            self.chains.pop_front();
            if heads.len() == max {
                self.send_release(drv, std::mem::take(&mut heads))?;
            }
        }
        if !heads.is_empty() {
            self.send_release(drv, heads)?;
        }
        Ok(())
    }

    pub(crate) fn send_release(
        &mut self,
        drv: &mut Driver,
        heads: Vec<u16>,
    ) -> Result<(), DriverError> {
        let tag = drv.buf_release(&heads)?;
        self.stats.chains_released += heads.len() as u64;
        self.stats.release_requests += 1;
        self.releasing.insert(tag, heads);
        Ok(())
    }

    pub(crate) fn release(
        &mut self,
        drv: &mut Driver,
        nb: NamedBuffer,
        repost: bool,
    ) -> Result<(), DriverError> {
        if repost {
            drv.post_nb(self.sock, &nb, self.nb_timeout)?;
            self.posted.insert(nb.ref_num, nb);
        } else {
            drv.free_nb(nb);
        }
        Ok(())
    }
}
