//! Bytes on disk: telling the encoding from a BOM, decoding UTF-16 LE while hashing the raw
//! bytes, encoding UTF-16 LE on write, and replacing a file atomically (temporary file in the
//! same directory, fsync, rename).
//!
//! This module knows files, encodings and the CSV dialect; it knows nothing of attributes,
//! anchors or the settings' column mapping.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use encoding_rs_io::DecodeReaderBytesBuilder;
use xxhash_rust::xxh3::Xxh3;

use super::config::FileEncoding;
use super::reader::{self, Record, Records};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16BE_BOM: &[u8] = b"\xFE\xFF";

/// The running hash and length of the raw bytes read so far.
#[derive(Default)]
pub struct ByteTally {
    hasher: Xxh3,
    len: u64,
}

impl ByteTally {
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn digest(&self) -> u64 {
        self.hasher.digest()
    }
}

/// Passes bytes through and tallies them.
pub struct Tallying<R> {
    inner: R,
    tally: Rc<RefCell<ByteTally>>,
}

impl<R: Read> Read for Tallying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tally.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

/// The length and xxh3-64 of a whole file, read in chunks.
pub fn hash_file(file: &mut File) -> io::Result<(u64, u64)> {
    let mut tally = ByteTally::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((tally.len(), tally.digest()));
        }
        tally.update(&buf[..n]);
    }
}

/// A record reader over a file's text (decoded to UTF-8 when the file is UTF-16 LE; left as
/// bytes when it is UTF-8, so invalid sequences are found field by field), with the tally of the
/// raw bytes read.
pub struct Opened {
    pub reader: Records<BufReader<Box<dyn Read>>>,
    pub encoding: FileEncoding,
    /// The file starts with a BOM.
    pub bom: bool,
    pub tally: Rc<RefCell<ByteTally>>,
}

/// The encoding a file's first bytes say, and the length of its BOM (`0` without one): a
/// UTF-8 or UTF-16 LE BOM wins over the configured encoding. `None` for a UTF-16 big-endian
/// BOM, which no kind reads. Shared by every kind that reads delimited files.
pub(crate) fn sniff_bom(start: &[u8], configured: FileEncoding) -> Option<(FileEncoding, usize)> {
    if start.starts_with(UTF8_BOM) {
        Some((FileEncoding::Utf8, UTF8_BOM.len()))
    } else if start.starts_with(UTF16LE_BOM) {
        Some((FileEncoding::Utf16Le, UTF16LE_BOM.len()))
    } else if start.starts_with(UTF16BE_BOM) {
        None
    } else {
        Some((configured, 0))
    }
}

/// Opens a CSV stream over `file`: a UTF-8 or UTF-16 LE BOM decides the encoding, else
/// `configured` does. The BOM itself is not part of the text. `None` when the file starts with a
/// UTF-16 big-endian BOM, which this connector does not read.
pub fn open_records(
    file: File,
    configured: FileEncoding,
    delimiter: u8,
) -> io::Result<Option<Opened>> {
    let tally = Rc::new(RefCell::new(ByteTally::default()));
    let mut raw = Tallying {
        inner: file,
        tally: Rc::clone(&tally),
    };
    let mut start = Vec::with_capacity(3);
    (&mut raw).take(3).read_to_end(&mut start)?;
    let Some((encoding, bom_len)) = sniff_bom(&start, configured) else {
        return Ok(None);
    };
    let bom = bom_len > 0;
    let text = io::Cursor::new(start[bom_len..].to_vec()).chain(raw);
    let text: Box<dyn Read> = match encoding {
        FileEncoding::Utf8 => Box::new(text),
        FileEncoding::Utf16Le => Box::new(
            DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding_rs::UTF_16LE))
                .build(text),
        ),
    };
    let reader = Records::new(BufReader::with_capacity(64 * 1024, text), delimiter);
    Ok(Some(Opened {
        reader,
        encoding,
        bom,
        tally,
    }))
}

/// Encodes the UTF-8 written to it as UTF-16 LE, keeping a character split across two writes
/// until it is whole.
pub struct Utf16LeWriter<W> {
    inner: W,
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl<W: Write> Utf16LeWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            out: Vec::new(),
        }
    }
}

impl<W: Write> Write for Utf16LeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "text to write as UTF-16 LE is not valid UTF-8",
                ));
            }
        };
        let text = std::str::from_utf8(&self.pending[..valid]).unwrap_or_default();
        self.out.clear();
        for unit in text.encode_utf16() {
            self.out.extend_from_slice(&unit.to_le_bytes());
        }
        self.inner.write_all(&self.out)?;
        self.pending.drain(..valid);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A CSV file being written beside its target; it replaces the target only on
/// [`commit`](AtomicCsv::commit), and vanishes when dropped before.
pub struct AtomicCsv {
    temp: tempfile::NamedTempFile,
    writer: ::csv::Writer<Box<dyn Write + Send>>,
    target: PathBuf,
}

