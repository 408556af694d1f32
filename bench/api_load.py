#!/usr/bin/env python3
"""API read benchmark: N people synced into the directory (the csv_sync.py example), then
`ucsync serve` on a free loopback port. Prints

  (a) the server's memory (VmRSS and VmHWM from /proc) idle after the start, after a few reads
      of each kind, and after the load;
  (b) the latency of each kind of read, one request at a time on one keep-alive connection,
      including directory searches that read every entry, next to `ucsync directory search`
      (which decodes every entry) for the same text;
  (c) throughput and latency percentiles of 200 concurrent keep-alive clients reading for 10 s
      (runs list, one run, directory search that finds its entries early, one entry), driven by
      wrk with one thread. wrk runs on the same two cores as the server: the CPU each used is
      printed next to the figures.

    CARGO_TARGET_DIR=/work/target-perf cargo build --release -p ucsync
    UCSYNC_BIN=/work/target-perf/release/ucsync python3 bench/api_load.py 1000000

Needs wrk (`apt-get install wrk`). UCSYNC_BENCH_CLIENTS and UCSYNC_BENCH_SECONDS change the
load (200 and 10).
"""
import http.client, json, os, re, resource, shutil, statistics, subprocess, sys, tempfile
import threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import csv_sync  # noqa: E402  (the same configuration and people)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("UCSYNC_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release", "ucsync")
CLIENTS = int(os.environ.get("UCSYNC_BENCH_CLIENTS", "200"))
SECONDS = int(os.environ.get("UCSYNC_BENCH_SECONDS", "10"))
PASSWORD = "bench-password"

# One request per call; math.random is seeded per wrk thread. Searches for "Given10".."Given99"
# find their 10 entries among the first few hundred ids; the other kinds read one row or a few.
WRK_SCRIPT = r"""
local token, runs, people
function init(args)
  token, runs, people = args[1], tonumber(args[2]), tonumber(args[3])
  math.randomseed(os.time())
end
function request()
  local r = math.random(4)
  local path
  if r == 1 then path = "/api/v1/runs"
  elseif r == 2 then path = "/api/v1/runs/" .. math.random(runs)
  elseif r == 3 then path = "/api/v1/directory?limit=10&q=Given" .. math.random(10, 99)
  else path = "/api/v1/directory/" .. math.random(people) end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def ucsync(work, *args, env=None):
    out = subprocess.run([BIN, "--config", os.path.join(work, "ucsync.toml"),
                          "--data-dir", os.path.join(work, "data"), *args],
                         capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode != 0:
        sys.exit(f"ucsync {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return f"VmRSS {fields['VmRSS']:.0f} MiB, VmHWM {fields['VmHWM']:.0f} MiB"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, work):
        self.proc = subprocess.Popen(
            [BIN, "--config", os.path.join(work, "ucsync.toml"), "--data-dir",
             os.path.join(work, "data"), "serve", "--listen", "127.0.0.1:0"],
            stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            m = re.match(r"listening on http://(\S+)", line)
            if m:
                self.host, port = m.group(1).rsplit(":", 1)
                self.port = int(port)
                break
        else:
            sys.exit(f"ucsync serve exited {self.proc.wait()} before listening")
        # Keep reading its log so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def timed_gets(server, token, path, count):
    """`count` GETs of `path` on one keep-alive connection: latencies in ms."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    took = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read()
        took.append((time.perf_counter() - t) * 1000)
        if resp.status != 200:
            sys.exit(f"GET {path}: {resp.status} {body[:300]!r}")
    conn.close()
    return took, body


