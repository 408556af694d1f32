//! The data directory is private to the user ucsync runs as: the directory and `status/` in it
//! are 0700; the store `ucsync.db` with its `-wal` and `-shm` files, the lock file, the secret
//! key and the status files are 0600. New ones are made so (no process umask is changed: files
//! ucsync writes elsewhere, such as CSV exports, keep the usual modes). A directory or file
//! found open to other users (left by an older build, or made by hand) is tightened, with a
//! warning that says so; one that cannot be (another owner) is warned about. SQLite gives the
//! `-wal` and `-shm` files the mode of the database file, which is therefore made 0600 before
//! SQLite first opens it. This module knows file modes, not what the files hold.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of the data directory and the directories in it.
pub const PRIVATE_DIR: u32 = 0o700;
/// Mode of every file in the data directory.
pub const PRIVATE_FILE: u32 = 0o600;
/// The store's file in the data directory.
pub const STORE_FILE: &str = "ucsync.db";
/// Where runs write their status files.
pub const STATUS_DIR: &str = "status";
/// The files ucsync keeps in the data directory, tightened at every open.
const KNOWN_FILES: &[&str] = &[
    "ucsync.db",
    "ucsync.db-wal",
    "ucsync.db-shm",
    "ucsync.db-journal",
    "ucsync.lock",
    "secret.key",
    "secret.key.new",
];

/// Creates `dir` and its `status/` private (0700), or tightens them. When either was open to
/// other users, everything in them is tightened too; otherwise the files ucsync keeps there.
pub fn make_private(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let loose = private_dir(dir)?;
    let status_loose = private_dir(&dir.join(STATUS_DIR))?;
    if loose || status_loose {
        let mut changed = 0;
        let mut refused = Vec::new();
        tighten_tree(dir, &mut changed, &mut refused);
        if changed > 0 {
            tracing::warn!(
                "the data directory {} was open to other users: made it and {changed} file(s) and directories in it private to the user ucsync runs as (directories 700, files 600)",
                dir.display()
            );
        }
        for (path, e) in refused {
            tracing::warn!(
                "{} is open to other users and cannot be made private ({e}); its owner can run chmod go= {}",
                path,
                path
            );
        }
    } else {
        for name in KNOWN_FILES {
            tighten(&dir.join(name), PRIVATE_FILE, "the file");
        }
    }
    Ok(())
}

/// [`make_private`], then the store's file made 0600 if it does not exist yet, so that SQLite's
/// `-wal` and `-shm` files, which take its mode, are private too.
pub(crate) fn prepare_store(dir: &Path) -> io::Result<()> {
    make_private(dir)?;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    private_file(&mut options).open(dir.join(STORE_FILE))?;
    Ok(())
}

/// Creates `dir` with mode 0700, or tightens it; true when it was open to other users.
fn private_dir(dir: &Path) -> io::Result<bool> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR);
    match builder.create(dir) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {
            Ok(tighten(dir, PRIVATE_DIR, "the directory"))
        }
        Err(e) => Err(e),
    }
}

/// Tightens every directory and file under `dir` (not following symbolic links).
fn tighten_tree(dir: &Path, changed: &mut usize, refused: &mut Vec<(String, io::Error)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let want = if kind.is_dir() {
            PRIVATE_DIR
        } else if kind.is_file() {
            PRIVATE_FILE
        } else {
            continue;
        };
        match tighten_quietly(&path, want) {
            Ok(true) => *changed += 1,
            Ok(false) => {}
            Err(e) => refused.push((path.display().to_string(), e)),
        }
        if kind.is_dir() {
            tighten_tree(&path, changed, refused);
        }
    }
}

/// Takes the group's and others' permissions off `path` (`what` names it in the warning);
/// true when it had any. A missing file is left alone.
pub(crate) fn tighten(path: &Path, want: u32, what: &str) -> bool {
    match tighten_quietly(path, want) {
        Ok(changed) => {
            if changed {
                tracing::warn!(
                    "{what} {} was open to other users: made it private to the user ucsync runs as",
                    path.display()
                );
            }
            changed
        }
        Err(e) => {
            tracing::warn!(
                "{what} {} is open to other users and cannot be made private ({e}); its owner can run chmod go= {}",
                path.display(),
                path.display()
            );
            true
        }
    }
}

#[cfg(unix)]
fn tighten_quietly(path: &Path, want: u32) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o777 & !want == 0 {
        return Ok(false);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & want))?;
    Ok(true)
}

#[cfg(not(unix))]
fn tighten_quietly(_path: &Path, _want: u32) -> io::Result<bool> {
    Ok(false)
}

/// `options` making a new file 0600.
pub(crate) fn private_file(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, PRIVATE_FILE);
    options
}

/// Sets an open file's mode (whatever it was made with).
pub(crate) fn set_mode_of(file: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (file, mode);
    Ok(())
}

/// Makes a file's creation or rename in its directory durable; best effort.
pub(crate) fn sync_dir(file: &Path) {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
