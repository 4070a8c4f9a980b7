//! `buflet demo --image PATH`: the disk image holds a real ext4 (or ext2) file system made by
//! mke2fs, the file's offsets map to disk blocks through the file system's own metadata, and
//! after the run stock e2fsprogs agree: `e2fsck -fn` finds nothing to fix and
//! `debugfs -R "cat PATH"` reads the file back byte-exact. On both backends.
//!
//! The checks here run e2fsck and debugfs themselves (through `buflet_fs`, which only runs the
//! tools) and hash the seeded payload, independently of what the run reported.

use buflet_testbench::e2e_check::{run_ok, temp_dir};
use buflet_testbench::{frames, run_stream, sha256_hex, Backend, FsKind, RunOptions, Scenario};
use std::path::{Path, PathBuf};

/// A directory for kept images, removed when dropped (on every exit path, panics too).
fn image_dir() -> tempfile::TempDir {
    temp_dir("buflet-image-test-")
}

/// Run the demo stream of `bytes` into a file system of `kind` on a kept image in `dir`.
fn demo_on_image(
    dir: &Path,
    backend: Backend,
    kind: FsKind,
    bytes: usize,
    name: &str,
) -> (PathBuf, String) {
    let img = dir.join(name);
    let source = frames::payload(17, bytes);
    let want = sha256_hex(&source);
    let sc = Scenario::demo(source, 1448, 0x0102_0304, 0x0a0b_0c0d);
    let mut opt = RunOptions::new(backend, 64);
    opt.image = Some(img.clone());
    opt.fs = Some(kind);
    opt.file_path = "/nas/demo.bin".into();
    let r = run_ok(&sc, &opt);
    let ctx = format!("{} {}: {:?}", backend.name(), kind.name(), r.failures);
    assert!(r.passed && r.verified, "{ctx}");
    assert_eq!(r.cpu_copied_bytes, 0, "{ctx}");
    assert_eq!(r.stray_accesses, 0, "{ctx}");
    assert_eq!(r.buflets_free_end, r.num_buflets, "{ctx}");
    assert_eq!(r.source_sha256, want, "{ctx}");
    assert_eq!(r.disk_sha256, want, "{ctx}");
    assert_eq!(r.fsck_clean, Some(true), "{ctx}");
    assert_eq!(r.debugfs_sha256.as_deref(), Some(want.as_str()), "{ctx}");
    assert_eq!(r.image, img.display().to_string());
    // Whole blocks through the file system's map, the last one padded at EOF: no read.
    assert_eq!(r.disk_writes, (bytes as u64).div_ceil(4096), "{ctx}");
    assert_eq!(r.disk_reads, 0, "{ctx}");

    // The JSON line carries the file system, the path inside it and the source hash.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["fs"], kind.name(), "{ctx}");
    assert_eq!(json["file_path"], "/nas/demo.bin", "{ctx}");
    assert_eq!(json["source_sha256"], want.as_str(), "{ctx}");
    assert_eq!(json["fsck_clean"], true, "{ctx}");
    assert_eq!(json["debugfs_sha256"], want.as_str(), "{ctx}");
    (img, want)
}

/// The stock tools, run here on the kept image.
fn stock_tools_agree(img: &Path, want: &str, bytes: usize) {
    let out = buflet_fs::fsck(img).unwrap_or_else(|e| panic!("e2fsck -fn: {e}"));
    assert!(out.contains(" files "), "e2fsck summary: {out}");
    let back = buflet_fs::cat(img, "/nas/demo.bin").unwrap();
    assert_eq!(back.len(), bytes, "debugfs cat length");
    assert_eq!(sha256_hex(&back), want, "debugfs cat bytes");
    // The file's blocks are not one run at a fixed place chosen by us: they are where the file
    // system put them (the raw-disk layout starts at 1 MiB).
    let blocks =
        buflet_fs::map_blocks(img, "/nas/demo.bin", (bytes as u64).div_ceil(4096)).unwrap();
    assert_ne!(blocks[0] * 4096, 1 << 20);
}

/// The demo stream of `bytes` into a file system of `kind` on a kept image, on each backend,
/// and the stock tools agree on the result.
fn stock_tools_agree_on_both_backends(kind: FsKind, bytes: usize) {
    let dir = image_dir();
    for b in Backend::ALL {
        let name = format!("{}-{}.img", kind.name(), b.name());
        let (img, want) = demo_on_image(dir.path(), b, kind, bytes, &name);
        stock_tools_agree(&img, &want, bytes);
    }
}

#[test]
fn ext4_image_checks_clean_and_reads_back_exactly_on_both_backends() {
    stock_tools_agree_on_both_backends(FsKind::Ext4, 400_000 + 123);
}

#[test]
fn ext2_image_with_indirect_blocks_on_both_backends() {
    // More than 12 blocks: ext2's block map needs an indirect block, which is metadata, not
    // file data; the mapping must skip it.
    stock_tools_agree_on_both_backends(FsKind::Ext2, 200 * 4096 + 5);
}

/// A block the NIC wrote wrongly is caught by the stock tools' read-back, not only by our own:
/// corrupt one byte of the file's data on the kept image and debugfs reads a different hash,
/// while the file system itself stays clean.
#[test]
fn debugfs_read_back_catches_a_corrupted_block() {
    use std::os::unix::fs::FileExt;
    let bytes = 50_000;
    let dir = image_dir();
    let (img, want) = demo_on_image(
        dir.path(),
        Backend::Model,
        FsKind::Ext4,
        bytes,
        "corrupt.img",
    );
    let blocks = buflet_fs::map_blocks(&img, "/nas/demo.bin", 1).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, blocks[0] * 4096 + 7).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], blocks[0] * 4096 + 7)
        .unwrap();
    drop(f);
    buflet_fs::fsck(&img).expect("data corruption is not a file-system error");
    let back = buflet_fs::cat(&img, "/nas/demo.bin").unwrap();
    assert_ne!(sha256_hex(&back), want);
}

/// Without `--image` the file is one extent of a raw disk (the fields of the file system are
/// null), as before.
#[test]
fn without_an_image_the_disk_stays_raw() {
    let sc = Scenario::demo(frames::payload(2, 20_000), 1448, 1, 2);
    let r = run_stream(&sc, &RunOptions::new(Backend::Model, 64)).unwrap();
    assert!(r.passed);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["fs"].is_null() && json["file_path"].is_null());
    assert!(json["fsck_clean"].is_null() && json["debugfs_sha256"].is_null());
    assert_eq!(
        json["source_sha256"],
        sha256_hex(&frames::payload(2, 20_000))
    );
}
