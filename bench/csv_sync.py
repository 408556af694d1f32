#!/usr/bin/env python3
"""Whole-run benchmark: N people as CSV -> sync-now (CSV -> directory -> CSV), then a delta
run where 1,000 rows changed. Prints objects/s, peak RSS and the time of each phase.

    cargo build --release
    python3 bench/csv_sync.py 100000 1000000
"""
import json, os, resource, shutil, subprocess, sys, tempfile, time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("UCSYNC_BIN") or os.path.join(ROOT, "target", "release", "ucsync")

CONFIG = """version = 1
[enterprises.default]
sync_order = ["central", "forest"]
deletion_threshold = 500

[connectors.forest]
kind = "csv"
[connectors.forest.settings]
path = "forest.csv"
key = ["employeeId"]
[connectors.forest.rules]
scope = 'department != "Test"'
projection = { person = "person" }
[connectors.forest.rules.import_flows]
uid = "employeeId"
givenName = "givenName"
sn = "sn"
displayName = '"${givenName} ${sn}"'
mail = "lower(mail)"
telephoneNumber = "telephoneNumber"
department = "department"

[connectors.central]
kind = "csv"
[connectors.central.settings]
path = "central.csv"
object_type = "contact"
key = ["externalId"]
header = ["externalId", "email", "firstName", "lastName", "displayName", "phone", "department", "ucEnabled"]
[connectors.central.rules]
join = [{ staged = "externalId", directory = "uid" }]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.central.rules.export_flows]
externalId = "uid"
email = 'rewrite_domain(mail, "acme.com")'
firstName = "givenName"
lastName = "sn"
displayName = "displayName"
phone = "telephoneNumber"
department = "department"
ucEnabled = '"true"'
"""


def people(path, n, changed=()):
    changed = set(changed)
    with open(path, "w") as f:
        f.write("employeeId,givenName,sn,mail,telephoneNumber,department\n")
        for i in range(n):
            dept = "Moved" if i in changed else f"Dept{i % 97}"
            f.write(f"{i},Given{i},Sur{i},User{i}@Forest.Example,+1 555 {i:07d},{dept}\n")


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run(work, *args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.monotonic()
    out = subprocess.run([BIN, "--json", "--config", os.path.join(work, "ucsync.toml"),
                          "--data-dir", os.path.join(work, "data"), *args],
                         capture_output=True, text=True)
    elapsed = time.monotonic() - t
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if out.returncode != 0:
        sys.exit(f"ucsync {args} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    report = json.loads(out.stdout)
    phases = {}
    shown = json.loads(subprocess.run([BIN, "--json", "--data-dir", os.path.join(work, "data"),
                                       "--config", os.path.join(work, "ucsync.toml"),
                                       "runs", "show", str(report["run_id"])],
                                      capture_output=True, text=True).stdout)
    for s in shown["steps"]:
        key = s["profile"].replace("delta-", "")
        phases[key] = phases.get(key, 0) + ts(s["ended_at"]) - ts(s["started_at"])
    return elapsed, max(rss, before), phases, report


def bench(n):
    work = tempfile.mkdtemp(prefix=f"ucsync-bench-{n}-")
    try:
        with open(os.path.join(work, "ucsync.toml"), "w") as f:
            f.write(CONFIG)
        with open(os.path.join(work, "central.csv"), "w") as f:
            f.write("externalId,email,firstName,lastName,displayName,phone,department,ucEnabled\n")
        people(os.path.join(work, "forest.csv"), n)
        elapsed, rss, phases, _ = run(work, "sync-now")
        print(f"full sync-now, N={n}: {elapsed:.2f} s, {n / elapsed:,.0f} objects/s, "
              f"peak RSS {rss / 1024:.0f} MiB; phases: "
              + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
        step = max(1, n // 1000)
        people(os.path.join(work, "forest.csv"), n, changed=range(0, n, step))
        elapsed, rss, phases, report = run(work, "sync-now")
        changed = report["counters"]["updated"]
        print(f"delta sync-now, N={n}, {len(range(0, n, step))} rows changed: {elapsed:.2f} s, "
              f"sync + export {phases.get('sync', 0) + phases.get('export', 0):.2f} s; phases: "
              + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
        lines = sum(1 for _ in open(os.path.join(work, "central.csv")))
        assert lines == n + 1, f"central has {lines - 1} rows, expected {n}"
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    for arg in sys.argv[1:] or ["100000"]:
        bench(int(arg))
