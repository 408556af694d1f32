#!/usr/bin/env python3
"""Whole-run benchmark of a PBX node synchronizer: a MiVoice Business export of N numbers for
N/4 users -> sync-now (pbx -> directory -> accounts CSV), then a delta run where 1% of the
numbers changed, then a run with nothing changed. Prints a table per phase (total and step
times, numbers/s, accounts/s, peak RSS, counters) and a one-line summary.

    CARGO_TARGET_DIR=/work/target-perf cargo build --release
    UCSYNC_BIN=/work/target-perf/release/ucsync python3 bench/pbx_sync.py            # N = 200,000
    UCSYNC_BIN=... python3 bench/pbx_sync.py 8000                                    # smoke run

UCSYNC_BENCH_VERBOSE=1 runs ucsync with -v and keeps its log (and the work directory) to read
where the time goes.
"""
import os, random, shutil, sys, tempfile
from measure import run_ucsync

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("UCSYNC_BIN") or os.path.join(ROOT, "target", "release", "ucsync")
VERBOSE = bool(os.environ.get("UCSYNC_BENCH_VERBOSE"))

ACCOUNT_ATTRS = ["givenName", "sn", "department", "telephoneNumber", "deskphone", "softphone",
                 "ucEndpoint", "softphoneType", "pilot", "pbxGroup", "pbxGroupKind",
                 "dynamicExtension"]

CONFIG = """version = 1
[enterprises.default]
synchronizers = "pbx"
sync_order = ["node", "accounts"]

[connectors.node]
kind = "pbx"
[connectors.node.settings]
path = "mivoice-business.csv"
flavor = "mivoice-business"
feature_profile = "Standard UC"
[connectors.node.rules]
projection = { account = "account" }
[connectors.node.rules.import_flows]
""" + "".join(f'{a} = "{a}"\n' for a in ACCOUNT_ATTRS) + """
[connectors.accounts]
kind = "csv"
[connectors.accounts.settings]
path = "accounts.csv"
object_type = "account"
key = ["account"]
multi_valued = { telephoneNumber = ";", deskphone = ";", softphone = ";", ucEndpoint = ";", dynamicExtension = ";" }
[connectors.accounts.rules]
provisioning = [{ from = "account", object_type = "account" }]
deprovisioning = { action = "delete" }
[connectors.accounts.rules.export_flows]
account = '"${givenName}|${sn}|${department}"'
""" + "".join(f'{a} = "{a}"\n' for a in ACCOUNT_ATTRS + ["featureProfile"])

ACCOUNTS_HEADER = ["account"] + ACCOUNT_ATTRS + ["featureProfile"]
HEADER = "Number,First Name,Last Name,Department,Device Type,MAC Address,Group,Group Kind,Pilot,Dynamic\n"

FIRST = ("Anna Carl Dana Erik Fatima Gustav Hanna Ida Jonas Karin Leo Maria Nils Olga Per Rita "
         "Sven Tove Ulf Vera Axel Britt Cecilia David Elin Filip Greta Hugo Ingrid Johan Klara "
         "Lars Maja Noah Oskar Petra Rasmus Sara Tobias Ylva Alice Bertil Camilla Dennis Emma "
         "Fredrik Gunilla Henrik Isak Julia").split()
LAST = ("Berg Dahl Eklund Fors Gul Holm Ivarsson Jansson Karlsson Lund Moberg Nilsson Olsson "
        "Persson Quist Rydberg Svensson Torstensson Ulander Vik Wallin Ek Ahlgren Bergman Cronholm "
        "Dufva Engstrom Falk Gran Hedlund Isaksson Jonsson Kvist Lindqvist Magnusson Nord Oberg "
        "Palm Rosen Sjoberg Thorn Unger Valentin Westin Almqvist Blom Carlsson Dahlberg Eriksson "
        "Franzen").split()
DEPTS = ("Sales,Support,Finance,IT,Marketing,Legal,Reception,Facilities,HR,Logistics,Purchasing,"
         "Production,Quality,Research,Development,Operations,Security,Training,Customer Care,"
         "Management").split(",")


