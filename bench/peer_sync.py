#!/usr/bin/env python3
"""Peer sync benchmark: N people on server B (a CSV connector synced into B's directory, offered
to peers as enterprise `bench-b` by `ucsync serve` over TLS) -> a first sync-now of server A,
whose one `peer` connector reads B's peer feed (docs/PEER.md) into A's directory as contacts,
against a plain client that downloads the same pages from B; then a delta after K people changed
on B (80% changed, 10% added, 10% deleted); last, A served (`ucsync serve`, a new data
directory): its full Sync Now started through its API. Prints wall times, objects/s, the ratio
of A's import (and of its whole sync-now) to the plain client, the peak RSS and CPU of A (a
local CLI process, then the served A, VmHWM from /proc) and of B (the server process), and each
step's time and counters from A's run records.

    cargo build --release -p ucsync --bin ucsync
    python3 bench/peer_sync.py          # N = 100000, K = 1000
    python3 bench/peer_sync.py 2000 50  # smoke run: N K

B is a data directory of its own, synced once with `ucsync sync-now` (timed, not part of the
figures), given a peer administrator bound to `bench-b` (and an operator, to start B's delta
sync through its API), then served by `ucsync serve --tls-cert --tls-key` on a free loopback
port with a certificate for `peer-b.test` signed by a CA made with openssl for this run. A
reads it with `host = "peer-b.test"`, `address = "127.0.0.1"` and that CA in `ca_file`. B is
stopped at the end, also on error. Needs the openssl command. UCSYNC_BENCH_VERBOSE=1 runs A
with -v and keeps the work directory with its logs (B's log is b/serve.log).
"""
import gc, http.client, json, os, re, shutil, socket, ssl, subprocess, sys, tempfile, threading, time
from measure import run_ucsync, ts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("UCSYNC_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release", "ucsync")
VERBOSE = bool(os.environ.get("UCSYNC_BENCH_VERBOSE"))

PAGE_SIZE = 1000        # the peer connector's default page_size; the plain client asks the same
HOST = "peer-b.test"    # the name B's certificate holds (A connects to 127.0.0.1)
PEER_ID = "bench-b"
TOKEN_ENV = "UCSYNC_BENCH_PEER_TOKEN"
PASSWORD = "bench-Secret-1"
FEED = f"/api/v1/peer/v1/enterprises/{PEER_ID}/changes"
PREFIX = "8"        # A's dial strings: 8 <number> (A has no PBX node, so no outgoing digit)

B_CONFIG = f"""version = 1
[enterprises.default]
id = "{PEER_ID}"

[connectors.people]
kind = "csv"
[connectors.people.settings]
path = "people.csv"
key = ["employeeId"]
[connectors.people.rules]
projection = {{ person = "person" }}
[connectors.people.rules.import_flows]
givenName = "givenName"
sn = "sn"
displayName = '"${{givenName}} ${{sn}}"'
mail = "lower(mail)"
telephoneNumber = "telephoneNumber"
department = "department"
"""

A_CONFIG = """version = 1
[enterprises.default]

[connectors.peer-b]
kind = "peer"
[connectors.peer-b.settings]
description = "Bench B"
host = "{host}"
address = "127.0.0.1"
port = {port}
ca_file = "{ca_file}"
token_env = "{token_env}"
peer_enterprise_id = "{peer_id}"
dialing_prefix = "{prefix}"
page_size = {page_size}
[connectors.peer-b.rules]
projection = {{ contact = "contact" }}
[connectors.peer-b.rules.import_flows]
givenName = "givenName"
sn = "sn"
displayName = "displayName"
mail = "mail"
telephoneNumber = "telephoneNumber"
dialString = "dialString"
department = "department"
federation = "federation"
"""


def person(i, dept=None):
    """B's CSV row of person i, and what A's directory should hold for it."""
    tel = f"{100000 + i}"       # an extension-like number, 6 digits
    dept = dept or f"Dept{i % 97}"
    row = f"{i},Given{i},Sur{i},User{i}@Forest.Example,{tel},{dept}\n"
    want = {"givenName": [f"Given{i}"], "sn": [f"Sur{i}"], "displayName": [f"Given{i} Sur{i}"],
            "mail": [f"user{i}@forest.example"], "telephoneNumber": [tel],
            "dialString": [PREFIX + tel], "department": [dept],
            "federation": ["enabled"]}
    return row, want


