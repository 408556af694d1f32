#!/usr/bin/env python3
"""Communities benchmark: N communities of M members each (from U people) on the testkit's fake
HCL Connections server -> sync-now (communities and their people projected into the
directory, members resolved to the people's entries), against a plain client that downloads
the same Atom pages one after another; then a delta run after K communities changed. Prints
wall times, objects/s, the ratio of ucsync's import (and of its whole sync-now) to the plain
client, the peak RSS and CPU of ucsync, the CPU the fake server spent, and each step's time and
counters from the run records.

    cargo build --release -p ucsync -p ucsync-testkit --bin ucsync --bin fake-connections
    python3 bench/communities.py                    # N = 10000, M = 50, U = 20000, K = 100
    ... python3 bench/communities.py 500 20 2000 10 # smoke run: N M U K

The fake server (`fake-connections`, crates/ucsync-testkit) runs on a free loopback port over
plain HTTP and is stopped at the end, also on error. It speaks the read side of the documented
Communities Atom API; its communities feed cuts `ps` to 500, so both clients read pages of
500 (the connector's default `page_size`). UCSYNC_BENCH_CONCURRENCY=C sets the connector's
`concurrency` (member feeds read at once; default 8, 1 reads them one after another like the
plain client). UCSYNC_BENCH_VERBOSE=1 runs ucsync with -v and keeps the work directory and
each run's log.
"""
import base64, gc, http.client, json, os, re, shutil, subprocess, sys, tempfile, time
from measure import run_ucsync
from urllib.parse import urlencode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("UCSYNC_BIN") or os.path.join(ROOT, "target", "release", "ucsync")
FAKE = os.environ.get("FAKE_CONNECTIONS_BIN") or os.path.join(os.path.dirname(BIN), "fake-connections")
VERBOSE = bool(os.environ.get("UCSYNC_BENCH_VERBOSE"))
CONCURRENCY = os.environ.get("UCSYNC_BENCH_CONCURRENCY")

PAGE_SIZE = 500         # the connector's default page_size; the fake cuts the communities feed to 500
ADMIN, PASSWORD = "admin", "bench-Secret-1"
PASSWORD_ENV = "UCSYNC_BENCH_CONNECTIONS_PASSWORD"
ALL_PATH = "/communities/service/atom/communities/all"
MEMBERS_PATH = "/communities/service/atom/community/members"

# Persons are projected too, so that a community's members and owners are references to the
# people's entries (an enterprise reference attribute), not unresolved members. The flows apply
# to both object types; each has only its own attributes.
CONFIG = """version = 1
[enterprises.default]
references = ["member", "owner"]

[connectors.communities]
kind = "communities"
[connectors.communities.settings]
protocol = "http"
host = "127.0.0.1"
port = {port}
user = "{user}"
password_env = "{password_env}"
page_size = {page_size}
# The fake stamps every populated community with the time it started; a delta run soon after
# the full one would read them all again within the default 60 s overlap.
overlap_secs = 0
{concurrency}
[connectors.communities.rules]
projection = {{ community = "community", person = "person" }}
[connectors.communities.rules.import_flows]
name = "name"
description = "description"
member = "member"
owner = "owner"
userid = "userid"
displayName = "displayName"
email = "email"
"""

TOTAL = re.compile(rb"<opensearch:totalResults>(\d+)</opensearch:totalResults>")
UUID = re.compile(rb"<snx:communityUuid>([^<]+)</snx:communityUuid>")


def uuid(i):
    """The uuid of the fake's i-th (1-based) populated community (`populated_uuid`)."""
    return f"00000000-0000-4000-8000-{i:012d}"


def userid(i):
    """The fake's i-th (1-based) populated person (`populated_userid`)."""
    return f"user{i:05d}"


def expected_members(i, m, u):
    """The userids of the fake's community i as `populate` makes it: M consecutive people,
    wrapping round, the first the owner."""
    m = max(1, min(m, u))
    start = (i - 1) * m
    return [userid((start + j) % u + 1) for j in range(m)]


