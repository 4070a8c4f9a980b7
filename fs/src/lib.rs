//! A real file system on Buflet's disk image.
//!
//! The NAS application writes file data zero-copy to the disk blocks a real file system gave the
//! file, so that stock Linux tools read it back. e2fsprogs does the file-system work, as it does
//! on any Linux machine:
//! - `mke2fs -d` formats the image and allocates the file. Every block of the file is first
//!   written with a placeholder pattern, so no block is a hole or an "unwritten" extent, and a
//!   block the NIC never wrote shows up as the pattern rather than as plausible zeros.
//! - `debugfs -R "bmap PATH N"` reads the physical block of each file block out of the file
//!   system's own metadata (extent tree or block map); that is the [`FileMap`] the driver uses.
//! - `e2fsck -fn` checks the result and `debugfs -R "cat PATH"` reads the file back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use buflet_nas::FileMap;
use serde::Serialize;

/// File-system block size used on the image (the block engine writes whole 4 KiB blocks).
pub const BLOCK: u64 = 4096;

/// Placeholder written into every block of a new file: a block still holding it was never written.
pub const PLACEHOLDER: &[u8; 16] = b"BUFLET-UNWRITTEN";

/// Which ext file system to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    /// ext2: block map with indirect blocks.
    Ext2,
    /// ext4: extents and a journal.
    Ext4,
}

impl FsKind {
    /// The name mke2fs and users know it by ("ext2", "ext4").
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext2 => "ext2",
            FsKind::Ext4 => "ext4",
        }
    }
}

impl std::str::FromStr for FsKind {
    type Err = FsError;
    fn from_str(s: &str) -> Result<Self, FsError> {
        match s {
            "ext2" => Ok(FsKind::Ext2),
            "ext4" => Ok(FsKind::Ext4),
            _ => Err(FsError::BadKind(s.to_string())),
        }
    }
}