def bench(n):
    if not shutil.which("wrk"):
        sys.exit("wrk drives the load: install it (apt-get install wrk)")
    work = tempfile.mkdtemp(prefix=f"ucsync-api-bench-{n}-")
    server = None
    try:
        with open(os.path.join(work, "ucsync.toml"), "w") as f:
            f.write(csv_sync.CONFIG)
        with open(os.path.join(work, "central.csv"), "w") as f:
            f.write("externalId,email,firstName,lastName,displayName,phone,department,ucEnabled\n")
        csv_sync.people(os.path.join(work, "forest.csv"), n)
        t = time.monotonic()
        ucsync(work, "--json", "sync-now")
        print(f"N={n}: sync-now {time.monotonic() - t:.1f} s")
        ucsync(work, "admin", "add", "bench", "--role", "viewer",
               env={"UCSYNC_ADMIN_PASSWORD": PASSWORD})
        token = ucsync(work, "admin", "token", "bench").strip()

        # The CLI's search decodes every entry of the directory when nothing matches; one that
        # finds its entries early shows what starting the process costs.
        cli = {}
        for text, args in (("found early", ["Given42", "--limit", "10"]), ("no match", ["zz-nobody"])):
            took = cli[text] = []
            for _ in range(3):
                t = time.monotonic()
                ucsync(work, "--json", "directory", "search", *args)
                took.append((time.monotonic() - t) * 1000)

        server = Server(work)
        time.sleep(1)
        pid = server.proc.pid
        print(f"idle after start: {memory(pid)}")
        runs = json.loads(timed_gets(server, token, "/api/v1/runs", 1)[1])["runs"]
        parent = next(r["id"] for r in runs if r["profile"] == "sync-now")
        last = f"Given{n - 1}"
        kinds = [
            ("runs list", "/api/v1/runs", 50),
            ("one run with steps", f"/api/v1/runs/{parent}", 50),
            ("one entry with links", f"/api/v1/directory/{n // 2}", 50),
            ("search, found early", "/api/v1/directory?limit=10&q=Given42", 50),
            ("search, last entry", f"/api/v1/directory?limit=10&q={last}", 10),
            ("search, no match", "/api/v1/directory?q=zz-nobody", 10),
            ("metrics scrape", "/metrics", 10),
        ]
        print("one request at a time (ms): median, max")
        for name, path, count in kinds:
            took, body = timed_gets(server, token, path, count)
            if name == "search, last entry":
                found = json.loads(body)["entries"]
                assert len(found) == 1, f"{last}: {len(found)} entries"
            print(f"  {name:<22} {statistics.median(took):8.2f} {max(took):8.2f}")
        for text, took in cli.items():
            print(f"  {'CLI search, ' + text:<22} {statistics.median(took):8.2f} {max(took):8.2f}"
                  "  (ucsync directory search, a process each)")
        print(f"after those reads: {memory(pid)}")

        script = os.path.join(work, "mix.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        cpu_before = cpu_seconds(pid)
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{CLIENTS}", f"-d{SECONDS}s", "--timeout", "10s", "-s", script,
             f"http://{server.host}:{server.port}", "--", token, str(len(runs)), str(n)],
            capture_output=True, text=True)
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = cpu_seconds(pid) - cpu_before
        m = re.search(r"RESULT (\{.*\})", out.stdout)
        if out.returncode != 0 or not m:
            sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        r = json.loads(m.group(1))
        secs = r["duration_us"] / 1e6
        errors = sum(r[k] for k in ("connect", "read", "write", "status", "timeout"))
        wrk_cpu = (wrk_after.ru_utime + wrk_after.ru_stime
                   - wrk_before.ru_utime - wrk_before.ru_stime)
        print(f"{CLIENTS} clients for {secs:.1f} s (runs list, one run, search found early, one "
              f"entry): {r['requests'] / secs:,.0f} requests/s, p50 {r['p50_us'] / 1000:.2f} ms, "
              f"p90 {r['p90_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms, "
              f"max {r['max_us'] / 1000:.1f} ms, {errors} errors")
        print(f"  CPU: server {server_cpu:.1f} s, wrk {wrk_cpu:.1f} s of {2 * secs:.0f} s "
              "on 2 cores")
        print(f"after the load: {memory(pid)}")
        if errors:
            sys.exit(f"{errors} requests failed: {r}")
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if not os.path.exists(BIN):
        sys.exit(f"build first: cargo build --release -p ucsync (or set UCSYNC_BIN); {BIN} is missing")
    for arg in sys.argv[1:] or ["1000000"]:
        bench(int(arg))
