//! Reading delimited text record by record (csv-core underneath), keeping what the `csv`
//! crate's reader hides: the physical lines a record spans, whether it ended with a line break,
//! and quoting that does not close where it should. csv-core ends a quoted value that is never
//! closed at the end of the input without complaint, and appends text that follows a closing
//! quote to the value: that is how one damaged quote swallows the rows after it. A value that
//! legitimately spans lines (quoted, closed, followed by a delimiter or the end of its line) is
//! told apart from both.
//!
//! This module knows the CSV dialect (RFC 4180 quoting with `"`, doubled inside a quoted value;
//! CR, LF or CRLF ending a line; empty lines skipped); it knows nothing of columns, attributes
//! or connectors. The csv and pbx connectors both read their files with it.

use std::io::{self, BufRead};

use csv_core::ReadRecordResult;

const QUOTE: u8 = b'"';

/// Records read one after the other from a buffered text stream.
pub struct Records<R> {
    input: R,
    /// Counts the line feeds it consumes, which [`Records::line`] corrects for carriage returns.
    core: csv_core::Reader,
    delimiter: u8,
    /// Carriage returns consumed that were no line feed's CR: each ended a line of its own (a
    /// file with CR line endings, or a CR alone in a value).
    lone_crs: u64,
    /// The last byte consumed was a CR (a LF after it ends no further line).
    after_cr: bool,
}

/// Quoting that does not close where it should; fields are counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// The quoted value of `field`, opened on `line`, is never closed: it runs to the end of
    /// the input.
    Unclosed { field: usize, line: u64 },
    /// Text follows the quote that closes the value of `field` on `line` (the value was opened
    /// on line `opened`), so that quote was most likely another value's opening quote, and the
    /// value opened too early or was not closed.
    TextAfterQuote {
        field: usize,
        opened: u64,
        line: u64,
    },
}

/// One record: its fields as bytes, and where and how it lies in the input.
#[derive(Debug, Default)]
pub struct Record {
    fields: Vec<u8>,
    ends: Vec<usize>,
    len: usize,
    /// The bytes of the input the record was read from, when it took more than one read of
    /// the input (else they are looked at where they are).
    raw: Vec<u8>,
    /// The line the record starts on.
    pub line: u64,
    /// The line the record ends on (after `line` when a quoted value holds line breaks).
    pub last_line: u64,
    /// The record ended with a line break, not at the end of the input.
    pub terminated: bool,
    /// Quoting that does not close where it should, when the record has any.
    pub quoting: Option<Quoting>,
}

impl Record {
    /// The number of fields.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.fields.get(start..self.ends[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len).filter_map(|i| self.get(i))
    }

    /// Every field's bytes, one after the other.
    pub fn bytes(&self) -> &[u8] {
        let end = if self.len == 0 {
            0
        } else {
            self.ends[self.len - 1]
        };
        &self.fields[..end]
    }

    /// Whether a field holds a NUL byte, which no text holds. Eight bytes are looked at a time:
    /// this runs for every record.
    pub fn has_nul(&self) -> bool {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let bytes = self.bytes();
        let mut words = bytes.chunks_exact(8);
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & (ONES << 7) != 0;
        words.any(|w| zero(u64::from_le_bytes(w.try_into().unwrap_or([1; 8]))))
            || words.remainder().contains(&0)
    }

    /// The lines the record spans, for messages: `line 7` or `lines 7–12`.
    pub fn lines(&self) -> String {
        span(self.line, self.last_line)
    }
}

/// `line N` or `lines N–M`.
pub fn span(first: u64, last: u64) -> String {
    if last > first {
        format!("lines {first}–{last}")
    } else {
        format!("line {first}")
    }
}

