#!/usr/bin/env python3
"""LDAP copy benchmark: N users and G groups from slapd A into an empty slapd B with ucsync,
against slapd C copying the same from A by its own replication (syncrepl); then one user
changed on A and carried into B by a delta run. Prints both times, their ratio, objects/s,
the peak RSS of ucsync and the time of each phase (from the run records).

    cargo build --release -p ucsync
    python3 bench/ldap_copy.py 100000 1000      # N users, G groups (the defaults)
    python3 bench/ldap_copy.py 2000 20          # a quick smoke run

Three private slapd instances run on free loopback ports from a temporary directory and are
stopped at the end, also on error. They share one configuration (back_mdb, the same indexes,
dbnosync, syncprov: ucsync's delta imports of B need it, and C has it so that B and C differ
only by C's syncrepl). A is loaded offline with slapadd. ucsync's connector `a` projects A's
users and groups into the directory; connector `b` provisions them into B (suffix
dc=copy,dc=test), members translated. C is a refreshAndPersist consumer of A; its time runs
from its start until its contextCSN equals A's.
"""
import json, os, shutil, socket, subprocess, sys, tempfile, time
from measure import run_ucsync

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("UCSYNC_BIN") or os.path.join(ROOT, "target", "release", "ucsync")
SLAPD = "/usr/sbin/slapd"
SUFFIX_A = "dc=example,dc=com"
SUFFIX_B = "dc=copy,dc=test"
PASSWORD = "secret"
USER_ATTRS = ["uid", "cn", "sn", "givenName", "displayName", "mail", "telephoneNumber"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slapd:
    """A private slapd: its own slapd.conf, database and log under `work/name`."""

    def __init__(self, work, name, suffix, sessionlog, consumer_of=None):
        self.dir = os.path.join(work, name)
        self.suffix, self.root_dn = suffix, f"cn=admin,{suffix}"
        self.uri = f"ldap://127.0.0.1:{free_port()}/"
        self.conf = os.path.join(self.dir, "slapd.conf")
        self.proc = None
        os.makedirs(os.path.join(self.dir, "db"))
        syncrepl = "" if consumer_of is None else f"""
syncrepl rid=001 provider={consumer_of} bindmethod=simple binddn="{self.root_dn}"
    credentials={PASSWORD} searchbase="{suffix}" scope=sub attrs="*,+"
    type=refreshAndPersist retry="1 +" timeout=1 network-timeout=10
"""
        with open(self.conf, "w") as f:
            f.write(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {self.dir}/slapd.pid
argsfile {self.dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload syncprov
sizelimit unlimited
timelimit unlimited
tool-threads 2

database mdb
maxsize 8589934592
suffix "{suffix}"
rootdn "{self.root_dn}"
rootpw {PASSWORD}
directory {self.dir}/db
dbnosync
index objectClass eq
index uid,mail,member,entryCSN,entryUUID eq
index cn eq,sub
access to * by * read
{syncrepl}
overlay syncprov
syncprov-checkpoint 100 1
syncprov-sessionlog {sessionlog}
""")

    def slapadd(self, ldif):
        subprocess.run(["slapadd", "-q", "-w", "-f", self.conf, "-l", ldif], check=True)

    def start(self):
        log = os.path.join(self.dir, "slapd.log")
        with open(log, "w") as f:
            self.proc = subprocess.Popen([SLAPD, "-d", "0", "-f", self.conf, "-h", self.uri],
                                         stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        deadline = time.monotonic() + 30
        while self.ldap("ldapsearch", "-b", "", "-s", "base", "1.1", check=False) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"slapd {self.dir} did not start; see {log}")
            time.sleep(0.01)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def ldap(self, tool, *args, stdin=None, check=True):
        """Runs an ldap-utils tool bound as the rootdn; its stdout, or None when it failed."""
        out = subprocess.run([tool, "-x", "-H", self.uri, "-D", self.root_dn, "-w", PASSWORD,
                              *(["-LLL", "-o", "ldif-wrap=no"] if tool == "ldapsearch" else []),
                              *args], input=stdin, capture_output=True, text=True)
        if out.returncode != 0:
            if check:
                sys.exit(f"{tool} {args} on {self.uri} failed: {out.stderr}")
            return None
        return out.stdout

    def values(self, dn, attr):
        out = self.ldap("ldapsearch", "-b", dn, "-s", "base", "(objectClass=*)", attr,
                        check=False) or ""
        return sorted(line.split(": ", 1)[1] for line in out.splitlines()
                      if line.startswith(f"{attr}: "))

    def cpu(self):
        """User and system CPU seconds slapd has used so far."""
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")

    def count(self):
        out = self.ldap("ldapsearch", "-b", self.suffix, "(objectClass=*)", "1.1")
        return sum(line.startswith("dn:") for line in out.splitlines())


def base_entry(suffix):
    return (f"dn: {suffix}\nobjectClass: dcObject\nobjectClass: organization\n"
            f"dc: {suffix.split(',')[0][3:]}\no: Bench\n\n")


def write_ldif(path, suffix, n, g):
    """The base entry, ou=people, ou=groups, n users and g groups; user i is a member of
    group i mod g (so every group has about n/g members)."""
    people, groups = f"ou=people,{suffix}", f"ou=groups,{suffix}"
    with open(path, "w") as f:
        f.write(base_entry(suffix))
        for ou in ("people", "groups"):
            f.write(f"dn: ou={ou},{suffix}\nobjectClass: organizationalUnit\nou: {ou}\n\n")
        for i in range(n):
            f.write(f"dn: uid=user{i:06d},{people}\nobjectClass: inetOrgPerson\n"
                    f"uid: user{i:06d}\ncn: Given{i} Sur{i}\nsn: Sur{i}\ngivenName: Given{i}\n"
                    f"displayName: Given{i} Sur{i} (Dept{i % 97})\n"
                    f"mail: user{i:06d}@example.com\ntelephoneNumber: +1 555 {i:07d}\n\n")
        for j in range(g):
            f.write(f"dn: cn=group{j:04d},{groups}\nobjectClass: groupOfNames\ncn: group{j:04d}\n")
            f.writelines(f"member: uid=user{i:06d},{people}\n" for i in range(j, n, g))
            f.write("\n")


# Operations outstanding per connection on export (the connector's max_in_flight).
IN_FLIGHT = int(os.environ.get("UCSYNC_BENCH_IN_FLIGHT", "64"))
# Bulk adds in LDAP transactions (opt-in in ucsync; see docs/LDAP.md). UCSYNC_BENCH_TXN=0 measures
# the default, one add at a time.
TRANSACTIONS = "false" if os.environ.get("UCSYNC_BENCH_TXN") == "0" else "true"


def connector(name, s, types):
    return f"""
[connectors.{name}]
kind = "ldap"
[connectors.{name}.settings]
url = "{s.uri}"
bind_dn = "{s.root_dn}"
password = "{PASSWORD}"
base_dn = "{s.suffix}"
references = ["member"]
create_parents = true
max_in_flight = {IN_FLIGHT}
transactions = {TRANSACTIONS}
[[connectors.{name}.settings.object_types]]
name = "user"
base = "ou=people,{s.suffix}"
object_classes = ["inetOrgPerson"]
attributes = {json.dumps(USER_ATTRS)}
rdn = "uid"
[[connectors.{name}.settings.object_types]]
name = "group"
base = "ou=groups,{s.suffix}"
object_classes = ["groupOfNames"]
attributes = ["cn", "member"]
rdn = "cn"
[connectors.{name}.rules]
{types}
""" + "".join(f'{a} = "{a}"\n' for a in USER_ATTRS + ["member"])


def config(a, b):
    return ('version = 1\n[enterprises.default]\nsync_order = ["b", "a"]\n'
            'references = ["member"]\n'
            + connector("a", a, 'projection = { user = "person", group = "group" }\n'
                                '[connectors.a.rules.import_flows]')
            + connector("b", b, 'provisioning = [{ from = "person", object_type = "user" }, '
                                '{ from = "group", object_type = "group" }]\n'
                                '[connectors.b.rules.export_flows]'))


def ucsync(work, *args):
    """Runs ucsync (through the launcher of measure.py); returns its wall time, its own peak
    RSS (MiB) and CPU seconds, and the steps of its run record as (connector, profile,
    seconds)."""
    w = run_ucsync(BIN, work, os.path.join(work, "ucsync.log"), args)
    return w["elapsed"], w["rss"], w["cpu"], [step[:3] for step in w["steps"]]


def show_steps(steps):
    phases = {}
    for _, profile, secs in steps:
        phase = profile.replace("delta-", "").replace("full-", "")
        phases[phase] = phases.get(phase, 0) + secs
    return ", ".join(f"{c} {p} {s:.2f} s" for c, p, s in steps) + "; by phase: " + \
        ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())


def bench(n, g):
    work = tempfile.mkdtemp(prefix=f"ucsync-ldap-bench-{n}-")
    # As the tests' servers: B's first delta import after the copy gets a present phase
    # (the copy wrote more entries than the log holds).
    sessionlog = 10000
    servers = []
    try:
        a = Slapd(work, "a", SUFFIX_A, sessionlog)
        b = Slapd(work, "b", SUFFIX_B, sessionlog)
        servers += [a, b]
        ldif = os.path.join(work, "a.ldif")
        write_ldif(ldif, SUFFIX_A, n, g)
        t = time.monotonic()
        a.slapadd(ldif)
        print(f"slapadd of A: {n} users, {g} groups in {time.monotonic() - t:.1f} s")
        a.start()
        # B's database is created by slapd, like C's: one made by slapadd is a sparse file of
        # maxsize, and slapd's writes into its holes cost twice the system time.
        b.start()
        b.ldap("ldapadd", stdin=base_entry(SUFFIX_B))
        with open(os.path.join(work, "ucsync.toml"), "w") as f:
            f.write(config(a, b))
        entries, objects = a.count(), n + g

        b_cpu = b.cpu()
        elapsed, rss, cpu, steps = ucsync(work, "sync-now")
        b_cpu = b.cpu() - b_cpu
        got = b.count()
        assert got == entries, f"B has {got} entries, A has {entries}"
        group = "cn=group0000,ou=groups,"
        members_a, members_b = a.values(group + SUFFIX_A, "member"), \
            b.values(group + SUFFIX_B, "member")
        assert [m.replace(SUFFIX_A, SUFFIX_B) for m in members_a] == members_b, \
            f"group0000 in B has members {members_b[:3]}…, in A {members_a[:3]}…"
        print(f"ucsync sync-now A -> B: {elapsed:.2f} s, {objects / elapsed:,.0f} objects/s, "
              f"peak RSS {rss:.0f} MiB, CPU {cpu:.1f} s (slapd B {b_cpu:.1f} s), "
              f"{got} entries in B; {show_steps(steps)}")

        c = Slapd(work, "c", SUFFIX_A, sessionlog, consumer_of=a.uri)
        servers.append(c)
        csn = a.values(SUFFIX_A, "contextCSN")
        t = time.monotonic()
        c.start()
        while c.values(SUFFIX_A, "contextCSN") != csn:
            if c.proc.poll() is not None or time.monotonic() - t > 3600:
                sys.exit(f"C did not catch up with A; see {c.dir}/slapd.log")
            time.sleep(0.05)
        replicated = time.monotonic() - t
        got = c.count()
        assert got == entries, f"C has {got} entries, A has {entries}"
        print(f"syncrepl A -> C: {replicated:.2f} s, {objects / replicated:,.0f} objects/s, "
              f"CPU of slapd C {c.cpu():.1f} s, {got} entries in C")
        print(f"ratio ucsync / syncrepl: {elapsed / replicated:.2f}")

        # B's next delta import reads back the entries ucsync added (their anchors are known
        # already); a quiet run takes that out of the one-change delta below.
        elapsed, rss, _, steps = ucsync(work, "sync-now")
        print(f"sync-now with nothing changed on A (reads B's additions back): {elapsed:.2f} s, "
              f"peak RSS {rss:.0f} MiB; {show_steps(steps)}")

        dn, phone = "uid=user000000,ou=people,", "+1 555 9999999"
        a.ldap("ldapmodify", stdin=f"dn: {dn}{SUFFIX_A}\nchangetype: modify\n"
                                   f"replace: telephoneNumber\ntelephoneNumber: {phone}\n")
        elapsed, rss, _, steps = ucsync(work, "sync-now")
        got = b.values(dn + SUFFIX_B, "telephoneNumber")
        assert got == [phone], f"B has telephoneNumber {got} after the delta run"
        print(f"delta sync-now, 1 user changed on A: {elapsed:.2f} s, peak RSS {rss:.0f} MiB; "
              f"{show_steps(steps)}")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work)


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release -p ucsync")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    g = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    if not 0 < g <= n:
        sys.exit("usage: ldap_copy.py [N users] [G groups], 0 < G <= N")
    bench(n, g)
