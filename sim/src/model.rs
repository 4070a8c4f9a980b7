//! One Verilated model instance: ports resolved by name, values set and read (any width),
//! evaluation, clock ticks, `$finish`/`$fatal`, and waveforms. The FFI boundary: every
//! `unsafe` of the crate is here.

use crate::{
    buflet_sim_last_error, Dir, ModelInfo, SimError, BROKEN, MODELS, TICK_TIME, TRACE_FORMAT,
};
use std::ffi::{c_void, CStr, CString};
use std::fmt;
use std::path::Path;
use std::ptr::NonNull;

/// A resolved port of a model: an index and a width, cheap to copy and to
/// use every cycle. A `Port` resolved on one instance can be used with every
/// instance of the same model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Port {
    idx: u32,
    width: u32,
    model: u32,
    dir: Dir,
}

impl Port {
    /// Width in bits.
    pub fn width(self) -> u32 {
        self.width
    }

    /// Direction.
    pub fn dir(self) -> Dir {
        self.dir
    }

    /// Index in [`ModelInfo::ports`].
    pub fn index(self) -> usize {
        self.idx as usize
    }
}

/// How a port is stored in the Verilated model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// CData
    U8,
    /// SData
    U16,
    /// IData
    U32,
    /// QData
    U64,
    /// VlWide: `words` EData (u32), least significant first.
    Wide,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    ptr: NonNull<u8>,
    kind: Kind,
    dir: Dir,
    /// Mask of the valid bits for ports up to 64 bits (all ones for wide ones).
    mask: u64,
    /// Number of u32 words (for wide ports).
    words: usize,
    /// Mask of the valid bits of the last word (for wide ports).
    top_mask: u32,
}

impl Slot {
    /// Word `i` (< `words`) of a wide port, the bits beyond the width cleared.
    ///
    /// # Safety
    /// The slot is a wide port of a live model that is not being evaluated.
    unsafe fn read_wide(&self, i: usize) -> u32 {
        debug_assert!(i < self.words);
        // SAFETY: i < words, within this wide port's storage (caller's contract).
        let v = unsafe { self.ptr.as_ptr().cast::<u32>().add(i).read() };
        if i == self.words - 1 {
            v & self.top_mask
        } else {
            v
        }
    }

    /// Writes every word of a wide port from `word(i)`, the bits beyond the width cleared.
    ///
    /// # Safety
    /// The slot is a wide input port of a live model the caller holds exclusively.
    unsafe fn write_wide(&self, word: impl Fn(usize) -> u32) {
        let w = self.ptr.as_ptr().cast::<u32>();
        for i in 0..self.words {
            let mut v = word(i);
            if i == self.words - 1 {
                v &= self.top_mask;
            }
            // SAFETY: i < words, within this wide port's storage (caller's contract).
            unsafe { w.add(i).write(v) };
        }
    }
}

/// One live instance of a Verilated model. Dropping it runs the model's
/// `final` blocks, closes an open trace and frees the model.
pub struct Model {
    info: &'static ModelInfo,
    model_idx: u32,
    handle: NonNull<c_void>,
    slots: Box<[Slot]>,
    cycles: u64,
    time: u64,
    tracing: bool,
}

// SAFETY: a Model exclusively owns its Verilated model and context (nothing
// else holds the handle or the port pointers), and the generated shim points
// Verilator's thread-local "current context" at the instance's own context
// on every call, so the instance may be used from whichever single thread
// owns it at the time. It is not Sync: `&Model` gives no shared mutation,
// but nothing is gained by allowing it.
unsafe impl Send for Model {}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("model", &self.info.name)
            .field("cycles", &self.cycles)
            .field("time", &self.time)
            .field("tracing", &self.tracing)
            .finish_non_exhaustive()
    }
}