def identity(i):
    """Unique (first, last, department) for user i: 50 x 50 x 20 = 50,000 before a floor
    number is added to the department."""
    f, l, d = len(FIRST), len(LAST), len(DEPTS)
    dept = DEPTS[(i // (f * l)) % d]
    floor = i // (f * l * d)
    return FIRST[i % f], LAST[(i // f) % l], dept + (f" Floor {floor + 1}" if floor else "")


def mac(prefix, n):
    return prefix + ":" + ":".join(f"{(n >> s) & 0xFF:02X}" for s in (16, 8, 0))


DESK_MAC, MINET_MAC = "08:00:0F", "A1:21:00"


class Export:
    """The rows of a MiVoice Business export, one dict per number, and what each user's
    account is expected to hold. A 20-user cycle of 80 numbers (so N/4 users for N numbers
    when N is a multiple of 80):
      0-6   PRG/MDUG of 4: pilot deskphone, deskphone, Minet softphone (App Server Port), Minet
            softphone (5020 IP with an A1:21:00 MAC)
      7-13  PRG/MDUG of 4: pilot deskphone, deskphone, two UC endpoints
      14    PRG/MDUG of 4: pilot deskphone, deskphone, Minet softphone, UC endpoint (a warning:
            both kinds of softphone)
      15-17 no group: a deskphone and a softphone (App Server Port, 5020 IP A1:21:00 or UC
            endpoint) with equal names
      18    no group: a dynamic-extension deskphone and a UC endpoint
      19    MDUG of 12 (a reception): pilot deskphone, 8 deskphones, 2 dynamic deskphones, a Minet
            softphone
    Group members other than the pilot sometimes carry another department ("... Annex"): the
    pilot's names make the account."""

    def __init__(self, users):
        self.users = users
        self.rows = []          # dicts, in file order
        self.by_user = {}       # user -> [row]
        self.next_number = 2_000_000
        self.next_mac = 0
        for u in range(users):
            self.add_user(u)

    def number(self):
        self.next_number += 1
        return str(self.next_number)

    def mac(self, prefix):
        self.next_mac += 1
        return mac(prefix, self.next_mac)

    def row(self, u, device, mac="", group="", kind="", pilot=False, dynamic=False, other_dept=False):
        first, last, dept = identity(u)
        if other_dept:
            dept += " Annex"
        r = {"number": self.number(), "first": first, "last": last, "dept": dept,
             "device": device, "mac": mac, "group": group, "kind": kind,
             "pilot": pilot, "dynamic": dynamic, "user": u}
        self.rows.append(r)
        self.by_user.setdefault(u, []).append(r)
        return r

    def add_user(self, u):
        c = u % 20
        group, kind = str(1_000_000 + u), ("PRG", "MDUG")[u % 2]
        if c <= 14 or c == 19:
            g = dict(group=group, kind=kind)
            self.row(u, "5330e IP", self.mac(DESK_MAC), pilot=True, **g)
            self.row(u, "5320e IP", self.mac(DESK_MAC), other_dept=(u % 3 == 0), **g)
            if c <= 6:
                self.row(u, "App Server Port", "", **g)
                self.row(u, "5020 IP", self.mac(MINET_MAC), **g)
            elif c <= 13:
                self.row(u, "MiCollab Client Endpoint", "", **g)
                self.row(u, "MiCollab Client Endpoint", "", **g)
            elif c == 14:
                self.row(u, "App Server Port", "", **g)
                self.row(u, "MiCollab Client Endpoint", "", **g)
            else:
                g["kind"] = "MDUG"
                for _ in range(7):
                    self.row(u, "6930 IP", self.mac(DESK_MAC), **g)
                for _ in range(2):
                    self.row(u, "6920 IP", self.mac(DESK_MAC), dynamic=True, **g)
                self.row(u, "App Server Port", "", **g)
        else:
            self.row(u, "6920 IP", self.mac(DESK_MAC), dynamic=(c == 18))
            if c == 15:
                self.row(u, "App Server Port", "")
            elif c == 16:
                self.row(u, "5020 IP", self.mac(MINET_MAC))
            else:
                self.row(u, "MiCollab Client Endpoint", "")

    def change(self, fraction, seed=1):
        """Change about `fraction` of the numbers: for `fraction` of the users one change that
        alters the account (a softphone swapped for the other kind, a 5020 IP replaced by a
        deskphone, a number moved between two users' groups, a pilot moved, a dynamic flag
        set), and deskphone hardware swaps (a new MAC, the account unchanged) on other users'
        rows until `fraction` of the rows differ. Returns (rows changed, users whose account
        changed)."""
        rnd = random.Random(seed)
        picked = rnd.sample(range(self.users), max(1, round(self.users * fraction)))
        changed_rows, changed_users = set(), set()

        def touch(r):
            changed_rows.add(id(r))
            changed_users.add(r["user"])

        for u in picked:
            rows, c = self.by_user[u], u % 20
            if c <= 6:        # the 5020 IP Minet softphone replaced by a 5020 deskphone
                r = rows[3]
                r["mac"] = self.mac(DESK_MAC)
                touch(r)
            elif c <= 13:     # the UC endpoints swapped for Minet softphones
                rows[2]["device"] = "App Server Port"
                rows[3]["device"], rows[3]["mac"] = "5020 IP", self.mac(MINET_MAC)
                touch(rows[2]), touch(rows[3])
            elif c == 14:     # the pilot moves to the second deskphone
                rows[0]["pilot"], rows[1]["pilot"] = False, True
                rows[1]["dept"] = identity(u)[2]    # the new pilot carries the user's names
                touch(rows[0]), touch(rows[1])
            elif c == 15:     # the App Server Port becomes a UC endpoint
                rows[1]["device"] = "MiCollab Client Endpoint"
                touch(rows[1])
            elif c == 16:     # the deskphone becomes a hot desk (dynamic extension)
                rows[0]["dynamic"] = True
                touch(rows[0])
            elif c in (17, 18):  # the UC endpoint replaced by a Minet softphone
                rows[1]["device"] = "App Server Port"
                touch(rows[1])
            else:             # a reception deskphone moves to the group of user u - 5 (c 14)
                r, to = rows[3], u - 5
                first, last, dept = identity(to)
                pilot = self.by_user[to][0]
                r.update(first=first, last=last, dept=dept, group=pilot["group"], kind=pilot["kind"])
                touch(r)
                changed_users.add(to)
        # device replacements that change no account
        target = round(len(self.rows) * fraction)
        candidates = [r for r in self.rows
                      if r["mac"].startswith(DESK_MAC) and id(r) not in changed_rows]
        for r in rnd.sample(candidates, max(0, target - len(changed_rows))):
            r["mac"] = self.mac(DESK_MAC)
            changed_rows.add(id(r))
        return len(changed_rows), len(changed_users)

    def write(self, path):
        yn = lambda b: "yes" if b else "no"
        with open(path, "w", newline="") as f:
            f.write(HEADER)
            for r in self.rows:
                grouped = bool(r["group"])
                f.write(f'{r["number"]},{r["first"]},{r["last"]},{r["dept"]},{r["device"]},'
                        f'{r["mac"]},{r["group"]},{r["kind"]},{yn(r["pilot"]) if grouped else ""},'
                        f'{yn(r["dynamic"])}\n')


def run(work, label, *args):
    """Runs ucsync (through the launcher of measure.py): its wall time, own peak RSS (MiB) and
    CPU seconds, the steps of its run record, its status, counters and warnings."""
    w = run_ucsync(BIN, work, os.path.join(work, f"{label}.log"), args, verbose=VERBOSE)
    warnings = sum(1 for line in w["log_lines"] if " WARN " in line)
    return {"elapsed": w["elapsed"], "rss": w["rss"], "cpu": w["cpu"], "steps": w["steps"],
            "status": w["report"]["status"], "counters": w["report"]["counters"],
            "warnings": warnings}


def counters(c):
    return " ".join(f"{k} {c[k]:,}" for k in ("added", "updated", "deleted", "unchanged", "errors")
                    if c.get(k)) or "none"


def table(title, r, numbers=None, accounts=None):
    print(f"\n{title}")
    rows = [("total (wall)", f"{r['elapsed']:.2f} s")]
    if numbers:
        rows += [("numbers/s", f"{numbers / r['elapsed']:,.0f}"),
                 ("accounts/s", f"{accounts / r['elapsed']:,.0f}")]
    rows += [("peak RSS", f"{r['rss']:.0f} MiB"),
             ("CPU (user + sys)", f"{r['cpu']:.2f} s")]
    for conn, profile, secs, c in r["steps"]:
        rows.append((f"  {conn} {profile}", f"{secs:.2f} s   {counters(c)}"))
    rows.append(("run counters", counters(r["counters"])))
    if r["warnings"]:
        rows.append(("warnings logged", f"{r['warnings']:,}"))
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")


def step(r, conn, profile):
    found = [c for cn, p, _, c in r["steps"] if cn == conn and p == profile]
    if not found:
        sys.exit(f"FAIL: no {conn} {profile} step in the run: {[(cn, p) for cn, p, _, _ in r['steps']]}")
    return found[0]


def phase_secs(r, name):
    return sum(s for _, p, s, _ in r["steps"] if p.replace("delta-", "").replace("full-", "") == name)


def check(cond, msg):
    if not cond:
        sys.exit(f"FAIL: {msg}")


def accounts_rows(work):
    with open(os.path.join(work, "accounts.csv")) as f:
        return sum(1 for _ in f) - 1


def bench(n):
    users = n // 4
    work = tempfile.mkdtemp(prefix=f"ucsync-pbx-bench-{n}-")
    try:
        with open(os.path.join(work, "ucsync.toml"), "w") as f:
            f.write(CONFIG)
        with open(os.path.join(work, "accounts.csv"), "w") as f:
            f.write(",".join(ACCOUNTS_HEADER) + "\n")
        export = Export(users)
        numbers = len(export.rows)
        assert len({r["number"] for r in export.rows}) == numbers
        assert len({identity(u) for u in range(users)}) == users
        path = os.path.join(work, "mivoice-business.csv")
        export.write(path)
        size = os.path.getsize(path)
        print(f"MiVoice Business export: {numbers:,} numbers, {users:,} users, "
              f"{size / 2**20:.1f} MiB ({work})")

        # Phase 1: everything new.
        full = run(work, "full", "sync-now")
        table(f"full sync-now, {numbers:,} numbers -> {users:,} accounts", full, numbers, users)
        check(full["status"] == "success", f"run status {full['status']}")
        imp = step(full, "node", "delta-import")
        check(imp["added"] == users and not imp.get("errors"),
              f"the pbx import added {imp['added']:,} accounts ({imp.get('errors', 0)} errors), expected {users:,}")
        exp = step(full, "accounts", "export")
        check(exp["added"] == users, f"the accounts export added {exp['added']:,}, expected {users:,}")
        check(accounts_rows(work) == users, f"accounts.csv has {accounts_rows(work):,} rows, expected {users:,}")

        # Phase 2: 1% of the numbers changed.
        rows_changed, users_changed = export.change(0.01)
        export.write(path)
        delta = run(work, "delta", "sync-now")
        table(f"delta sync-now, {rows_changed:,} numbers changed ({rows_changed / numbers:.1%}), "
              f"{users_changed:,} accounts changed", delta, numbers, users)
        check(delta["status"] == "success", f"run status {delta['status']}")
        imp = step(delta, "node", "delta-import")
        exp = step(delta, "accounts", "export")
        sync = step(delta, "node", "delta-sync")
        for what, c in (("pbx import", imp), ("pbx sync", sync), ("accounts export", exp)):
            check(c["updated"] == users_changed and not c.get("added") and not c.get("deleted")
                  and not c.get("errors"),
                  f"the {what} counted {counters(c)}; expected {users_changed:,} updated only")
        check(accounts_rows(work) == users, f"accounts.csv has {accounts_rows(work):,} rows, expected {users:,}")

        # Phase 3: nothing changed.
        same = run(work, "unchanged", "sync-now")
        table("sync-now, nothing changed", same)
        imp = step(same, "node", "delta-import")
        check(not any(imp.get(k) for k in ("added", "updated", "deleted", "errors")),
              f"the unchanged pbx import counted {counters(imp)}")

        print(f"\nsummary N={numbers:,} numbers / {users:,} accounts: full {full['elapsed']:.2f} s "
              f"({numbers / full['elapsed']:,.0f} numbers/s, {users / full['elapsed']:,.0f} accounts/s, "
              f"import {phase_secs(full, 'import'):.2f} / sync {phase_secs(full, 'sync'):.2f} / "
              f"export {phase_secs(full, 'export'):.2f} s, {full['rss']:.0f} MiB); "
              f"delta {rows_changed:,} numbers, {users_changed:,} accounts: {delta['elapsed']:.2f} s "
              f"(import {phase_secs(delta, 'import'):.2f} / sync {phase_secs(delta, 'sync'):.2f} / "
              f"export {phase_secs(delta, 'export'):.2f} s, {delta['rss']:.0f} MiB); "
              f"unchanged {same['elapsed']:.2f} s")
    finally:
        if VERBOSE:
            print(f"kept {work} (logs: full.log, delta.log, unchanged.log)")
        else:
            shutil.rmtree(work)


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit(f"build first: cargo build --release (or set UCSYNC_BIN); no {BIN}")
    for arg in sys.argv[1:] or ["200000"]:
        bench(int(arg))