class Fake:
    """The fake Connections server: its process, port and log."""

    def __init__(self, work, n, m, u):
        self.log = os.path.join(work, "fake-connections.log")
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen([FAKE, "--communities", str(n), "--members", str(m),
                                          "--users", str(u), "--admin", f"{ADMIN}:{PASSWORD}"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err)
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "listening":
            self.stop()
            sys.exit(f"fake-connections did not start (said {line}); see {self.log}")
        self.port = int(line[1])
        self.ready = time.monotonic()

    def cpu(self):
        """User and system CPU seconds the server has used so far."""
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")

    def change(self, k):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", f"/__fake/change?communities={k}")
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        if r.status != 200 or body.strip() != f"changed {k}":
            sys.exit(f"POST /__fake/change?communities={k} answered {r.status}: {body}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def plain_download(port, ps):
    """The same pages ucsync's full import reads, one after another on one keep-alive
    connection, each body read whole: every page of the communities feed, then each
    community's members feed (role=all) page by page. Only the uuids and the announced totals
    are picked out of the bodies (by regex), nothing else is parsed. Returns (seconds,
    requests, bytes, communities, memberships)."""
    auth = "Basic " + base64.b64encode(f"{ADMIN}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": auth, "Accept": "application/atom+xml"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    requests = size = 0

    def get(path, query):
        nonlocal requests, size
        conn.request("GET", f"{path}?{urlencode(query)}", headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"plain client: GET {path}?{urlencode(query)} answered {r.status}: {body[:500]}")
        requests += 1
        size += len(body)
        return body

    def feed(path, query, entries):
        """Reads pages as the connector does: until the first page's total is read, or an
        empty page. `entries(body)` counts (or collects) one page's entries."""
        total, read = None, 0
        for page in range(1, 1_000_000):
            body = get(path, query + [("page", page), ("ps", ps)])
            if total is None:
                total = int(TOTAL.search(body).group(1))
            got = entries(body)
            read += got
            if got == 0 or read >= total:
                return read

    # The script's own objects are none of the client's business: Python's collector would
    # walk them all while the pages are read.
    gc.collect()
    gc.disable()
    t = time.monotonic()
    uuids = []
    feed(ALL_PATH, [], lambda body: _extend(uuids, UUID.findall(body)))
    memberships = 0
    for u in uuids:
        memberships += feed(MEMBERS_PATH, [("communityUuid", u.decode()), ("role", "all")],
                            lambda body: body.count(b"<entry>"))
    elapsed = time.monotonic() - t
    gc.enable()
    conn.close()
    return elapsed, requests, size, len(uuids), memberships


def _extend(into, found):
    into.extend(found)
    return len(found)


def run(work, label, *args):
    """Runs ucsync (through the launcher of measure.py); returns its wall time, its own peak
    RSS (MiB) and CPU seconds, the steps of its run record as (connector, profile, seconds,
    counters), its status and counters."""
    env = dict(os.environ, **{PASSWORD_ENV: PASSWORD})
    w = run_ucsync(BIN, work, os.path.join(work, f"{label}.log"), args, env, VERBOSE)
    # A first run in a new data directory warns that it made the secret key.
    warnings = sum(1 for line in w["log_lines"]
                   if " WARN " in line and "made the secret key" not in line)
    return {"elapsed": w["elapsed"], "rss": w["rss"], "cpu": w["cpu"], "steps": w["steps"],
            "status": w["report"]["status"], "counters": w["report"]["counters"],
            "warnings": warnings}


def directory(work, object_type):
    """The directory's entries of one type, as `ucsync directory search --json` lists them."""
    out = subprocess.run([BIN, "--json", "--config", os.path.join(work, "ucsync.toml"),
                          "--data-dir", os.path.join(work, "data"), "directory", "search",
                          "--type", object_type, "--limit", "100000000"],
                         capture_output=True, text=True, env=dict(os.environ, **{PASSWORD_ENV: PASSWORD}))
    if out.returncode != 0:
        sys.exit(f"ucsync directory search --type {object_type} exited {out.returncode}:\n{out.stderr}")
    return json.loads(out.stdout)


def values(entry, attr):
    return entry["attributes"].get(attr, {}).get("values", [])


def counters(c):
    return " ".join(f"{k} {c[k]:,}" for k in ("added", "updated", "deleted", "unchanged", "errors")
                    if c.get(k)) or "none"


def step_secs(r, phase):
    return sum(s for _, p, s, _ in r["steps"] if p.replace("delta-", "").replace("full-", "") == phase)


def step(r, phase):
    found = [(p, c) for _, p, _, c in r["steps"] if p.replace("delta-", "").replace("full-", "") == phase]
    if len(found) != 1:
        sys.exit(f"FAIL: expected one {phase} step in the run: {[(cn, p) for cn, p, _, _ in r['steps']]}")
    return found[0][1]


def table(title, r, objects=None, extra=()):
    print(f"\n{title}")
    rows = [("total (wall)", f"{r['elapsed']:.2f} s")]
    if objects:
        rows.append(("objects/s", f"{objects / r['elapsed']:,.0f}"))
    rows += [("peak RSS", f"{r['rss']:.0f} MiB"),
             ("CPU (user + sys)", f"{r['cpu']:.2f} s")]
    rows += list(extra)
    for conn, profile, secs, c in r["steps"]:
        rows.append((f"  {conn} {profile}", f"{secs:.2f} s   {counters(c)}"))
    rows.append(("run counters", counters(r["counters"])))
    if r["warnings"]:
        rows.append(("warnings logged", f"{r['warnings']:,}"))
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")


def check(cond, msg):
    if not cond:
        sys.exit(f"FAIL: {msg}")


def check_directory(work, n, m, u, changed):
    """The directory holds the N communities, named as the fake names them (the first
    `changed` renamed by the change), each with its M members and its owner resolved to the
    people's entries (no unresolved member); and one person entry per member."""
    people = {values(e, "userid")[0]: e["id"] for e in directory(work, "person") if values(e, "userid")}
    communities = directory(work, "community")
    check(len(communities) == n, f"the directory holds {len(communities):,} communities, expected {n:,}")
    by_name = {values(c, "name")[0]: c for c in communities if values(c, "name")}
    check(len(by_name) == n, f"{n - len(by_name):,} community entries have no name or share one")
    ids = {v: k for k, v in people.items()}
    renamed = 0
    for i in range(1, n + 1):
        name = f"Community {i:05d}" + (" (change 1)" if i <= changed else "")
        c = by_name.get(name)
        check(c is not None, f"no community named {name!r} in the directory")
        renamed += i <= changed
        unresolved = [a for a in c["attributes"] if a.startswith("unresolved")]
        check(not unresolved, f"{name} has unresolved references: {unresolved}")
        members = sorted(ids.get(int(v), f"entry {v}") for v in values(c, "member"))
        owner, *plain = expected_members(i, m, u)
        if i <= changed:
            # The change dropped the last plain member (by userid) and added the first userid
            # that was no member: the admin.
            plain = sorted(plain)[:-1] + [ADMIN]
        want = sorted([owner] + plain)
        check(members == want, f"{name} has members {members[:5]}…, expected {want[:5]}…")
        owners = [ids.get(int(v), f"entry {v}") for v in values(c, "owner")]
        check(owners == [owner], f"{name} has owners {owners}, expected [{owner!r}]")
    return len(people), renamed


def bench(n, m, u, k):
    work = tempfile.mkdtemp(prefix=f"ucsync-communities-bench-{n}-")
    fake = None
    try:
        fake = Fake(work, n, m, u)
        with open(os.path.join(work, "ucsync.toml"), "w") as f:
            f.write(CONFIG.format(port=fake.port, user=ADMIN, password_env=PASSWORD_ENV,
                                  page_size=PAGE_SIZE,
                                  concurrency=f"concurrency = {CONCURRENCY}" if CONCURRENCY else ""))
        persons = min(u, n * max(1, min(m, u)))
        memberships = n * max(1, min(m, u))
        objects = n + persons
        print(f"fake Connections on port {fake.port}: {n:,} communities of {m:,} members "
              f"({memberships:,} memberships) from {u:,} people ({work})")

        # The plain client: the same pages, one after another.
        cpu = fake.cpu()
        plain, requests, size, got, read = plain_download(fake.port, PAGE_SIZE)
        plain_cpu = fake.cpu() - cpu
        check(got == n and read == memberships,
              f"the plain client read {got:,} communities and {read:,} memberships, expected {n:,} and {memberships:,}")
        print(f"\nplain client, {requests:,} pages one after another on one keep-alive connection: "
              f"{plain:.2f} s, {size / 2**20:.1f} MiB, {requests / plain:,.0f} pages/s; "
              f"fake server CPU {plain_cpu:.2f} s")

        # The delta's watermark is the server's clock (whole seconds) when the full import
        # began: the populated communities must be older than that second.
        time.sleep(max(0.0, fake.ready + 1.1 - time.monotonic()))

        # Full: everything new.
        cpu = fake.cpu()
        full = run(work, "full", "sync-now")
        full_cpu = fake.cpu() - cpu
        imp_secs = step_secs(full, "import")
        table(f"full sync-now, {n:,} communities + {persons:,} persons ({memberships:,} memberships)",
              full, objects,
              [("import / plain client", f"{imp_secs / plain:.2f}"),
               ("sync-now / plain client", f"{full['elapsed'] / plain:.2f}"),
               ("fake server CPU", f"{full_cpu:.2f} s")])
        check(full["status"] == "success", f"run status {full['status']}")
        imp = step(full, "import")
        check(imp.get("added") == objects and not imp.get("errors"),
              f"the import counted {counters(imp)}, expected {objects:,} added")
        people, _ = check_directory(work, n, m, u, 0)
        check(people == persons, f"the directory holds {people:,} persons, expected {persons:,}")

        # Delta: K communities renamed, one member swapped in each.
        fake.change(k)
        cpu = fake.cpu()
        delta = run(work, "delta", "sync-now")
        delta_cpu = fake.cpu() - cpu
        table(f"delta sync-now, {k:,} communities changed", delta, None,
              [("fake server CPU", f"{delta_cpu:.2f} s")])
        check(delta["status"] == "success", f"run status {delta['status']}")
        people, renamed = check_directory(work, n, m, u, k)
        check(renamed == k, f"{renamed} communities renamed in the directory, expected {k}")
        check(people == persons + 1, f"the directory holds {people:,} persons, expected {persons + 1:,} (the admin joined)")
        sync = step(delta, "sync")
        check(sync.get("updated", 0) >= k and not sync.get("errors"),
              f"the delta sync counted {counters(sync)}, expected at least {k} updated")

        print(f"\nsummary N={n:,} communities x M={m:,} members, U={u:,} people: plain client {plain:.2f} s; "
              f"full {full['elapsed']:.2f} s ({objects / full['elapsed']:,.0f} objects/s, "
              f"import {imp_secs:.2f} / sync {step_secs(full, 'sync'):.2f} s, {full['rss']:.0f} MiB), "
              f"ratio import {imp_secs / plain:.2f}, sync-now {full['elapsed'] / plain:.2f}; "
              f"delta {k:,} changed: {delta['elapsed']:.2f} s (import {step_secs(delta, 'import'):.2f} / "
              f"sync {step_secs(delta, 'sync'):.2f} s, {delta['rss']:.0f} MiB; {counters(delta['counters'])})")
    finally:
        if fake:
            fake.stop()
        if VERBOSE:
            print(f"kept {work} (logs: fake-connections.log, full.log, delta.log)")
        else:
            shutil.rmtree(work)


if __name__ == "__main__":
    for path, build in ((BIN, "UCSYNC_BIN"), (FAKE, "FAKE_CONNECTIONS_BIN")):
        if not os.path.exists(path):
            sys.exit(f"build first: cargo build --release -p ucsync -p ucsync-testkit --bin ucsync "
                     f"--bin fake-connections (or set {build}); no {path}")
    args = [int(a) for a in sys.argv[1:]]
    if len(args) > 4 or any(a <= 0 for a in args):
        sys.exit("usage: communities.py [N communities [M members [U people [K changed]]]], all > 0")
    n, m, u, k = args + [10000, 50, 20000, 100][len(args):]
    if k > n:
        sys.exit("usage: K changed communities must be at most N")
    bench(n, m, u, k)