/// This thread's last error message from the C++ side.
fn last_error() -> String {
    // SAFETY: buflet_sim_last_error returns a pointer to a NUL-terminated
    // thread-local string that stays valid until the next shim call on this
    // thread; it is copied before any such call.
    unsafe {
        let p = buflet_sim_last_error();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

impl Model {
    /// Creates an instance of the model called `name` (its prefix in
    /// `sim/models.txt`), with all inputs 0 and nothing evaluated yet.
    pub fn new(name: &str) -> Result<Model, SimError> {
        let (model_idx, info) = MODELS
            .iter()
            .enumerate()
            .find(|(_, m)| m.name == name)
            .ok_or_else(|| match BROKEN.iter().find(|(n, _)| *n == name) {
                Some((_, reason)) => SimError::NotBuilt {
                    model: name.to_string(),
                    reason: reason.to_string(),
                },
                None => SimError::UnknownModel(name.to_string()),
            })?;
        // SAFETY: `new` has no preconditions; it returns an owned instance
        // or null on failure.
        let raw = unsafe { (info.fns.new)() };
        let handle = NonNull::new(raw).ok_or_else(|| SimError::Fatal {
            model: name.to_string(),
            message: format!("cannot create the model: {}", last_error()),
        })?;
        let mut slots = Vec::with_capacity(info.ports.len());
        for (i, p) in info.ports.iter().enumerate() {
            // SAFETY: handle is a live instance and i < ports.len(), the
            // number of ports the shim knows.
            let ptr = unsafe { (info.fns.port)(handle.as_ptr(), i as u32) };
            let ptr = NonNull::new(ptr.cast::<u8>())
                .unwrap_or_else(|| panic!("buflet-sim: {}: no storage for port {}", name, p.name));
            let kind = match p.width {
                0..=8 => Kind::U8,
                9..=16 => Kind::U16,
                17..=32 => Kind::U32,
                33..=64 => Kind::U64,
                _ => Kind::Wide,
            };
            let words = p.words();
            let mask = if p.width >= 64 {
                u64::MAX
            } else {
                (1u64 << p.width) - 1
            };
            let top_bits = p.width % 32;
            let top_mask = if top_bits == 0 {
                u32::MAX
            } else {
                (1u32 << top_bits) - 1
            };
            slots.push(Slot {
                ptr,
                kind,
                dir: p.dir,
                mask,
                words,
                top_mask,
            });
        }
        Ok(Model {
            info,
            model_idx: model_idx as u32,
            handle,
            slots: slots.into_boxed_slice(),
            cycles: 0,
            time: 0,
            tracing: false,
        })
    }

    /// What this model is.
    pub fn info(&self) -> &'static ModelInfo {
        self.info
    }

    /// Resolves the port called `name` (any direction).
    pub fn port(&self, name: &str) -> Result<Port, SimError> {
        let (idx, p) = self
            .info
            .find_port(name)
            .ok_or_else(|| SimError::UnknownPort {
                model: self.info.name.to_string(),
                port: name.to_string(),
            })?;
        Ok(Port {
            idx: idx as u32,
            width: p.width,
            model: self.model_idx,
            dir: p.dir,
        })
    }

    /// Resolves an input (or inout) port.
    pub fn input(&self, name: &str) -> Result<Port, SimError> {
        self.port_not(name, Dir::Out, |model, port| SimError::NotAnInput {
            model,
            port,
        })
    }

    /// Resolves an output (or inout) port.
    pub fn output(&self, name: &str) -> Result<Port, SimError> {
        self.port_not(name, Dir::In, |model, port| SimError::NotAnOutput {
            model,
            port,
        })
    }

    /// Resolves a port whose direction is not `refused`; else the error `err(model, port)`.
    fn port_not(
        &self,
        name: &str,
        refused: Dir,
        err: fn(String, String) -> SimError,
    ) -> Result<Port, SimError> {
        let p = self.port(name)?;
        if p.dir == refused {
            return Err(err(self.info.name.to_string(), name.to_string()));
        }
        Ok(p)
    }

    /// Resolves a port and checks that it is `width` bits wide.
    pub fn port_with_width(&self, name: &str, width: u32) -> Result<Port, SimError> {
        let p = self.port(name)?;
        if p.width != width {
            return Err(SimError::WidthMismatch {
                model: self.info.name.to_string(),
                port: name.to_string(),
                expected: width,
                actual: p.width,
            });
        }
        Ok(p)
    }

    #[inline]
    fn slot(&self, p: Port) -> Slot {
        debug_assert_eq!(
            p.model, self.model_idx,
            "buflet-sim: port #{} of model {} used on model {}",
            p.idx, MODELS[p.model as usize].name, self.info.name
        );
        // Indexing is bounds-checked: a Port of another model can never
        // reach outside this model's port table.
        self.slots[p.idx as usize]
    }

    #[inline]
    fn slot_in(&self, p: Port) -> Slot {
        let s = self.slot(p);
        debug_assert!(
            s.dir != Dir::Out,
            "buflet-sim: {}: port {} is an output and cannot be set",
            self.info.name,
            self.info.ports[p.idx as usize].name
        );
        s
    }

    /// Sets an input port to `v`, masked to the port's width. On a port wider
    /// than 64 bits, sets the low 64 bits to `v` and the rest to 0.
    ///
    /// Setting an output port is a bug: it panics in debug builds (in release
    /// builds the value is overwritten by the next evaluation).
    #[inline]
    pub fn set(&mut self, p: Port, v: u64) {
        let s = self.slot_in(p);
        let v = v & s.mask;
        let ptr = s.ptr.as_ptr();
        // SAFETY: s.ptr is the address of this port's storage inside the live
        // Verilated model (which we own exclusively through &mut self); the
        // storage has the C++ type given by s.kind (chosen from the width
        // exactly as Verilator does, and checked against the header's
        // VL_IN*/VL_OUT* macro by build.rs), is suitably aligned for it, and
        // a wide port has s.words >= 3 u32 words.
        unsafe {
            match s.kind {
                Kind::U8 => ptr.write(v as u8),
                Kind::U16 => ptr.cast::<u16>().write(v as u16),
                Kind::U32 => ptr.cast::<u32>().write(v as u32),
                Kind::U64 => ptr.cast::<u64>().write(v),
                Kind::Wide => {
                    let w = ptr.cast::<u32>();
                    w.write(v as u32);
                    w.add(1).write((v >> 32) as u32);
                    for i in 2..s.words {
                        w.add(i).write(0);
                    }
                }
            }
        }
    }

    /// Reads a port (any direction). On a port wider than 64 bits, returns
    /// its low 64 bits.
    #[inline]
    pub fn get(&self, p: Port) -> u64 {
        let s = self.slot(p);
        let ptr = s.ptr.as_ptr();
        // SAFETY: as in `set`; this only reads the storage, and &self
        // guarantees that no evaluation is running.
        let v = unsafe {
            match s.kind {
                Kind::U8 => u64::from(ptr.read()),
                Kind::U16 => u64::from(ptr.cast::<u16>().read()),
                Kind::U32 => u64::from(ptr.cast::<u32>().read()),
                Kind::U64 => ptr.cast::<u64>().read(),
                Kind::Wide => {
                    let w = ptr.cast::<u32>();
                    u64::from(w.read()) | (u64::from(w.add(1).read()) << 32)
                }
            }
        };
        v & s.mask
    }

    /// Sets an input port of any width from little-endian bytes; missing
    /// bytes are 0, bytes and bits beyond the port's width are ignored.
    pub fn set_bytes(&mut self, p: Port, bytes: &[u8]) {
        let s = self.slot_in(p);
        if s.kind != Kind::Wide {
            let mut b = [0u8; 8];
            let n = bytes.len().min(8);
            b[..n].copy_from_slice(&bytes[..n]);
            self.set(p, u64::from_le_bytes(b));
            return;
        }
        let w = s.ptr.as_ptr().cast::<u32>();
        if cfg!(target_endian = "little") && bytes.len() >= s.words * 4 {
            // SAFETY: the wide port's storage is s.words u32 words, which on a
            // little-endian host are laid out exactly as the little-endian
            // byte string; bytes holds at least s.words * 4 bytes and cannot
            // overlap the model's memory (we hold &mut self and &bytes). The
            // top word is then masked in place.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), w.cast::<u8>(), s.words * 4);
                let top = w.add(s.words - 1);
                top.write(top.read() & s.top_mask);
            }
            return;
        }
        // SAFETY: s is a wide input slot of the live model we own through
        // &mut self.
        unsafe {
            s.write_wide(|i| {
                let mut b = [0u8; 4];
                if let Some(src) = bytes.get(i * 4..) {
                    let n = src.len().min(4);
                    b[..n].copy_from_slice(&src[..n]);
                }
                u32::from_le_bytes(b)
            })
        };
    }

    /// Reads a port of any width as little-endian bytes into `out`: bytes
    /// beyond `out`'s length are dropped, bytes of `out` beyond the port's
    /// width are set to 0.
    pub fn get_bytes(&self, p: Port, out: &mut [u8]) {
        let s = self.slot(p);
        if s.kind != Kind::Wide {
            let b = self.get(p).to_le_bytes();
            let n = out.len().min(8);
            out[..n].copy_from_slice(&b[..n]);
            out[n..].fill(0);
            return;
        }
        let w = s.ptr.as_ptr().cast::<u32>();
        let n = s.words * 4;
        if cfg!(target_endian = "little") && out.len() >= n {
            // SAFETY: reads the s.words u32 words of this wide port's storage
            // (little-endian host: same layout as the little-endian byte
            // string) into out, which has room for them and is not model
            // memory.
            unsafe { std::ptr::copy_nonoverlapping(w.cast::<u8>(), out.as_mut_ptr(), n) };
            let top = u32::from_le_bytes(out[n - 4..n].try_into().expect("4 bytes")) & s.top_mask;
            out[n - 4..n].copy_from_slice(&top.to_le_bytes());
            out[n..].fill(0);
            return;
        }
        let mut chunks = out.chunks_mut(4);
        for i in 0..s.words {
            let Some(chunk) = chunks.next() else { return };
            // SAFETY: s is a wide slot of the live model; &self guarantees
            // that no evaluation is running.
            let v = unsafe { s.read_wide(i) };
            let n = chunk.len();
            chunk.copy_from_slice(&v.to_le_bytes()[..n]);
        }
        for chunk in chunks {
            chunk.fill(0);
        }
    }

    /// Sets an input port of any width from 32-bit words, least significant
    /// first; missing words are 0, words and bits beyond the width are ignored.
    pub fn set_words(&mut self, p: Port, words: &[u32]) {
        let s = self.slot_in(p);
        if s.kind != Kind::Wide {
            let lo = u64::from(words.first().copied().unwrap_or(0));
            let hi = u64::from(words.get(1).copied().unwrap_or(0));
            self.set(p, lo | (hi << 32));
            return;
        }
        // SAFETY: s is a wide input slot of the live model we own through
        // &mut self.
        unsafe { s.write_wide(|i| words.get(i).copied().unwrap_or(0)) };
    }

    /// Reads a port of any width as 32-bit words, least significant first:
    /// words beyond `out`'s length are dropped, words of `out` beyond the
    /// port's width are set to 0.
    pub fn get_words(&self, p: Port, out: &mut [u32]) {
        let s = self.slot(p);
        if s.kind != Kind::Wide {
            let v = self.get(p);
            for (i, o) in out.iter_mut().enumerate() {
                *o = match i {
                    0 => v as u32,
                    1 => (v >> 32) as u32,
                    _ => 0,
                };
            }
            return;
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = if i < s.words {
                // SAFETY: s is a wide slot of the live model; &self
                // guarantees that no evaluation is running.
                unsafe { s.read_wide(i) }
            } else {
                0
            };
        }
    }

    #[cold]
    #[inline(never)]
    fn fatal(&self) -> SimError {
        SimError::Fatal {
            model: self.info.name.to_string(),
            message: last_error(),
        }
    }

    /// Evaluates the model (settles all logic for the current inputs).
    ///
    /// # Panics
    /// If the design hits `$fatal`, `$stop` or a Verilator runtime error;
    /// use [`Model::try_eval`] to get that as an error instead.
    #[inline]
    pub fn eval(&mut self) {
        if let Err(e) = self.try_eval() {
            panic!("buflet-sim: {e}");
        }
    }

    /// Like [`Model::eval`], but returns a fatal simulation error.
    #[inline]
    pub fn try_eval(&mut self) -> Result<(), SimError> {
        // SAFETY: handle is a live instance owned exclusively by self.
        let rc = unsafe { (self.info.fns.eval)(self.handle.as_ptr()) };
        if rc != 0 {
            return Err(self.fatal());
        }
        Ok(())
    }

    /// Sets the simulation time, evaluates, and dumps a trace sample if a
    /// trace is open.
    #[inline]
    fn eval_at(&mut self, time: u64) -> Result<(), SimError> {
        // SAFETY: handle is a live instance owned exclusively by self.
        let rc = unsafe { (self.info.fns.eval_at)(self.handle.as_ptr(), time) };
        if rc != 0 {
            return Err(self.fatal());
        }
        Ok(())
    }

    /// One clock cycle on `clk`: clock low and evaluate, then clock high and
    /// evaluate (one rising edge). Advances the simulation time by
    /// [`TICK_TIME`], dumps both half cycles to an open trace, and counts the
    /// cycle.
    ///
    /// # Panics
    /// As [`Model::eval`]; see [`Model::try_tick`].
    #[inline]
    pub fn tick(&mut self, clk: Port) {
        if let Err(e) = self.try_tick(clk) {
            panic!("buflet-sim: {e}");
        }
    }

    /// Like [`Model::tick`], but returns a fatal simulation error.
    #[inline]
    pub fn try_tick(&mut self, clk: Port) -> Result<(), SimError> {
        debug_assert_eq!(clk.width, 1, "buflet-sim: a clock port is 1 bit wide");
        self.set(clk, 0);
        self.eval_at(self.time)?;
        self.set(clk, 1);
        self.eval_at(self.time + TICK_TIME / 2)?;
        self.time += TICK_TIME;
        self.cycles += 1;
        Ok(())
    }

    /// Number of [`Model::tick`]s so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Current simulation time (in the design's time precision units).
    pub fn time(&self) -> u64 {
        self.time
    }

    /// True once the design executed `$finish` (or a fatal error happened).
    pub fn finished(&self) -> bool {
        // SAFETY: handle is a live instance; got_finish only reads a flag.
        unsafe { (self.info.fns.got_finish)(self.handle.as_ptr()) != 0 }
    }

    /// Opens a waveform trace at `path`: every later [`Model::tick`] dumps
    /// both half cycles. The format is [`TRACE_FORMAT`] (FST by default);
    /// models have tracing unless built with `BUFLET_TRACE=0`.
    /// A trace can be opened once per instance.
    pub fn trace_open(&mut self, path: &Path) -> Result<(), SimError> {
        if TRACE_FORMAT.is_none() {
            return Err(SimError::Trace(
                "buflet-sim was built without tracing (BUFLET_TRACE=0): rebuild without it (FST) or with BUFLET_TRACE=vcd".into(),
            ));
        }
        let cpath = path_to_cstring(path)?;
        // SAFETY: handle is a live instance owned by self; cpath is a valid
        // NUL-terminated string that outlives the call (the callee copies it).
        let rc = unsafe { (self.info.fns.trace_open)(self.handle.as_ptr(), cpath.as_ptr()) };
        if rc != 0 {
            return Err(SimError::Trace(format!(
                "{}: {}",
                path.display(),
                last_error()
            )));
        }
        self.tracing = true;
        Ok(())
    }

    /// Dumps the current state to the open trace at the current time (for
    /// designs driven with [`Model::eval`] rather than [`Model::tick`]; the
    /// time must increase from one dump to the next).
    pub fn trace_dump(&mut self, time: u64) -> Result<(), SimError> {
        if !self.tracing {
            return Err(SimError::Trace("no trace is open".into()));
        }
        // SAFETY: handle is a live instance owned exclusively by self.
        let rc = unsafe { (self.info.fns.trace_dump)(self.handle.as_ptr(), time) };
        if rc != 0 {
            return Err(SimError::Trace(last_error()));
        }
        Ok(())
    }

    /// Flushes and closes the open trace.
    pub fn trace_close(&mut self) -> Result<(), SimError> {
        if !self.tracing {
            return Err(SimError::Trace("no trace is open".into()));
        }
        self.tracing = false;
        // SAFETY: handle is a live instance owned exclusively by self.
        let rc = unsafe { (self.info.fns.trace_close)(self.handle.as_ptr()) };
        if rc != 0 {
            return Err(SimError::Trace(last_error()));
        }
        Ok(())
    }

    /// True while a trace is open.
    pub fn tracing(&self) -> bool {
        self.tracing
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: handle is a live instance owned by self; it is not used
        // again after `delete`, which frees the model, its context and any
        // open trace.
        unsafe {
            if (self.info.fns.final_)(self.handle.as_ptr()) != 0 {
                eprintln!(
                    "buflet-sim: {}: error in final blocks: {}",
                    self.info.name,
                    last_error()
                );
            }
            (self.info.fns.delete)(self.handle.as_ptr());
        }
    }
}

#[cfg(unix)]
fn path_to_cstring(path: &Path) -> Result<CString, SimError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| SimError::Trace(format!("{}: path contains NUL", path.display())))
}

#[cfg(not(unix))]
fn path_to_cstring(path: &Path) -> Result<CString, SimError> {
    let s = path
        .to_str()
        .ok_or_else(|| SimError::Trace(format!("{}: path is not UTF-8", path.display())))?;
    CString::new(s).map_err(|_| SimError::Trace(format!("{}: path contains NUL", path.display())))
}
