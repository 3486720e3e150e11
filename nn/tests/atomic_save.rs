//! `serialize::write_atomic` (and `save`, built on it): concurrent savers, stale temporary
//! files, symlinks, permissions, non-regular targets, and no temporary file left behind.

use std::path::{Path, PathBuf};

use ferrograd_nn::serialize::{Error, write_atomic};
use ferrograd_nn::*;

fn model(seed: u64) -> Sequential<f32> {
    let mut rng = init::rng(seed);
    Sequential::new()
        .add(Linear::new(3, 4, &mut rng))
        .add(Linear::new(4, 2, &mut rng))
}

fn weights(m: &Sequential<f32>) -> Vec<Vec<f32>> {
    m.parameters().iter().map(|p| p.value().to_vec()).collect()
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn two_concurrent_savers_to_one_path_leave_a_valid_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let savers: Vec<_> = (0..2u64)
        .map(|seed| {
            let path = path.clone();
            std::thread::spawn(move || {
                let m = model(seed);
                for _ in 0..40 {
                    m.save(&path).unwrap();
                }
            })
        })
        .collect();
    for s in savers {
        s.join().unwrap();
    }
    let loaded = model(9);
    loaded.load(&path).unwrap();
    let w = weights(&loaded);
    assert!(w == weights(&model(0)) || w == weights(&model(1)));
    assert_eq!(listing(dir.path()), ["w.safetensors"]);
}

#[test]
fn a_stale_temporary_file_from_a_killed_writer_is_neither_read_nor_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    // What killed writers leave: the old fixed name (here even a directory, which made
    // every later save fail), and a unique name in the new scheme, half written.
    std::fs::create_dir(dir.path().join("w.safetensors.tmp")).unwrap();
    let stale = dir.path().join(".w.safetensors.a1b2c3.tmp");
    std::fs::write(&stale, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"half").unwrap();
    model(0).save(&path).unwrap();
    let loaded = model(1);
    loaded.load(&path).unwrap();
    assert_eq!(weights(&loaded), weights(&model(0)));
    assert_eq!(
        std::fs::read(&stale).unwrap(),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{\"half"
    );
    assert_eq!(
        listing(dir.path()),
        [
            ".w.safetensors.a1b2c3.tmp",
            "w.safetensors",
            "w.safetensors.tmp"
        ]
    );
}

#[cfg(unix)]
#[test]
fn saving_through_a_symlink_updates_its_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.safetensors");
    model(0).save(&real).unwrap();
    let link = dir.path().join("link.safetensors");
    std::os::unix::fs::symlink("real.safetensors", &link).unwrap();
    model(1).save(&link).unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let loaded = model(2);
    loaded.load(&real).unwrap();
    assert_eq!(weights(&loaded), weights(&model(1)));
    // A link to a link, and a dangling link, whose target is then created.
    let chain = dir.path().join("chain.safetensors");
    std::os::unix::fs::symlink(&link, &chain).unwrap();
    model(3).save(&chain).unwrap();
    loaded.load(&real).unwrap();
    assert_eq!(weights(&loaded), weights(&model(3)));
    let dangling = dir.path().join("dangling.safetensors");
    std::os::unix::fs::symlink("new.safetensors", &dangling).unwrap();
    model(4).save(&dangling).unwrap();
    assert!(dir.path().join("new.safetensors").is_file());
    assert_eq!(
        listing(dir.path()),
        [
            "chain.safetensors",
            "dangling.safetensors",
            "link.safetensors",
            "new.safetensors",
            "real.safetensors"
        ]
    );
}

#[cfg(unix)]
#[test]
fn saving_keeps_the_permissions_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o600, 0o640, 0o755] {
        let path = dir.path().join(format!("w{mode:o}.safetensors"));
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        model(0).save(&path).unwrap();
        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, mode, "{got:o} != {mode:o}");
    }
}

fn refusal(path: &Path) -> String {
    let e = write_atomic(path, |w| w.write_all(b"data")).unwrap_err();
    assert!(matches!(e, Error::NotAFile { .. }), "{e}");
    e.to_string()
}

#[cfg(unix)]
#[test]
fn devices_directories_and_fifos_are_refused_naming_the_path() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert_eq!(
        refusal(&sub),
        format!(
            "{}: is a directory, not a regular file; refusing to replace it",
            sub.display()
        )
    );
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(
        refusal(&fifo),
        format!(
            "{}: is a fifo, not a regular file; refusing to replace it",
            fifo.display()
        )
    );
    assert_eq!(
        refusal(Path::new("/dev/null")),
        "/dev/null: is a character device, not a regular file; refusing to replace it"
    );
    // Through a symlink too; the message names the path as given.
    let link = dir.path().join("null.safetensors");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let e = model(0).save(&link).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: is a character device, not a regular file; refusing to replace it",
            link.display()
        )
    );
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(listing(dir.path()), ["fifo", "null.safetensors", "sub"]);
    assert!(listing(&sub).is_empty());
}

#[test]
fn a_failed_or_panicking_write_leaves_the_old_file_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.txt");
    write_atomic(&path, |w| w.write_all(b"complete")).unwrap();
    let e = write_atomic(&path, |w| {
        w.write_all(b"half")?;
        Err(std::io::Error::other("disk on fire"))
    })
    .unwrap_err();
    assert_eq!(e.to_string(), format!("{}: disk on fire", path.display()));
    let panicked = std::panic::catch_unwind(|| {
        write_atomic(&path, |w| {
            w.write_all(b"half")?;
            panic!("serialiser bug")
        })
    });
    assert!(panicked.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"complete");
    assert_eq!(listing(dir.path()), ["log.txt"]);
}

#[test]
fn a_missing_directory_is_an_io_error_naming_the_path() {
    let path = PathBuf::from("/nonexistent-ferrograd/w.safetensors");
    let e = model(0).save(&path).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("/nonexistent-ferrograd/w.safetensors: "),
        "{e}"
    );
}