/// What is wrong with the shape of a record that should have `width` fields: quoting that does
/// not close where it should, or another number of fields. The message names the line(s), the
/// lines a quote swallowed and where to look; the caller adds how to get the file read again.
/// `column(i)` names field `i` (from 0), e.g. `column 3 ("sn")`.
pub fn damage(
    record: &Record,
    width: usize,
    delimiter: u8,
    column: impl Fn(usize) -> String,
) -> Option<String> {
    if record.quoting.is_none() && record.len() == width {
        return None;
    }
    let lines = record.lines();
    let swallowed = || span(record.line + 1, record.last_line);
    match record.quoting {
        Some(Quoting::Unclosed { field, line }) if record.last_line > line => {
            return Some(format!(
                "{lines} were read as one row: the quoted value of {} opened on line {line} is never closed, so it runs to the end of the file and swallowed {}; close it with a quote (a quote inside a quoted value is written twice: \"\")",
                column(field),
                span(line + 1, record.last_line)
            ));
        }
        Some(Quoting::Unclosed { field, .. }) => {
            return Some(format!(
                "{lines}: the quoted value of {} is never closed: the file ends inside it, so it looks cut off; close the quote, or write the whole file again",
                column(field)
            ));
        }
        Some(Quoting::TextAfterQuote {
            field,
            opened,
            line,
        }) if record.last_line > record.line => {
            return Some(format!(
                "{lines} were read as one row: the quoted value of {} opened on line {opened} closes only at a quote on line {line} that other text follows, so {} were swallowed; look for an unbalanced quote on line {opened}",
                column(field),
                swallowed()
            ));
        }
        Some(Quoting::TextAfterQuote { field, .. }) => {
            return Some(format!(
                "{lines}, {}: text follows the quote that closes its quoted value; write a quote inside a quoted value twice (\"\"), or quote the whole value",
                column(field)
            ));
        }
        None => {}
    }
    let n = record.len();
    if n == width {
        return None;
    }
    Some(if record.last_line > record.line {
        format!(
            "{lines} were read as one row of {n} fields but the header has {width}: a quoted value holds line breaks, so a quote on line {} is probably unbalanced and swallowed {}; look for it",
            record.line,
            swallowed()
        )
    } else if !record.terminated && n < width {
        format!(
            "{lines}, the last line, has {n} field{} but the header has {width} and ends without a line break: the file looks cut off; write the whole file again",
            if n == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{lines} has {n} field{} but the header has {width}; look for a missing or extra \"{}\" or an unbalanced quote on this line",
            if n == 1 { "" } else { "s" },
            char::from(delimiter).escape_default()
        )
    })
}

impl<R: BufRead> Records<R> {
    pub fn new(input: R, delimiter: u8) -> Self {
        let core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(QUOTE)
            .build();
        Self {
            input,
            core,
            delimiter,
            lone_crs: 0,
            after_cr: false,
        }
    }

    /// Reads the next record into `record`; `false` at the end of the input.
    pub fn read(&mut self, record: &mut Record) -> io::Result<bool> {
        record.raw.clear();
        record.len = 0;
        if record.fields.is_empty() {
            record.fields.resize(1024, 0);
        }
        if record.ends.is_empty() {
            record.ends.resize(16, 0);
        }
        let (mut outlen, mut endlen) = (0, 0);
        let (line, after_cr, lfs_before) = (self.line(), self.after_cr, self.core.line());
        loop {
            let input = self.input.fill_buf()?;
            let at_end = input.is_empty();
            let (res, nin, nout, nend) = self.core.read_record(
                input,
                &mut record.fields[outlen..],
                &mut record.ends[endlen..],
            );
            outlen += nout;
            endlen += nend;
            if res == ReadRecordResult::Record {
                record.len = endlen;
                let read = &input[..nin];
                let (delimiter, kept) = (self.delimiter, outlen);
                // Most records are read at once: their bytes are looked at where they are.
                if !record.raw.is_empty() {
                    record.raw.extend_from_slice(read);
                }
                let raw = std::mem::take(&mut record.raw);
                let bytes = if raw.is_empty() { read } else { &raw[..] };
                let lfs = self.core.line() - lfs_before;
                let lone = place(
                    record,
                    bytes,
                    !at_end,
                    (line, after_cr, lfs),
                    (delimiter, kept),
                );
                self.lone_crs = self.lone_crs.wrapping_add_signed(lone);
                self.after_cr = bytes.last() == Some(&b'\r');
                record.raw = raw;
                self.input.consume(nin);
                return Ok(true);
            }
            record.raw.extend_from_slice(&input[..nin]);
            self.input.consume(nin);
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let n = record.fields.len();
                    record.fields.resize(n * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = record.ends.len();
                    record.ends.resize(n * 2, 0);
                }
                // (A record was taken above.)
                ReadRecordResult::Record | ReadRecordResult::End => return Ok(false),
            }
        }
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The line the next record starts on or after: a CR, a LF or a CRLF ends a line.
    pub fn line(&self) -> u64 {
        self.core.line() + self.lone_crs
    }

