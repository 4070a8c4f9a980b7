//! The file system is real: stock e2fsprogs check it and read back exactly what was written to
//! the blocks the mapping gave (the way the NIC's block engine writes them).

use std::os::unix::fs::FileExt;

use buflet_fs::{
    cat, check, format_with_file, fsck, image_bytes_for, is_buflet_image, zero_blocks, FsKind,
    BLOCK, PLACEHOLDER,
};
use buflet_nas::FileMap;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// A path `name` in a directory removed when the returned guard drops (every exit path).
fn image(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("buflet-fs-test-")
        .tempdir()
        .unwrap();
    let p = dir.path().join(name);
    (dir, p)
}

fn write_through_map(kind: FsKind, len: u64, name: &str) {
    let (_tmp, img) = image(name);
    let file = format_with_file(&img, image_bytes_for(len), kind, "/nas/upload.bin", len).unwrap();
    assert_eq!(file.blocks.len() as u64, len.div_ceil(BLOCK));
    let mut data = vec![0u8; len as usize];
    rand_chacha::ChaCha8Rng::seed_from_u64(len).fill_bytes(&mut data);
    // Whole blocks at the mapped disk addresses, the last one padded with zeros past EOF.
    let disk = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    for (i, chunk) in data.chunks(BLOCK as usize).enumerate() {
        let mut block = vec![0u8; BLOCK as usize];
        block[..chunk.len()].copy_from_slice(chunk);
        let addr = file.disk_addr(i as u64 * BLOCK).unwrap();
        assert_eq!(addr % BLOCK, 0);
        disk.write_all_at(&block, addr).unwrap();
    }
    drop(disk);
    fsck(&img).expect("e2fsck -fn finds no error");
    let back = cat(&img, "/nas/upload.bin").unwrap();
    assert_eq!(back.len(), data.len());
    assert_eq!(
        hex::encode(Sha256::digest(&back)),
        hex::encode(Sha256::digest(&data))
    );
}

#[test]
fn ext4_file_reads_back_exactly() {
    write_through_map(FsKind::Ext4, 1_000_003, "ext4.img");
}

#[test]
fn ext2_file_with_indirect_blocks_reads_back_exactly() {
    // > 12 blocks: the block map needs indirect blocks, which are not file data.
    write_through_map(FsKind::Ext2, 300 * 4096 + 17, "ext2.img");
}

#[test]
fn unwritten_block_shows_the_placeholder_not_zeros() {
    let (_tmp, img) = image("hole.img");
    let len = 3 * BLOCK;
    let file = format_with_file(&img, image_bytes_for(len), FsKind::Ext4, "/a.bin", len).unwrap();
    let disk = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    disk.write_all_at(&[7u8; 4096], file.disk_addr(0).unwrap())
        .unwrap();
    drop(disk);
    let back = cat(&img, "/a.bin").unwrap();
    assert!(back[..4096].iter().all(|&b| b == 7));
    assert_eq!(&back[4096..4096 + 16], PLACEHOLDER);
}

#[test]
fn bad_path_and_kind_are_clear_errors() {
    let (_tmp, img) = image("bad.img");
    let e = format_with_file(&img, 64 << 20, FsKind::Ext4, "rel/x", 10).unwrap_err();
    assert!(e.to_string().contains("must be absolute"), "{e}");
    let e = "ntfs".parse::<FsKind>().unwrap_err();
    assert!(e.to_string().contains("ext2 or ext4"), "{e}");
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A file prepared for scattered writes (an SMB2 upload) reads as zeros where nothing was
/// written, stays allocated (the map still holds), and the check reports the tools' verdicts.
#[test]
fn zeroed_file_reads_zeros_between_writes_and_checks_clean() {
    let (_tmp, img) = image("zeroed.img");
    let len = 5 * BLOCK + 100;
    let file = format_with_file(&img, image_bytes_for(len), FsKind::Ext4, "/s/u.bin", len).unwrap();
    zero_blocks(&img, &file).unwrap();
    let disk = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    disk.write_all_at(&[9u8; 10], file.disk_addr(2 * BLOCK).unwrap() + 5)
        .unwrap();
    drop(disk);
    let mut want = vec![0u8; len as usize];
    want[2 * BLOCK as usize + 5..2 * BLOCK as usize + 15].fill(9);
    let c = check(&img, "/s/u.bin", sha);
    assert!(c.fsck_clean, "{}", c.fsck_summary);
    assert!(c.fsck_summary.contains("files"), "{}", c.fsck_summary);
    assert_eq!(c.debugfs_bytes, len);
    assert_eq!(c.debugfs_sha256, sha(&want));
    // The blocks are still the file's: zeroing made no hole.
    assert_eq!(
        buflet_fs::map_blocks(&img, "/s/u.bin", 6).unwrap(),
        file.blocks
    );
    // A broken file system is reported, not hidden: clobber the superblock's magic.
    let disk = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    disk.write_all_at(&[0u8; 2], 1024 + 56).unwrap();
    drop(disk);
    let c = check(&img, "/s/u.bin", sha);
    assert!(!c.fsck_clean);
    assert!(c.debugfs_sha256.is_empty());
}

#[test]
fn debugfs_cat_of_a_missing_file_is_an_error_not_empty_bytes() {
    let (_tmp, img) = image("missing.img");
    format_with_file(&img, image_bytes_for(10), FsKind::Ext4, "/a.bin", 10).unwrap();
    let e = cat(&img, "/nope.bin").unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    assert_eq!(cat(&img, "/a.bin").unwrap().len(), 10);
}

/// Only images this crate made count as Buflet images (what `--image` may overwrite without
/// `--force`): not a text file, not a short file, not an image of another UUID.
#[test]
fn buflet_images_are_recognized_and_nothing_else() {
    let (_tmp, img) = image("mine.img");
    format_with_file(&img, image_bytes_for(5000), FsKind::Ext2, "/a.bin", 5000).unwrap();
    assert!(is_buflet_image(&img));
    let mut other = std::fs::read(&img).unwrap();
    other[1024 + 104] ^= 1;
    let p = img.with_file_name("other.img");
    std::fs::write(&p, &other).unwrap();
    assert!(!is_buflet_image(&p), "another UUID");
    std::fs::write(&p, "notes\n".repeat(1000)).unwrap();
    assert!(!is_buflet_image(&p), "a text file");
    std::fs::write(&p, b"x").unwrap();
    assert!(!is_buflet_image(&p), "a short file");
    assert!(!is_buflet_image(&img.with_file_name("missing.img")));
}
