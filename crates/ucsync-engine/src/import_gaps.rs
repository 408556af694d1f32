//! What makes an import's listing incomplete, and the run's message that says so.

/// Unreadable records named in the run's message; the run's errors name every one.
const NAMED_UNREAD: usize = 3;

/// What an import could not read: records reported unreadable, and what the connector said
/// its listing misses.
#[derive(Default)]
pub(crate) struct Gaps {
    unread: u64,
    /// Where the first unreadable records are (`line 12`, a DN).
    first: Vec<String>,
    /// What the connector said its listing misses ([`ImportSink::incomplete`]).
    pub(crate) missed: Vec<String>,
}

impl Gaps {
    pub(crate) fn any(&self) -> bool {
        self.unread > 0 || !self.missed.is_empty()
    }

    pub(crate) fn unreadable(&mut self, locator: &str) {
        self.unread += 1;
        if self.first.len() < NAMED_UNREAD && !locator.is_empty() {
            self.first.push(locator.to_owned());
        }
    }

    /// The run's message for a listing that deleted nothing; `kept` staged objects were not in it.
    pub(crate) fn message(&self, kept: usize) -> String {
        let mut why = Vec::new();
        let mut todo = Vec::new();
        if self.unread > 0 {
            let mut at = self.first.join(", ");
            let more = self.unread.saturating_sub(self.first.len() as u64);
            if more > 0 {
                at.push_str(&format!(" and {more} more"));
            }
            why.push(format!(
                "{} record{} could not be read{}",
                self.unread,
                plural(self.unread),
                if at.is_empty() {
                    String::new()
                } else {
                    format!(" ({at})")
                }
            ));
            todo.push(if at.is_empty() {
                "fix the records this run's errors name".to_owned()
            } else {
                format!("fix {at} as this run's errors say")
            });
        }
        if let Some(first) = self.missed.first() {
            why.push(first.clone());
            if self.missed.len() > 1 {
                why.push(format!(
                    "and {} more gap{} (see this run's errors)",
                    self.missed.len() - 1,
                    plural((self.missed.len() - 1) as u64)
                ));
            }
            todo.push("close the gap".to_owned());
        }
        format!(
            "the listing is incomplete: {}; so no deletions were inferred in this run{}. To find them, {} and run the import again",
            why.join("; "),
            match kept {
                0 => String::new(),
                n => format!(
                    " ({n} staged object{} not in the listing {} kept)",
                    plural(n as u64),
                    if n == 1 { "was" } else { "were" }
                ),
            },
            todo.join(", then ")
        )
    }
}

/// ", N more read were not stored", when some were not.
pub(crate) fn not_stored(n: i64) -> String {
    if n > 0 {
        format!("; {n} more read were not stored")
    } else {
        String::new()
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