def people(path, ids, moved=()):
    """Writes B's CSV with the people `ids`, those in `moved` in department "Moved"; returns
    what A's directory should hold, by mail."""
    moved = set(moved)
    want = {}
    with open(path, "w") as f:
        f.write("employeeId,givenName,sn,mail,telephoneNumber,department\n")
        for i in ids:
            row, w = person(i, "Moved" if i in moved else None)
            f.write(row)
            want[w["mail"][0]] = w
    return want


def changes(n, k):
    """K changes of N people, spread over them: (changed, deleted, added) ids, 80/10/10%."""
    d = a = k // 10
    c = k - d - a
    step = max(1, n // (c + d))
    sample = list(range(0, n, step))[:c + d]
    every = max(1, len(sample) // d) if d else 0
    deleted = set(sample[::every][:d]) if d else set()
    changed = [i for i in sample if i not in deleted][:c]
    return changed, deleted, list(range(n, n + a))


def check(cond, msg):
    if not cond:
        sys.exit(f"FAIL: {msg}")


def make_certs(work):
    """A CA and B's certificate for HOST (subjectAltName), EC P-256, valid two days."""
    def ossl(*args):
        out = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=work)
        if out.returncode != 0:
            sys.exit(f"openssl {' '.join(args)} exited {out.returncode}:\n{out.stderr}")
    key = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]
    ossl(*key, "ca.key")
    ossl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=ucsync bench CA", "-days", "2",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem")
    ossl(*key, "server.key")
    ossl("req", "-new", "-key", "server.key", "-subj", f"/CN={HOST}", "-out", "server.csr")
    with open(os.path.join(work, "server.ext"), "w") as f:
        f.write(f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                f"extendedKeyUsage=serverAuth\nsubjectAltName=DNS:{HOST}\n"
                f"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem")
    return os.path.join(work, "ca.pem")