/// What went wrong with the file system or its tools.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An e2fsprogs tool is not installed.
    #[error("{0} not found: install e2fsprogs (apt-get install e2fsprogs)")]
    ToolMissing(&'static str),
    /// A tool ran and failed.
    #[error("{tool} failed ({status}): {output}")]
    ToolFailed {
        /// The tool.
        tool: &'static str,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },
    /// A tool's output did not say what we expected.
    #[error("{tool}: unexpected output for {what}: {output}")]
    Parse {
        /// The tool.
        tool: &'static str,
        /// What we asked for.
        what: String,
        /// What it printed.
        output: String,
    },
    /// The path inside the file system is not absolute or has empty parts.
    #[error("file path {0:?} must be absolute, like /nas/demo.bin")]
    BadPath(String),
    /// Unknown file-system name.
    #[error("unknown file system {0:?} (use ext2 or ext4)")]
    BadKind(String),
    /// Local I/O while preparing the image.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A file inside the image's file system, with the physical block of every file block.
#[derive(Debug, Clone)]
pub struct FsFile {
    /// The file system.
    pub kind: FsKind,
    /// Absolute path inside the file system.
    pub path: String,
    /// File size in bytes.
    pub len: u64,
    /// Physical block number (units of [`BLOCK`]) of file block i.
    pub blocks: Vec<u64>,
}

impl FileMap for FsFile {
    fn disk_addr(&self, off: u64) -> Option<u64> {
        let b = self.blocks.get((off / BLOCK) as usize)?;
        Some(b * BLOCK + off % BLOCK)
    }
}

/// Find an e2fsprogs tool on PATH or in the sbin directories (not always on a user's PATH).
pub fn tool(name: &'static str) -> Result<PathBuf, FsError> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(FsError::ToolMissing(name))
}

fn run(name: &'static str, args: &[&str]) -> Result<String, FsError> {
    let out = Command::new(tool(name)?)
        // Reproducible images: fixed timestamps (e2fsprogs' own test hook).
        .env("E2FSPROGS_FAKE_TIME", "1700000000")
        .args(args)
        .output()
        .map_err(|source| FsError::Io {
            path: PathBuf::from(name),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(FsError::ToolFailed {
            tool: name,
            status: out.status.to_string(),
            output: format!("{}{}", text, String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(text)
}

/// Image size that holds a file of `len` bytes with room for the file system's metadata.
pub fn image_bytes_for(len: u64) -> u64 {
    let data = len.div_ceil(BLOCK) * BLOCK;
    (data + data / 8 + (32 << 20)).div_ceil(1 << 20) << 20
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The UUID every image [`format_with_file`] makes carries (reproducible images, and how
/// [`is_buflet_image`] knows one).
const BUFLET_UUID: &str = "6275666c-6574-4275-666c-657400000001";

/// Whether `image` holds an ext2/ext4 file system made by [`format_with_file`] (superblock magic
/// and Buflet's UUID): a file the tools may overwrite without `--force`.
pub fn is_buflet_image(image: &Path) -> bool {
    use std::io::Read;
    let mut sb = [0u8; 1024];
    let read = std::fs::File::open(image).and_then(|mut f| {
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(1024))?;
        f.read_exact(&mut sb)
    });
    if read.is_err() {
        return false;
    }
    let uuid: Vec<u8> = BUFLET_UUID
        .split('-')
        .flat_map(|g| {
            (0..g.len())
                .step_by(2)
                .map(move |i| u8::from_str_radix(&g[i..i + 2], 16).unwrap_or(0))
        })
        .collect();
    sb[56..58] == [0x53, 0xef] && sb[104..120] == uuid[..]
}

/// Format `image` (created or truncated to `image_bytes`) with a `kind` file system holding one
/// file at `fs_path` of `len` bytes, every block allocated, and map it.
pub fn format_with_file(
    image: &Path,
    image_bytes: u64,
    kind: FsKind,
    fs_path: &str,
    len: u64,
) -> Result<FsFile, FsError> {
    let parts: Vec<&str> = fs_path.strip_prefix('/').unwrap_or("").split('/').collect();
    if !fs_path.starts_with('/')
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(FsError::BadPath(fs_path.to_string()));
    }
    // The tree mke2fs copies in: the file, full of placeholder blocks. Removed on every exit
    // path with its guard.
    let scratch =
        buflet_platform::scratch::Scratch::dir("buflet-fs-").map_err(io(&std::env::temp_dir()))?;
    let stage = scratch.path().to_path_buf();
    let host_file = parts.iter().fold(stage.clone(), |p, c| p.join(c));
    let result = (|| {
        let dir = host_file.parent().unwrap_or(&stage);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&host_file).map_err(io(&host_file))?);
        let chunk: Vec<u8> = PLACEHOLDER.repeat(BLOCK as usize / PLACEHOLDER.len() * 16);
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).map_err(io(&host_file))?;
            left -= n as u64;
        }
        f.flush().map_err(io(&host_file))?;
        drop(f);
        let img = std::fs::File::create(image).map_err(io(image))?;
        img.set_len(image_bytes).map_err(io(image))?;
        drop(img);
        let uuid = BUFLET_UUID;
        run(
            "mke2fs",
            &[
                "-F",
                "-q",
                "-t",
                kind.name(),
                "-b",
                "4096",
                "-m",
                "0",
                "-U",
                uuid,
                "-E",
                &format!("hash_seed={uuid},root_owner=0:0"),
                "-d",
                stage.to_str().unwrap_or_default(),
                image.to_str().unwrap_or_default(),
            ],
        )
    })();
    drop(scratch);
    result?;
    let blocks = map_blocks(image, fs_path, len.div_ceil(BLOCK))?;
    Ok(FsFile {
        kind,
        path: fs_path.to_string(),
        len,
        blocks,
    })
}

/// Physical block of each of the first `count` blocks of `fs_path`, from the file system's
/// metadata (`debugfs bmap`).
pub fn map_blocks(image: &Path, fs_path: &str, count: u64) -> Result<Vec<u64>, FsError> {
    let cmds = image.with_extension("bmap-cmds");
    let mut script = String::with_capacity(count as usize * (fs_path.len() + 16));
    for i in 0..count {
        script.push_str(&format!("bmap {fs_path} {i}\n"));
    }
    std::fs::write(&cmds, script).map_err(io(&cmds))?;
    let out = run(
        "debugfs",
        &[
            "-f",
            cmds.to_str().unwrap_or_default(),
            image.to_str().unwrap_or_default(),
        ],
    );
    let _ = std::fs::remove_file(&cmds);
    let out = out?;
    let blocks: Vec<u64> = out
        .lines()
        .filter(|l| !l.starts_with("debugfs"))
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if blocks.len() as u64 != count || blocks.contains(&0) {
        return Err(FsError::Parse {
            tool: "debugfs",
            what: format!("bmap of {count} blocks of {fs_path}"),
            output: out.chars().take(400).collect(),
        });
    }
    Ok(blocks)
}

/// `e2fsck -fn`: a forced, read-only check. Ok when it finds nothing to fix.
pub fn fsck(image: &Path) -> Result<String, FsError> {
    run("e2fsck", &["-fn", image.to_str().unwrap_or_default()])
}

/// The file's bytes as stock `debugfs -R "cat PATH"` reads them.
pub fn cat(image: &Path, fs_path: &str) -> Result<Vec<u8>, FsError> {
    let out = Command::new(tool("debugfs")?)
        .args([
            "-R",
            &format!("cat {fs_path}"),
            image.to_str().unwrap_or_default(),
        ])
        .output()
        .map_err(io(image))?;
    // debugfs exits 0 even when it cannot open the file system or find the file: anything it
    // says on stderr besides its version banner is an error.
    let err = String::from_utf8_lossy(&out.stderr);
    let complaint: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("debugfs "))
        .collect();
    if !out.status.success() || !complaint.is_empty() {
        return Err(FsError::ToolFailed {
            tool: "debugfs",
            status: out.status.to_string(),
            output: complaint.join("; "),
        });
    }
    Ok(out.stdout)
}

/// Overwrite every block of `file` in `image` with zeros (a preparation step, before the device
/// runs, like a fresh file of a server whose unwritten ranges read as zeros): the blocks stay
/// allocated, so the mapping holds, but bytes no write reaches read back as 0, not as the
/// placeholder. Used when the expected file has holes (an SMB2 upload at scattered offsets).
pub fn zero_blocks(image: &Path, file: &FsFile) -> Result<(), FsError> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(image)
        .map_err(io(image))?;
    let zeros = vec![0u8; BLOCK as usize];
    for &b in &file.blocks {
        f.write_all_at(&zeros, b * BLOCK).map_err(io(image))?;
    }
    f.sync_all().map_err(io(image))
}

/// What stock e2fsprogs say of the file after a run.
#[derive(Debug, Clone, Serialize)]
pub struct FsCheck {
    /// `e2fsck -fn` found nothing to fix.
    pub fsck_clean: bool,
    /// The last line e2fsck printed (its summary), or its error.
    pub fsck_summary: String,
    /// sha256 (hex) of the file as `debugfs -R "cat PATH"` reads it; empty if debugfs failed.
    pub debugfs_sha256: String,
    /// Bytes debugfs read.
    pub debugfs_bytes: u64,
}

/// Check the image with `e2fsck -fn` and read `fs_path` back with `debugfs cat`, hashing it with
/// `hash` (the caller's sha256, so this crate needs no hashing dependency).
pub fn check(image: &Path, fs_path: &str, hash: impl Fn(&[u8]) -> String) -> FsCheck {
    let (fsck_clean, text) = match fsck(image) {
        Ok(out) => (true, out),
        Err(e) => (false, e.to_string()),
    };
    let fsck_summary = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    let (debugfs_sha256, debugfs_bytes) = match cat(image, fs_path) {
        Ok(b) => (hash(&b), b.len() as u64),
        Err(_) => (String::new(), 0),
    };
    FsCheck {
        fsck_clean,
        fsck_summary,
        debugfs_sha256,
        debugfs_bytes,
    }
}
