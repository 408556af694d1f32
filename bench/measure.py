"""What the benchmarks share: starting ucsync so that its own figures are measured.

A process started by a benchmark script directly reports a peak RSS (`ru_maxrss`) of at least
the script's own: the kernel folds the high-water mark of the memory a process had before its
exec into its peak, and a child that Python starts (vfork) had the script's memory, which is
large once the script has generated a source or read a directory back. So a command is started
by a small launcher process (about 13 MiB, the floor of the figure), which reports its child's
wall time, exit code, peak RSS and CPU from `wait4`.
"""
import json, os, subprocess, sys, tempfile
from datetime import datetime

LAUNCHER = r"""
import json, os, sys, time
t = time.monotonic()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.monotonic() - t
with open(sys.argv[1], "w") as f:
    json.dump({"elapsed": elapsed, "exit": os.waitstatus_to_exitcode(status),
               "rss": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime}, f)
"""


def measured(cmd, stdout, stderr, env=None):
    """Runs `cmd` (its first item a path) through the launcher, its output to the open files
    `stdout` and `stderr`; returns {"elapsed", "exit", "rss" (MiB), "cpu" (seconds)}."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as figures:
        subprocess.run([sys.executable, "-c", LAUNCHER, figures.name, *cmd],
                       stdout=stdout, stderr=stderr, env=env, check=True)
        return json.load(figures)


def ts(s):
    """An RFC 3339 time of a run record, in seconds."""
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run_ucsync(bin_, work, log, args, env=None, verbose=False):
    """Runs `ucsync --json ARGS` on the data directory and configuration of `work`, its log in
    `log`; exits naming the output when it fails. Returns the launcher's figures with "report"
    (the JSON it printed), "log_lines" (what it wrote to stderr) and "steps": (connector,
    profile, seconds, counters) of each step of its run record."""
    common = ["--json", "--config", os.path.join(work, "ucsync.toml"),
              "--data-dir", os.path.join(work, "data")]
    with tempfile.TemporaryFile("w+") as out, open(log, "w+") as err:
        w = measured([bin_, *common, *(["-v"] if verbose else []), *args], out, err, env)
        out.seek(0), err.seek(0)
        if w["exit"] != 0:
            sys.exit(f"ucsync {args} exited {w['exit']}:\n{out.read()}\n{err.read()[-5000:]}")
        w["report"] = json.load(out)
        w["log_lines"] = err.readlines()
    shown = json.loads(subprocess.run([bin_, *common, "runs", "show", str(w["report"]["run_id"])],
                                      capture_output=True, text=True, check=True, env=env).stdout)
    w["steps"] = [(s["connector"], s["profile"], ts(s["ended_at"]) - ts(s["started_at"]),
                   s["counters"]) for s in shown["steps"]]
    return w