impl AtomicCsv {
    /// Starts a file that will replace `target`. With `create_dirs`, missing parent directories
    /// are created.
    pub fn create(
        target: &Path,
        delimiter: u8,
        encoding: FileEncoding,
        utf8_bom: bool,
        create_dirs: bool,
    ) -> io::Result<Self> {
        let dir = parent_dir(target);
        if create_dirs {
            std::fs::create_dir_all(&dir)?;
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ucsync".to_owned());
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // A new file gets the usual mode (0666 less the umask), not a temporary file's 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        // Held while this file is written: what a killed write leaves is told apart by it. The
        // file is created and locked under `STARTING`, so that a sweep of this process never
        // sees it between the two.
        let temp = {
            let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
            let temp = builder.tempfile_in(&dir)?;
            temp.as_file().lock()?;
            temp
        };
        remove_stale_temps(&dir, |target| target == name);
        let mut file = temp.as_file().try_clone()?;
        let sink: Box<dyn Write + Send> = match encoding {
            FileEncoding::Utf8 => {
                if utf8_bom {
                    file.write_all(UTF8_BOM)?;
                }
                Box::new(file)
            }
            FileEncoding::Utf16Le => {
                file.write_all(UTF16LE_BOM)?;
                Box::new(Utf16LeWriter::new(file))
            }
        };
        let writer = ::csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(::csv::Terminator::CRLF)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .from_writer(sink);
        Ok(Self {
            temp,
            writer,
            target: target.to_owned(),
        })
    }

    /// Makes the file readable and writable by its owner only (0600), before any row is written
    /// to it: for files in the private data directory, such as import status files.
    pub fn make_private(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.temp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    pub fn write_row<I, T>(&mut self, fields: I) -> io::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writer.write_record(fields).map_err(csv_to_io)
    }

    /// Flushes, syncs to disk and renames over the target (keeping the target's permissions).
    pub fn commit(self) -> io::Result<()> {
        let AtomicCsv {
            temp,
            mut writer,
            target,
        } = self;
        writer.flush()?;
        let mut sink = writer.into_inner().map_err(|e| e.into_error())?;
        sink.flush()?;
        drop(sink);
        if let Ok(meta) = std::fs::metadata(&target) {
            temp.as_file().set_permissions(meta.permissions())?;
        }
        temp.as_file().sync_all()?;
        temp.persist(&target).map_err(|e| e.error)?;
        sync_dir(&parent_dir(&target));
        Ok(())
    }
}

/// Held while a temporary file is created and locked, and while a sweep looks for unlocked
/// ones: otherwise a sweep of another run of this process (status files of several enterprises
/// share one directory) could take a temporary file created an instant ago for stale.
static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Removes the temporary files killed writes left in `dir`: those whose target's name `of`
/// accepts and that no writer holds locked any more (a writer holds its temporary file locked
/// while it writes). Best effort: one that cannot be removed stays for the next write.
pub fn remove_stale_temps(dir: &Path, of: impl Fn(&str) -> bool) {
    let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        // `.NAME.XXXXXX.tmp`, XXXXXX the random part tempfile gives a name.
        let Some((target, random)) = name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.rsplit_once('.'))
        else {
            continue;
        };
        if random.len() != 6 || !random.bytes().all(|b| b.is_ascii_alphanumeric()) || !of(target) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() && std::fs::remove_file(&path).is_ok() {
            tracing::info!(file = %path.display(), "removed a temporary file an interrupted write left");
        }
    }
}

/// The directory a file is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Makes a rename in `dir` durable; best effort (not every platform can open a directory).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Converts a CSV reading or writing error to the I/O error it almost always is.
pub fn csv_to_io(e: ::csv::Error) -> io::Error {
    match e.into_kind() {
        ::csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Why a header line could not be read.
pub enum HeaderError {
    Io(io::Error),
    /// The 1-based column whose name is not valid text in the file's encoding.
    BadText(usize),
    /// The header's quoting is damaged: what [`reader::damage`] says of it.
    Quoting(String),
}

impl Opened {
    /// The first record's fields as trimmed column names, or `None` when the file has no line.
    pub fn header(&mut self) -> Result<Option<Vec<String>>, HeaderError> {
        let mut record = Record::default();
        match self.reader.read(&mut record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Err(HeaderError::Io(e)),
        }
        if record.quoting.is_some() {
            let delimiter = self.reader.delimiter();
            let damage = reader::damage(&record, record.len(), delimiter, |i| {
                format!("column {}", i + 1)
            });
            return Err(HeaderError::Quoting(damage.unwrap_or_default()));
        }
        let utf16 = self.encoding == FileEncoding::Utf16Le;
        let mut names = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let text = std::str::from_utf8(field).ok();
            // A NUL in a name is most likely UTF-16 read as UTF-8.
            let bad = |s: &str| s.contains('\0') || (utf16 && s.contains('\u{FFFD}'));
            match text {
                Some(s) if !bad(s) => names.push(
                    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
                        .to_owned(),
                ),
                _ => return Err(HeaderError::BadText(i + 1)),
            }
        }
        Ok(Some(names))
    }
}