def ucsync(d, *args, env=None):
    """Runs ucsync on data directory `d` (its config d/ucsync.toml); its standard output."""
    out = subprocess.run([BIN, "--config", os.path.join(d, "ucsync.toml"),
                          "--data-dir", os.path.join(d, "data"), *args],
                         capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode != 0:
        sys.exit(f"ucsync {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr[-5000:]}")
    return out.stdout


def proc_status(pid):
    """VmRSS and VmHWM of a process, MiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class Served:
    """`ucsync serve` of data directory `d` on a free loopback port, over TLS with B's
    certificate, or (`tls=False`) plain HTTP, as A's API; its log in d/serve.log."""

    def __init__(self, d, work, tls=True):
        self.log_path = os.path.join(d, "serve.log")
        certs = ["--tls-cert", os.path.join(work, "server.pem"),
                 "--tls-key", os.path.join(work, "server.key")] if tls else []
        self.proc = subprocess.Popen(
            [BIN, "--config", os.path.join(d, "ucsync.toml"), "--data-dir", os.path.join(d, "data"),
             "serve", "--listen", "127.0.0.1:0", *certs],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        log = open(self.log_path, "w")
        for line in self.proc.stderr:
            log.write(line)
            m = re.match(r"listening on https?://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            log.close()
            sys.exit(f"ucsync serve exited {self.proc.wait()} before listening; see {self.log_path}")
        log.flush()

        def drain():   # keep reading its log so that it never blocks on a full pipe
            for line in self.proc.stderr:
                log.write(line)
            log.close()
        threading.Thread(target=drain, daemon=True).start()

    def memory(self):
        return proc_status(self.proc.pid)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """A keep-alive HTTPS connection to B that checks B's certificate against HOST; with no
    `ca_file`, a plain HTTP one (to A's API)."""

    def __init__(self, port, ca_file):
        if ca_file is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            return
        ctx = ssl.create_default_context(cafile=ca_file)
        self.conn = http.client.HTTPSConnection(HOST, port, timeout=120, context=ctx)
        # Connect to 127.0.0.1 (as A's `address` does); SNI and the check stay on HOST.
        self.conn._create_connection = lambda _addr, timeout, source_address=None: \
            socket.create_connection(("127.0.0.1", port), timeout, source_address)

    def request(self, method, path, token, body=None):
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()

    def close(self):
        self.conn.close()


def plain_download(port, ca_file, token, cursor=None):
    """The feed as A's import reads it: from `cursor` (none: a full listing) in pages of
    PAGE_SIZE, one after another on one keep-alive TLS connection, until `more` is false; each
    page parsed with json.loads (the cursor is in it). Returns (seconds, pages, bytes, contacts,
    deleted, last cursor, the contacts' ids, the deleted ids)."""
    client = Client(port, ca_file)
    pages = size = 0
    ids, deleted = [], []
    # The script's own objects (B's people, the directory read back) are none of the client's
    # business: Python's collector would walk them all while the pages are parsed.
    gc.collect()
    gc.disable()
    t = time.monotonic()
    while True:
        query = f"?limit={PAGE_SIZE}" + (f"&cursor={cursor}" if cursor else "")
        status, body = client.request("GET", FEED + query, token)
        if status != 200:
            sys.exit(f"plain client: GET {FEED}{query} answered {status}: {body[:500]!r}")
        page = json.loads(body)
        pages += 1
        size += len(body)
        ids.extend(c["id"] for c in page["contacts"])
        deleted.extend(page["deleted"])
        cursor = page["cursor"]
        if not page["more"]:
            break
    elapsed = time.monotonic() - t
    gc.enable()
    client.close()
    return elapsed, pages, size, cursor, ids, deleted


def run_a(a, label, *args):
    """Runs ucsync on A (through the launcher of measure.py); returns its wall time, its own
    peak RSS (MiB) and CPU seconds, the steps of its run record as (connector, profile,
    seconds, counters), its status and counters."""
    w = run_ucsync(BIN, a, os.path.join(a, f"{label}.log"), args, verbose=VERBOSE)
    # A first run in a new data directory warns that it made the secret key.
    warnings = sum(1 for line in w["log_lines"]
                   if " WARN " in line and "made the secret key" not in line)
    return {"elapsed": w["elapsed"], "rss": w["rss"], "cpu": w["cpu"], "steps": w["steps"],
            "status": w["report"]["status"], "counters": w["report"]["counters"],
            "warnings": warnings}


def contacts_of(a):
    """A's contact entries, by mail: {attribute: values} of the attributes the flows set."""
    found = json.loads(ucsync(a, "--json", "directory", "search", "--type", "contact",
                              "--limit", "100000000"))
    by_mail = {}
    for e in found:
        attrs = {k: v.get("values", []) for k, v in e["attributes"].items()}
        mail = (attrs.get("mail") or [f"(no mail: entry {e['id']})"])[0]
        check(mail not in by_mail, f"two contacts of A have mail {mail}")
        by_mail[mail] = attrs
    return by_mail


def check_directory(a, want):
    """A's directory holds one contact per person of B, with the flowed values."""
    got = contacts_of(a)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    check(not missing and not extra,
          f"A has {len(got):,} contacts, expected {len(want):,}: {len(missing):,} missing "
          f"{missing[:3]}, {len(extra):,} not on B {extra[:3]}")
    for mail, w in want.items():
        have = {k: got[mail].get(k, []) for k in w}
        check(have == w, f"A's contact {mail} holds {have}, expected {w}")
    return len(got)


def counters(c):
    return " ".join(f"{k} {c[k]:,}" for k in ("added", "updated", "deleted", "unchanged", "errors")
                    if c.get(k)) or "none"


def phase(p):
    return p.replace("delta-", "").replace("full-", "")


def step_secs(r, name):
    return sum(s for _, p, s, _ in r["steps"] if phase(p) == name)


def step(r, name):
    found = [c for _, p, _, c in r["steps"] if phase(p) == name]
    if len(found) != 1:
        sys.exit(f"FAIL: expected one {name} step in the run: {[(cn, p) for cn, p, _, _ in r['steps']]}")
    return found[0]


def table(title, rows):
    print(f"\n{title}")
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")


def a_rows(r, objects=None):
    rows = [("total (wall)", f"{r['elapsed']:.2f} s")]
    if objects:
        rows.append(("objects/s", f"{objects / r['elapsed']:,.0f}"))
    rows += [("A peak RSS", f"{r['rss']:.0f} MiB"), ("A CPU (user + sys)", f"{r['cpu']:.2f} s")]
    for conn, profile, secs, c in r["steps"]:
        rows.append((f"  {conn} {profile}", f"{secs:.2f} s   {counters(c)}"))
    rows.append(("run counters", counters(r["counters"])))
    if r["warnings"]:
        rows.append(("warnings logged", f"{r['warnings']:,}"))
    return rows


def mib(m):
    return f"VmRSS {m['VmRSS']:.0f} MiB, VmHWM {m['VmHWM']:.0f} MiB"


def sync_via_api(server, ca_file, token, who="B"):
    """A server's sync-now through its API (operator token), polled until it ends: (seconds,
    run)."""
    client = Client(server.port, ca_file)
    t = time.monotonic()
    status, body = client.request("POST", "/api/v1/enterprises/default/sync-now", token, body="{}")
    check(status == 202, f"POST sync-now on {who} answered {status}: {body[:500]!r}")
    run_id = json.loads(body)["run_id"]
    while True:
        status, body = client.request("GET", f"/api/v1/runs/{run_id}", token)
        check(status == 200, f"GET /api/v1/runs/{run_id} on {who} answered {status}: {body[:500]!r}")
        run = json.loads(body)
        if run["status"] != "running":
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - t
    client.close()
    check(run["status"] == "success", f"{who}'s sync-now ended {run['status']}: {run.get('message')}")
    return elapsed, run


def served_a(work, want, plain):
    """A served (`ucsync serve`, plain HTTP on loopback) with a new data directory: its full
    Sync Now through its API, as the scheduler or an administrator starts it. Prints the wall
    time (from the request until the run has ended, polled every 20 ms), A's peak RSS (VmHWM)
    and CPU, and checks A's directory once A is stopped."""
    a = os.path.join(work, "a-served")
    os.makedirs(a)
    with open(os.path.join(work, "a", "ucsync.toml")) as f:
        config = f.read()
    with open(os.path.join(a, "ucsync.toml"), "w") as f:
        f.write(config)
    admin = {"UCSYNC_ADMIN_PASSWORD": PASSWORD}
    ucsync(a, "admin", "add", "bench-op", "--role", "operator", env=admin)
    token = ucsync(a, "admin", "token", "bench-op").strip()
    server = Served(a, work, tls=False)
    try:
        time.sleep(0.5)
        idle = server.memory()
        cpu = server.cpu()
        elapsed, run = sync_via_api(server, None, token, who="A")
        used = server.cpu() - cpu
        peak = server.memory()
    finally:
        server.stop()
    rows = [("total (wall)", f"{elapsed:.2f} s"), ("objects/s", f"{len(want) / elapsed:,.0f}"),
            ("A peak RSS (VmHWM)", f"{peak['VmHWM']:.0f} MiB (idle VmRSS {idle['VmRSS']:.0f} MiB)"),
            ("A CPU (user + sys)", f"{used:.2f} s")]
    for s in run["steps"]:
        secs = ts(s["ended_at"]) - ts(s["started_at"])
        rows.append((f"  {s['connector']} {s['profile']}", f"{secs:.2f} s   {counters(s['counters'])}"))
    rows.append(("sync-now / plain client", f"{elapsed / plain:.2f}"))
    table(f"A served, a new data directory: its full Sync Now through its API, {len(want):,} "
          f"contacts from B", rows)
    check_directory(a, want)
    return elapsed, peak["VmHWM"]


def bench(n, k):
    work = tempfile.mkdtemp(prefix=f"ucsync-peer-bench-{n}-")
    b, a = os.path.join(work, "b"), os.path.join(work, "a")
    os.makedirs(b), os.makedirs(a)
    server = None
    try:
        ca_file = make_certs(work)

        # B: N people synced into its directory, a peer and an operator token, then served.
        with open(os.path.join(b, "ucsync.toml"), "w") as f:
            f.write(B_CONFIG)
        want = people(os.path.join(b, "people.csv"), range(n))
        t = time.monotonic()
        ucsync(b, "--json", "sync-now")
        b_setup = time.monotonic() - t
        admin = {"UCSYNC_ADMIN_PASSWORD": PASSWORD}
        ucsync(b, "admin", "add", "peer-a", "--role", "peer", "--enterprise", PEER_ID, env=admin)
        peer_token = ucsync(b, "admin", "token", "peer-a").strip()
        ucsync(b, "admin", "add", "bench-op", "--role", "operator", env=admin)
        op_token = ucsync(b, "admin", "token", "bench-op").strip()
        server = Served(b, work)
        time.sleep(0.5)
        b_idle = server.memory()
        print(f"B: {n:,} people, sync-now {b_setup:.2f} s (setup, not in the figures); "
              f"ucsync serve on https://{HOST}:{server.port} (127.0.0.1); idle: {mib(b_idle)} ({work})")

        with open(os.path.join(a, "ucsync.toml"), "w") as f:
            f.write(A_CONFIG.format(host=HOST, port=server.port, ca_file=ca_file,
                                    token_env=TOKEN_ENV, peer_id=PEER_ID, prefix=PREFIX,
                                    page_size=PAGE_SIZE))
        os.environ[TOKEN_ENV] = peer_token

        # The plain client: the same pages, one after another. The first read finds B cold (its
        # store just written, its caches empty); A reads after it, from a warm B. So the limit
        # is a warm read: the median of three more.
        cpu = server.cpu()
        cold, pages, size, cursor, ids, deleted = plain_download(server.port, ca_file, peer_token)
        plain_cpu = server.cpu() - cpu
        b_plain = server.memory()
        check(len(ids) == n and len(set(ids)) == n and not deleted,
              f"the plain client read {len(ids):,} contacts ({len(set(ids)):,} ids) and "
              f"{len(deleted):,} deleted, expected {n:,} and none")
        warm = sorted(plain_download(server.port, ca_file, peer_token)[0] for _ in range(3))
        plain = warm[1]
        print(f"\nplain client, {pages:,} pages of {PAGE_SIZE:,} one after another on one keep-alive "
              f"TLS connection, each parsed with json.loads: first read (B cold) {cold:.2f} s, "
              f"then {', '.join(f'{w:.2f}' for w in warm)} s: {plain:.2f} s (the median, the limit), "
              f"{size / 2**20:.1f} MiB, {n / plain:,.0f} contacts/s; B CPU in the first read "
              f"{plain_cpu:.2f} s; B after it: {mib(b_plain)}")

        # A's full sync-now: everything new.
        cpu = server.cpu()
        full = run_a(a, "full", "sync-now")
        full_cpu = server.cpu() - cpu
        b_full = server.memory()
        imp_secs = step_secs(full, "import")
        table(f"A's full sync-now, {n:,} contacts from B",
              a_rows(full, n) + [("import / plain client (goal <= 1.5)", f"{imp_secs / plain:.2f}"),
                                 ("sync-now / plain client", f"{full['elapsed'] / plain:.2f}"),
                                 ("sync-now / plain client's first read",
                                  f"{full['elapsed'] / cold:.2f}"),
                                 ("B CPU", f"{full_cpu:.2f} s"),
                                 ("B peak RSS (VmHWM)", f"{b_full['VmHWM']:.0f} MiB "
                                  f"(VmRSS {b_full['VmRSS']:.0f} MiB)")])
        check(full["status"] == "success", f"run status {full['status']}")
        imp = step(full, "import")
        check(imp.get("added") == n and not imp.get("errors"),
              f"A's import counted {counters(imp)}, expected {n:,} added")
        check_directory(a, want)

        # K changes on B, synced by B's server (its API), then A's delta.
        changed, gone, added = changes(n, k)
        want = people(os.path.join(b, "people.csv"), [i for i in range(n) if i not in gone] + added,
                      moved=changed)
        b_delta, b_run = sync_via_api(server, ca_file, op_token)
        b_counts = [s["counters"] for s in b_run["steps"] if phase(s["profile"]) == "sync"]
        print(f"\nB: {len(changed):,} people changed (department), {len(added):,} added, "
              f"{len(gone):,} deleted in its CSV; its sync-now through the API "
              f"{b_delta:.2f} s (sync {counters(b_counts[0]) if b_counts else '?'})")
        cpu = server.cpu()
        d_plain, d_pages, d_size, _, d_ids, d_deleted = plain_download(
            server.port, ca_file, peer_token, cursor)
        d_plain_cpu = server.cpu() - cpu
        print(f"plain client, the delta from its last cursor: {d_plain:.3f} s, {d_pages} page(s), "
              f"{d_size / 2**10:.0f} KiB, {len(d_ids):,} contacts, {len(d_deleted):,} deleted; "
              f"B CPU {d_plain_cpu:.2f} s")
        check(len(d_ids) == len(changed) + len(added) and len(d_deleted) == len(gone),
              f"the plain client's delta read {len(d_ids):,} contacts and {len(d_deleted):,} "
              f"deleted, expected {len(changed) + len(added):,} and {len(gone):,}")

        cpu = server.cpu()
        delta = run_a(a, "delta", "sync-now")
        delta_cpu = server.cpu() - cpu
        b_end = server.memory()
        table(f"A's delta sync-now, {k:,} changes on B ({len(changed):,} changed, "
              f"{len(added):,} added, {len(gone):,} deleted)",
              a_rows(delta) + [("delta / plain client's delta", f"{delta['elapsed'] / d_plain:.1f}"),
                               ("B CPU", f"{delta_cpu:.2f} s"),
                               ("B at the end", mib(b_end))])
        check(delta["status"] == "success", f"run status {delta['status']}")
        imp = step(delta, "import")
        check(imp.get("added", 0) == len(added) and imp.get("updated", 0) == len(changed)
              and imp.get("deleted", 0) == len(gone) and not imp.get("errors"),
              f"A's delta import counted {counters(imp)}, expected added {len(added)}, "
              f"updated {len(changed)}, deleted {len(gone)}")
        sync = step(delta, "sync")
        check(sync.get("added", 0) == len(added) and sync.get("updated", 0) == len(changed)
              and sync.get("deleted", 0) == len(gone) and not sync.get("errors"),
              f"A's delta sync counted {counters(sync)}, expected added {len(added)}, "
              f"updated {len(changed)}, deleted {len(gone)}")
        check_directory(a, want)

        # A served: the same full sync of what B now holds, started through A's API.
        s_elapsed, s_rss = served_a(work, want, plain)

        print(f"\nsummary N={n:,} contacts, TLS, pages of {PAGE_SIZE:,}: plain client {plain:.2f} s "
              f"(first read {cold:.2f} s); A full {full['elapsed']:.2f} s ({n / full['elapsed']:,.0f} objects/s, "
              f"import {imp_secs:.2f} / sync {step_secs(full, 'sync'):.2f} s), "
              f"ratio import {imp_secs / plain:.2f}, sync-now {full['elapsed'] / plain:.2f} "
              f"({full['elapsed'] / cold:.2f} to the first read); "
              f"peak RSS A {full['rss']:.0f} MiB, B {b_full['VmHWM']:.0f} MiB; "
              f"delta K={k:,}: {delta['elapsed']:.2f} s (import {step_secs(delta, 'import'):.2f} / "
              f"sync {step_secs(delta, 'sync'):.2f} s, A {delta['rss']:.0f} MiB; "
              f"{counters(delta['counters'])}); A served: full {s_elapsed:.2f} s "
              f"({s_elapsed / plain:.2f}), peak RSS {s_rss:.0f} MiB")
    finally:
        if server:
            server.stop()
        if VERBOSE:
            print(f"kept {work} (logs: b/serve.log, a/full.log, a/delta.log)")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit(f"build first: cargo build --release -p ucsync --bin ucsync (or set UCSYNC_BIN); no {BIN}")
    if not shutil.which("openssl"):
        sys.exit("the openssl command makes the CA and B's certificate: install it")
    args = [int(x) for x in sys.argv[1:]]
    if len(args) > 2 or any(x <= 0 for x in args):
        sys.exit("usage: peer_sync.py [N people [K changes]], both > 0")
    n, k = args + [100000, 1000][len(args):]
    if k > n // 2:
        sys.exit("usage: K changes must be at most N/2")
    bench(n, k)
