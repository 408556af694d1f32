//! Randomly damaged source files never deprovision anybody whose row is still there: 300 damaged
//! copies of a small forest file (a line cut off, a quote inserted or removed, a NUL byte, an
//! invalid UTF-8 byte, a line broken in two), each synced from the same clean state (a copy of
//! its store and files), and no run exports the deletion of an object whose row is intact in the
//! damaged file. The damage is seeded, so a failure names a case that can be run again.

use std::path::Path;

use ucsync_engine::Profile;

use crate::harness::Hub;

const CASES: usize = 300;
const ROWS: usize = 12;

const CONFIG: &str = r#"version = 1
[enterprises.default]
sync_order = ["central", "forest"]

[connectors.forest]
kind = "csv"
[connectors.forest.settings]
path = "forest.csv"
key = ["employeeId"]
[connectors.forest.rules]
projection = { person = "person" }
[connectors.forest.rules.import_flows]
uid = "employeeId"
givenName = "givenName"
sn = "sn"
displayName = "displayName"
mail = "mail"

[connectors.central]
kind = "csv"
[connectors.central.settings]
path = "central.csv"
object_type = "contact"
key = ["externalId"]
header = ["externalId", "displayName", "email"]
[connectors.central.rules]
join = [{ staged = "externalId", directory = "uid" }]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.central.rules.export_flows]
externalId = "uid"
displayName = "displayName"
email = "mail"
"#;

/// The clean forest: every display name quoted (it holds the delimiter).
fn forest() -> String {
    let mut s = String::from("employeeId,givenName,sn,displayName,mail\n");
    for i in 1..=ROWS {
        s.push_str(&format!(
            "{i},Given{i},Sur{i},\"Sur{i}, Given{i}\",user{i}@forest.example\n"
        ));
    }
    s
}

/// xorshift64*: a seeded sequence, enough to pick damage.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// A byte offset inside a line of `text` (not at its line break), past the header.
fn inside_a_line(text: &[u8], rng: &mut Rng) -> usize {
    let header = text.iter().position(|&b| b == b'\n').unwrap_or(0) + 1;
    loop {
        let at = header + rng.below(text.len() - header);
        if text[at] != b'\n' && (at == 0 || text[at - 1] != b'\n') {
            return at;
        }
    }
}

/// One damaged copy of `clean`, and what was done to it.
fn damage(clean: &str, case: usize, rng: &mut Rng) -> (Vec<u8>, String) {
    let mut text = clean.as_bytes().to_vec();
    let at = inside_a_line(&text, rng);
    let what = match case % 6 {
        0 => {
            text.truncate(at);
            format!("cut off at byte {at}")
        }
        1 => {
            text.insert(at, b'"');
            format!("a quote inserted at byte {at}")
        }
        2 => {
            let quotes: Vec<usize> = (0..text.len()).filter(|&i| text[i] == b'"').collect();
            let q = quotes[rng.below(quotes.len())];
            text.remove(q);
            format!("the quote at byte {q} removed")
        }
        3 => {
            text.insert(at, 0);
            format!("a NUL inserted at byte {at}")
        }
        4 => {
            let byte = [0xFF, 0xC3, 0x80, 0xED][rng.below(4)];
            text.insert(at, byte);
            format!("byte {byte:#04X} inserted at byte {at}")
        }
        _ => {
            text.insert(at, b'\n');
            format!("a line break inserted at byte {at}")
        }
    };
    (text, what)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The clean state: the forest synced to the central file, the store closed.
async fn clean_state() -> tempfile::TempDir {
    let hub = Hub::new(CONFIG, &[("forest.csv", &forest())]).await;
    hub.write("central.csv", "externalId,displayName,email\n");
    hub.sync_ok().await;
    assert_eq!(hub.read("central.csv").lines().count(), ROWS + 1);
    let dir = hub.close();
    // The store's connections close on their own thread; its write-ahead log goes with them.
    let wal = dir.path().join("data/ucsync.db-wal");
    for _ in 0..500 {
        if !wal.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_damage_deletes_an_object_whose_row_is_intact() {
    let clean = clean_state().await;
    let clean_forest = forest();
    let mut rng = Rng(0x5EED_0017_0000_0004);
    let mut deleted_total = 0;
    for case in 0..CASES {
        let (damaged, what) = damage(&clean_forest, case, &mut rng);
        let dir = tempfile::tempdir().unwrap();
        copy_dir(clean.path(), dir.path());
        std::fs::write(dir.path().join("forest.csv"), &damaged).unwrap();
        let hub = Hub::open(dir, CONFIG).await;
        let report = hub.sync_now().await;

        // The rows still whole in the damaged file, by key.
        let text = String::from_utf8_lossy(&damaged);
        let lines: Vec<&str> = text.split('\n').collect();
        let intact: Vec<String> = clean_forest
            .lines()
            .skip(1)
            .filter(|row| lines.contains(row))
            .filter_map(|row| row.split(',').next().map(str::to_owned))
            .collect();
        let deletes: Vec<String> = report
            .steps
            .iter()
            .filter(|s| s.connector.as_deref() == Some("central") && s.profile == Profile::Export)
            .map(|s| s.counters.deleted)
            .map(|n| n.to_string())
            .collect();
        let exported = hub.read("central.csv");
        let central: Vec<&str> = exported
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .collect();
        let gone: Vec<&String> = intact
            .iter()
            .filter(|k| !central.contains(&k.as_str()))
            .collect();
        assert!(
            gone.is_empty(),
            "case {case} ({what}): the contacts of intact rows {gone:?} were deleted \
             (export deletes: {deletes:?})\n{report:#?}\ndamaged file:\n{text}"
        );
        deleted_total += ROWS + 1 - exported.lines().count().min(ROWS + 1);
    }
    // Cut-off files lose whole rows too: those deletions are allowed, and some happen.
    eprintln!("{CASES} damaged files; {deleted_total} contacts of rows no longer in them deleted");
}