    /// The underlying input, for reading what follows the last record.
    pub fn into_inner(self) -> R {
        self.input
    }
}

/// Works out a record's lines and quoting from the bytes it was read from: the line the first
/// of them was on, whether the byte before them was a CR, and how many line feeds they hold
/// (csv-core counted them); `kept` bytes of them are the fields' bytes. Returns the CRs among
/// them that end a line of their own (see [`breaks`]).
fn place(
    record: &mut Record,
    raw: &[u8],
    terminated: bool,
    (line, after_cr, lfs): (u64, bool, u64),
    (delimiter, kept): (u8, usize),
) -> i64 {
    // Line breaks before the record (the LF of a CRLF, empty lines) are not part of it.
    let skipped = raw
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(raw.len());
    let content = &raw[skipped..];
    // Nor is the line break that ended it; and a quoted value the file ends in holds the
    // file's last line break: no line follows it.
    let ends_at = if terminated {
        content.len().saturating_sub(1)
    } else {
        content
            .iter()
            .rposition(|b| !matches!(b, b'\r' | b'\n'))
            .map_or(0, |i| i + 1)
    };
    let (lead, body, tail) = (&raw[..skipped], &content[..ends_at], &content[ends_at..]);
    let after = |n: usize| match n {
        0 => after_cr,
        n => raw[n - 1] == b'\r',
    };
    let (body_after_cr, tail_after_cr) = (after(skipped), after(skipped + ends_at));
    // csv-core drops the line breaks around a record, the delimiters, and the quotes of quoted
    // values (a quote inside an unquoted value is kept). Only a record that lost more bytes than
    // the first two has a quoted value, whose quoting is then followed byte by byte; only a
    // quoted value holds line breaks, so only its CRs are looked for.
    let structure = skipped + record.len.saturating_sub(1) + usize::from(terminated);
    let quoted = raw.len() - kept > structure;
    let (lead_breaks, lead_lone) = breaks(lead, after_cr);
    let (tail_breaks, tail_lone) = breaks(tail, tail_after_cr);
    let lone = lead_lone
        + tail_lone
        + if quoted {
            breaks(body, body_after_cr).1
        } else {
            0
        };
    record.line = line + lead_breaks;
    record.last_line = (line + lfs).wrapping_add_signed(lone) - tail_breaks;
    record.terminated = terminated;
    record.quoting = if quoted {
        quoting(body, delimiter, record.line)
    } else {
        None
    };
    lone
}

/// The lines `bytes` end (a CR, a LF or a CRLF each end one), and the CRs among them that
/// end a line of their own, i.e. are not followed by the LF that csv-core counts (a CR last is
/// counted now; a LF first after a CR is then no new line, which csv-core counted, so it takes
/// one back). `after_cr` says the byte before them was a CR. Counted over the parts of a record
/// in turn, each told whether the part before ended in a CR, the parts add up to the whole.
fn breaks(bytes: &[u8], after_cr: bool) -> (u64, i64) {
    match bytes {
        // The usual parts around a record: nothing, its terminator, the LF of a CRLF.
        [] => (0, 0),
        [b'\r'] => (1, 1),
        [b'\n'] if after_cr => (0, -1),
        [b'\n'] => (1, 0),
        _ => {
            let (mut ends, mut lone, mut after_cr) = (0, 0, after_cr);
            for (i, &b) in bytes.iter().enumerate() {
                if b == b'\r' || (b == b'\n' && !after_cr) {
                    ends += 1;
                }
                if b == b'\r' && bytes.get(i + 1) != Some(&b'\n') {
                    lone += 1;
                }
                if i == 0 && b == b'\n' && after_cr {
                    lone -= 1;
                }
                after_cr = b == b'\r';
            }
            (ends, lone)
        }
    }
}

