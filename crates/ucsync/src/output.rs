//! Writing to stdout and stderr without panicking. `println!` and friends panic when the reader
//! has gone away (`ucsync runs | head`: "failed printing to stdout: Broken pipe", exit 101).
//! Here a closed pipe, or any other failed write, ends that stream's output quietly: later
//! writes to it are skipped, the command finishes what it was doing (a run is recorded as
//! usual) and exits with its own code.
//!
//! The crate root shadows `print!`, `println!`, `eprint!` and `eprintln!` with macros that
//! write through here, so every command (and every command added later) prints this way.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `args` (and a line break when `newline`) to stdout, unless stdout failed before.
pub fn out(args: fmt::Arguments<'_>, newline: bool) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    if let Err(e) = write(&mut lock, args, newline) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            err(
                format_args!(
                    "error: cannot write to stdout ({e}); the rest of the output is left out"
                ),
                true,
            );
        }
    }
}

/// Writes `args` (and a line break when `newline`) to stderr, unless stderr failed before.
pub fn err(args: fmt::Arguments<'_>, newline: bool) {
    if STDERR_GONE.load(Ordering::Relaxed) {
        return;
    }
    let stderr = io::stderr();
    let mut lock = stderr.lock();
    if write(&mut lock, args, newline).is_err() {
        // Nowhere is left to say so.
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

fn write(w: &mut impl Write, args: fmt::Arguments<'_>, newline: bool) -> io::Result<()> {
    w.write_fmt(args)?;
    if newline {
        w.write_all(b"\n")?;
    }
    w.flush()
}
