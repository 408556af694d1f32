//! An import's outstanding per-object errors: which objects it rejected, and which rejections
//! of earlier runs are over. They ride in the import batches, so they commit with the staged
//! objects they speak of.
//!
//! A rejection stays outstanding while the object is still wrong, including through delta
//! imports that do not read it at all (an unchanged file, an unchanged LDAP entry named only in
//! a present phase). It is over when the object is taken without error (new, changed or as
//! staged), when the source deletes it, or when a complete listing no longer has it.
//! Records without an anchor are known only by where they are (`line 12`): a listing read to
//! its end replaces them with the ones it found.

use std::collections::HashMap;

use ucsync_store::{ErrorStep, ImportBatch, ObjectErrorWrite, Store, StoreError};

/// The anchors with an outstanding import error when the import started, and whether this
/// import has met them (taken, rejected, named unchanged) so far.
pub(crate) struct Outstanding {
    anchors: HashMap<Box<str>, bool, foldhash::quality::RandomState>,
}

impl Outstanding {
    pub async fn load(store: &dyn Store, connector_id: i64) -> Result<Self, StoreError> {
        let anchors = store
            .outstanding_objects(connector_id, ErrorStep::Import)
            .await?
            .into_iter()
            .filter(|(_, anchored)| *anchored)
            .map(|(object, _)| (object.into_boxed_str(), false))
            .collect();
        Ok(Self { anchors })
    }

    /// The object was taken without error, or deleted in the source: its error is over.
    pub fn over(&mut self, anchor: &str, batch: &mut ImportBatch) {
        // Most imports have none: no anchor is hashed for them.
        if !self.anchors.is_empty() && self.anchors.remove(anchor).is_some() {
            batch.cleared.push(anchor.to_owned());
        }
    }

    /// The listing names the object but this import does not take it (unchanged, unreadable):
    /// a complete listing must not take its error for gone.
    pub fn met(&mut self, anchor: &str) {
        if self.anchors.is_empty() {
            return;
        }
        if let Some(seen) = self.anchors.get_mut(anchor) {
            *seen = true;
        }
    }

    /// The import rejected the object: its error is recorded (again) with this run.
    pub fn rejected(
        &mut self,
        batch: &mut ImportBatch,
        anchor: &str,
        locator: Option<&str>,
        message: &str,
    ) {
        self.met(anchor);
        let (name, line) = name_and_line(anchor, locator);
        batch.errors.push(ObjectErrorWrite {
            object: anchor.to_owned(),
            anchored: true,
            name,
            line,
            message: message.to_owned(),
        });
    }

    /// A record that cannot be told by its anchor: known by where it is, when that is known.
    pub fn unidentified(batch: &mut ImportBatch, locator: &str, message: &str) {
        if locator.is_empty() {
            return;
        }
        batch.errors.push(ObjectErrorWrite {
            object: locator.to_owned(),
            anchored: false,
            name: locator.to_owned(),
            line: line_of(locator),
            message: message.to_owned(),
        });
    }

    /// The connector listed its source to the end; when the listing was complete, the objects
    /// with an outstanding error that it did not have are gone, and so are their errors.
    /// A listing of some object types (`only`: the anchors of those types) says nothing of
    /// the others.
    pub fn listed(
        &mut self,
        batch: &mut ImportBatch,
        complete: bool,
        only: Option<&std::collections::HashSet<String>>,
    ) {
        batch.clear_unanchored = true;
        if complete {
            for (anchor, seen) in std::mem::take(&mut self.anchors) {
                if !seen && only.is_none_or(|o| o.contains(&*anchor)) {
                    batch.cleared.push(anchor.into());
                }
            }
        }
    }
}

/// How an administrator finds an object, and its line in a file: a locator that is only a line
/// (`line 12`, a CSV row) gives the line and leaves the name to the anchor (the row's key);
/// any other (a DN, `number 1002 (line 5)`) is the name.
fn name_and_line(anchor: &str, locator: Option<&str>) -> (String, Option<i64>) {
    match locator {
        Some(l) if !l.is_empty() => {
            let line = line_of(l);
            let only_line = l.starts_with("line ") || l.starts_with("lines ");
            let name = if only_line && !anchor.is_empty() {
                anchor.to_owned()
            } else {
                l.to_owned()
            };
            (name, line)
        }
        _ => (anchor.to_owned(), None),
    }
}

/// The first line number a locator names (`line 12`, `lines 12–14`, `… (line 5)`).
fn line_of(locator: &str) -> Option<i64> {
    locator.match_indices("line").find_map(|(at, _)| {
        let word = locator[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let rest = locator[at + 4..]
            .strip_prefix('s')
            .unwrap_or(&locator[at + 4..]);
        let rest = rest.strip_prefix(' ')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if word { digits.parse().ok() } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_locator_gives_the_line_and_keeps_the_key_as_name() {
        assert_eq!(
            name_and_line("jdoe", Some("line 3")),
            ("jdoe".into(), Some(3))
        );
        assert_eq!(
            name_and_line("jdoe", Some("lines 3–5")),
            ("jdoe".into(), Some(3))
        );
        assert_eq!(
            name_and_line("1002", Some("number 1002 (line 5)")),
            ("number 1002 (line 5)".into(), Some(5))
        );
        assert_eq!(
            name_and_line("uuid", Some("cn=a,dc=example,dc=com")),
            ("cn=a,dc=example,dc=com".into(), None)
        );
        assert_eq!(name_and_line("k", None), ("k".into(), None));
        assert_eq!(line_of("cn=Caroline 5,dc=example"), None);
    }
}