/// Follows the quoting of one record's bytes (without its final line break), starting on
/// `line`: a quoted value that is not closed by the end, or a closing quote followed by
/// something other than a delimiter or a doubled quote.
fn quoting(body: &[u8], delimiter: u8, mut line: u64) -> Option<Quoting> {
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        /// A quote inside a quoted value: a doubled quote, or the closing one.
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut field = 0;
    let mut opened = line;
    let mut after_cr = false;
    for &b in body {
        state = match state {
            State::FieldStart if b == QUOTE => {
                opened = line;
                State::Quoted
            }
            State::FieldStart | State::Unquoted if b == delimiter => {
                field += 1;
                State::FieldStart
            }
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted if b == QUOTE => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if b == QUOTE => State::Quoted,
            State::QuoteInQuoted if b == delimiter => {
                field += 1;
                State::FieldStart
            }
            State::QuoteInQuoted => {
                return Some(Quoting::TextAfterQuote {
                    field,
                    opened,
                    line,
                });
            }
        };
        // A CR, a LF or a CRLF ends one line.
        if b == b'\r' || (b == b'\n' && !after_cr) {
            line += 1;
        }
        after_cr = b == b'\r';
    }
    match state {
        State::Quoted => Some(Quoting::Unclosed {
            field,
            line: opened,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record as read: fields as text, first and last line, terminated, quoting.
    type Read = (Vec<String>, u64, u64, bool, Option<Quoting>);

    /// Every record of `text`, read at once and read three bytes at a time (a record then
    /// takes several reads of the input): both ways must give the same.
    fn read_all(text: &str) -> Vec<Read> {
        let at_once = read_with(text.as_bytes());
        let small = std::io::BufReader::with_capacity(3, text.as_bytes());
        assert_eq!(read_with(small), at_once, "{text:?}");
        at_once
    }

    fn read_with(input: impl BufRead) -> Vec<Read> {
        let mut records = Records::new(input, b',');
        let mut record = Record::default();
        let mut out = Vec::new();
        while records.read(&mut record).unwrap() {
            out.push((
                record
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
                record.line,
                record.last_line,
                record.terminated,
                record.quoting,
            ));
        }
        out
    }

    fn fields(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lines_count_from_one_and_skip_empty_lines_and_crlf() {
        let got = read_all("a,b\r\n\r\n\nc,d\r\ne,\"f\r\ng\"\r\nh,i");
        assert_eq!(
            got,
            [
                (fields(&["a", "b"]), 1, 1, true, None),
                (fields(&["c", "d"]), 4, 4, true, None),
                (fields(&["e", "f\r\ng"]), 5, 6, true, None),
                (fields(&["h", "i"]), 7, 7, false, None),
            ]
        );
    }

    #[test]
    fn a_cr_alone_ends_a_line_and_a_crlf_split_between_reads_ends_one() {
        let got = read_all("a,b\r\rc,d\re,\"f\rg\"\rh,i\r\n\r\nj,k\n\rl,m");
        assert_eq!(
            got,
            [
                (fields(&["a", "b"]), 1, 1, true, None),
                (fields(&["c", "d"]), 3, 3, true, None),
                (fields(&["e", "f\rg"]), 4, 5, true, None),
                (fields(&["h", "i"]), 6, 6, true, None),
                (fields(&["j", "k"]), 8, 8, true, None),
                (fields(&["l", "m"]), 10, 10, false, None),
            ]
        );
        // A quote never closed names the line it opened on.
        let got = read_all("1,a\r2,\"b,c\r3,d,e\r");
        assert_eq!((got[1].1, got[1].2), (2, 3));
        assert_eq!(got[1].4, Some(Quoting::Unclosed { field: 1, line: 2 }));
        // Line by line in a long file, whatever the read boundaries.
        for ending in ["\r\n", "\r", "\n"] {
            let text: String = (1..=500)
                .map(|i| format!("{i},\"x{ending}y\"{ending}"))
                .collect();
            for cap in [1, 2, 3, 7, 64] {
                let input = std::io::BufReader::with_capacity(cap, text.as_bytes());
                let mut records = Records::new(input, b',');
                let mut record = Record::default();
                let mut i = 0;
                while records.read(&mut record).unwrap() {
                    assert_eq!(
                        (record.line, record.last_line),
                        (2 * i + 1, 2 * i + 2),
                        "{ending:?} {cap}"
                    );
                    i += 1;
                }
                assert_eq!(i, 500);
            }
        }
    }

    #[test]
    fn a_value_that_spans_lines_and_doubled_quotes_are_good_quoting() {
        let got = read_all("1,\"Smith, \"\"J\"\"\nJr\",x\n2,\"\",y\n");
        assert_eq!(got[0].0, fields(&["1", "Smith, \"J\"\nJr", "x"]));
        assert_eq!((got[0].1, got[0].2, got[0].4), (1, 2, None));
        assert_eq!(got[1].0, fields(&["2", "", "y"]));
        assert_eq!(got[1].4, None);
    }

    #[test]
    fn a_quote_never_closed_runs_to_the_end_and_is_named_by_its_line() {
        let got = read_all("1,a,b\n2,\"b,c\n3,d,e\n4,f,g\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, fields(&["2", "b,c\n3,d,e\n4,f,g\n"]));
        assert_eq!((got[1].1, got[1].2), (2, 4));
        assert_eq!(got[1].4, Some(Quoting::Unclosed { field: 1, line: 2 }));
        // Cut off inside a quoted value on the last line.
        let got = read_all("1,a,b\n2,\"b");
        assert_eq!(got[1].4, Some(Quoting::Unclosed { field: 1, line: 2 }));
        assert!(!got[1].3);
    }

    #[test]
    fn a_quote_that_closes_on_another_values_opening_quote_is_found() {
        // The quote before "Ann" opens too early; it closes on the quote that opens "Smith".
        let got = read_all("1,\"Ann,x\n2,b,c\n3,\"Smith, J\",y\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].1, got[0].2), (1, 3));
        assert_eq!(
            got[0].4,
            Some(Quoting::TextAfterQuote {
                field: 1,
                opened: 1,
                line: 3
            })
        );
        // On one line too.
        let got = read_all("1,\"Ann\"x,y\n");
        assert_eq!(
            got[0].4,
            Some(Quoting::TextAfterQuote {
                field: 1,
                opened: 1,
                line: 1
            })
        );
    }

    #[test]
    fn a_quote_inside_an_unquoted_value_is_taken_as_it_is() {
        let got = read_all("1,5'10\",x\n");
        assert_eq!(got[0].0, fields(&["1", "5'10\"", "x"]));
        assert_eq!(got[0].4, None);
    }

    #[test]
    fn a_nul_is_found_in_any_field_at_any_place() {
        for at in 0..20 {
            let mut text = b"abcdefghij,klmnopqrst\n".to_vec();
            let at = if at >= 10 { at + 1 } else { at };
            text[at] = 0;
            let mut records = Records::new(&text[..], b',');
            let mut record = Record::default();
            assert!(records.read(&mut record).unwrap());
            assert!(record.has_nul(), "at {at}");
        }
        let mut records = Records::new(&b"abcdefghij,klmnopqrst\n"[..], b',');
        let mut record = Record::default();
        assert!(records.read(&mut record).unwrap());
        assert!(!record.has_nul());
    }

    #[test]
    fn long_records_grow_the_buffers() {
        let long = "x".repeat(5000);
        let many = vec!["y"; 100].join(",");
        let got = read_all(&format!("{long},{many}\n"));
        assert_eq!(got[0].0.len(), 101);
        assert_eq!(got[0].0[0], long);
    }
}
