# SPDX-License-Identifier: MIT
"""The bench harness: the one way a suite starts an origin, runs an engine or
a peer, measures it and reports. Standard library only.

- Every client runs as a child process, started by spawn(): pinned to the
  client core, timed from the outside (wall clock from spawn to exit; CPU
  user + sys and peak RSS of the child and everything it waited for, from
  wait4). That includes its start-up.
- Engines run through the fetchbench command: `fetchbench compare --json -`
  for a sweep (compare forks a child per run, interleaves the repeats and
  times each run in-process), or `fetchbench run --format json|csv` for one
  run (its in-process figures, and the outside ones from spawn).
- Origins start through tests/fbtest.py's Origin, pinned to the origin core.
- stat() is the one median (with min and max) on the Python side: a row's
  figures are {"median", "min", "max"} over its repeats, as in compare's
  JSON; the C side's is the core's fb_stat_compute.
- Plots come from fetchbench's one plot generator: Suite.plot hands a
  sweep's rows to `fetchbench report ROWS --plot ...`.
- A suite is a function registered with @suite(NAME). It prints one JSON
  object per result on stdout (Suite.add, Suite.add_extra) and its human
  table on stderr (Suite.say); both are kept in OUT/NAME/ (results.jsonl,
  table.txt) beside its plots.
"""

import csv
import io
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import fbtest  # noqa: E402

QUICK = os.environ.get("FB_BENCH_QUICK") == "1"

# The suites by name: each a function of a Suite (see bench/bench.py).
SUITES = {}


def suite(name):
    """Registers the decorated function as the suite NAME."""
    def register(fn):
        SUITES[name] = fn
        return fn
    return register


def repeats(default, quick):
    """The repeats (rounds) of a sweep: FB_BENCH_REPEAT, else quick under
    FB_BENCH_QUICK=1, else default."""
    env = os.environ.get("FB_BENCH_REPEAT")
    if env:
        return max(1, int(env))
    return quick if QUICK else default


def log(msg=""):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


_said = set()


def skipped(what, key=None):
    """A missing optional tool or package: said once, never a failure."""
    if (key or what) not in _said:
        _said.add(key or what)
        log("skipped: " + what)


def tool(name):
    """The path of an installed program, or None after saying so."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        skipped("%s is not installed: its part is left out" % name, name)
    return path


# --- statistics --------------------------------------------------------------

def stat(values):
    """{"median", "min", "max"} of the values that are not None, or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v)}


def med(row, key):
    """The median of a row's statistic (or the plain value), or None."""
    s = row.get(key) if row else None
    return s.get("median") if isinstance(s, dict) else s


def ideal_of(n, workers, delay_ms):
    """ceil(n / workers) x delay, in seconds."""
    return -(-n // workers) * delay_ms / 1000


def machine():
    """The same one-line description as fetchbench's (CPU model, cores,
    kernel), taken before any pinning: beside every figure."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores online, %d allowed, Linux %s" % (
        model, os.cpu_count() or 0, len(os.sched_getaffinity(0)),
        platform.release())


# --- children ----------------------------------------------------------------

class Timed:
    """A finished child: wall, CPU and peak RSS from wait4, status, output."""

    def __init__(self):
        self.wall_s = self.user_s = self.sys_s = 0.0
        self.max_rss_kib = 0
        self.status = None
        self.timed_out = False
        self.settled_s = 0.0  # waited for the last client's ports
        self.stdout = self.stderr = ""

    @property
    def cpu_s(self):
        return self.user_s + self.sys_s

    def last_line(self):
        """The last line it wrote on stderr (or its status): what went
        wrong, for a note."""
        lines = self.stderr.strip().splitlines()
        return (lines[-1] if lines else "exit %s" % self.status)[:200]


# --- the local ports a run leaves behind -------------------------------------
#
# A client that closes thousands of connections leaves as many local ports in
# TIME_WAIT. For about a second (net.ipv4.tcp_tw_reuse_delay) the kernel may
# not take them again, and a run started meanwhile pays for every connect
# with a search past them: 10,000 connects in a row took 0.93 s right after
# 10,000 others and 0.23 s two seconds later (2 cores of an Intel Xeon,
# Linux 6.18), and a run of 10,000 connections at once lost 0.6 s of its
# 1.3. So a client starts once the machine's young TIME_WAIT ports (from
# whichever client) can be taken again, as a run started on its own would
# find them.

TIME_WAIT_MANY = 1000
TIME_WAIT_S = 60  # TCP_TIMEWAIT_LEN


def _tw_reuse_delay_s():
    try:
        with open("/proc/sys/net/ipv4/tcp_tw_reuse_delay") as f:
            return int(f.read()) / 1000
    except (OSError, ValueError):
        return 1.0  # before Linux 6.13 the delay was a fixed second


def time_wait_sockets():
    """TCP sockets in TIME_WAIT on the machine (/proc/net/sockstat: one
    short line, where /proc/net/tcp lists every socket)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    w = line.split()
                    return int(w[w.index("tw") + 1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def young_time_wait(delay_s):
    """(how many TCP sockets in TIME_WAIT are younger than delay_s, how
    long until the youngest is not), from /proc/net/tcp{,6}: a TIME_WAIT
    socket's timer says how long it has left of its TIME_WAIT_S."""
    hz = os.sysconf("SC_CLK_TCK")
    young, wait = 0, 0.0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f, None)
                for line in f:
                    w = line.split()
                    if len(w) < 6 or w[3] != "06":
                        continue
                    age = TIME_WAIT_S - int(w[5].split(":")[1], 16) / hz
                    if age < delay_s:
                        young += 1
                        wait = max(wait, delay_s - age)
        except (OSError, ValueError, IndexError):
            continue
    return young, wait


def _settle_ports(t):
    """Waits until the machine holds fewer than TIME_WAIT_MANY ports in
    TIME_WAIT that the kernel may not reuse yet; the wait goes into
    t.settled_s."""
    t.settled_s = 0.0
    if time_wait_sockets() < TIME_WAIT_MANY:
        return  # too few to matter, young or old: no need to list them
    young, wait = young_time_wait(_tw_reuse_delay_s())
    t.settled_s = wait + 0.05 if young >= TIME_WAIT_MANY else 0.0
    if t.settled_s > 0:
        time.sleep(t.settled_s)


# bench/spawn (Suite sets it): a small program that forks and executes each
# child. Linux keeps a process's peak RSS across exec, so a child forked from
# this Python process would report at least the harness's own RSS as its
# peak; forked from spawn it reports its own.
SPAWN = None


def _spawned(argv, cpu, report):
    """argv run through bench/spawn, which pins it and writes its wall, CPU,
    peak RSS and status to report."""
    return [SPAWN] + (["-c", str(cpu)] if cpu is not None else []) + [
        "-o", report, "--"] + list(argv)


def spawn(argv, cpu=None, stdin_path=None, timeout=600, keep_stdout=True):
    """Runs argv pinned to cpu (None: not pinned), as its own process group
    (killed whole after timeout seconds), and reaps it with wait4 (through
    bench/spawn where the suite has it: see SPAWN). Output goes through
    temporary files, so a chatty child never blocks.
    """
    t = Timed()
    report = None
    if SPAWN is not None:
        fd, report = tempfile.mkstemp(prefix="fb-spawn-")
        os.close(fd)
        argv, pin = _spawned([str(a) for a in argv], cpu, report), None
    else:
        pin = None if cpu is None else lambda: os.sched_setaffinity(0, {cpu})
    _settle_ports(t)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen([str(a) for a in argv], stdin=stdin,
                                 stdout=out if keep_stdout
                                 else subprocess.DEVNULL,
                                 stderr=err, start_new_session=True,
                                 preexec_fn=pin)
        finally:
            if stdin_path:
                stdin.close()

        def kill():
            t.timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
        finally:
            timer.cancel()
        t.wall_s = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here
        t.status = p.returncode
        t.user_s, t.sys_s = ru.ru_utime, ru.ru_stime
        t.max_rss_kib = ru.ru_maxrss
        if report is not None:
            with open(report) as f:
                got = f.read().split()
            os.unlink(report)
            if len(got) == 5:  # else spawn was killed: keep its own figures
                t.wall_s, t.user_s, t.sys_s = map(float, got[:3])
                t.max_rss_kib, t.status = int(got[3]), int(got[4])
        out.seek(0)
        err.seek(0)
        t.stdout = out.read().decode(errors="replace")
        t.stderr = err.read().decode(errors="replace")
    return t


def measure(t, n, ok, extra=None):
    """A measurement of an outside-timed run of n URLs, ok of them good."""
    m = {"wall_s": t.wall_s, "cpu_user_s": t.user_s, "cpu_sys_s": t.sys_s,
         "cpu_s": t.cpu_s, "cpu_per_req_ms": t.cpu_s * 1000 / n,
         "max_rss_kib": t.max_rss_kib, "req_per_s": n / t.wall_s,
         "errors": n - ok, "status": t.status, "timing": "external"}
    if t.timed_out:
        m["note"] = "killed after the timeout"
    elif ok < n:
        m["note"] = t.last_line()
    m.update(extra or {})
    return m


# --- what a sweep fetches ----------------------------------------------------

class Workload:
    """What every contender of a sweep fetches, and how: the very URL list
    the engines fetch (written to a file), the connection policy, the
    origin's delay when known, and for https URLs the CA file that verifies
    the origin (every client is given it). reference holds each URL's body
    bytes as an engine fetched them, once Suite.reference has run.
    """

    def __init__(self, s, name, origin, urls, connection, delay_ms=None,
                 cacert=None):
        self.name = name
        self.cacert = cacert
        self.origin = origin
        self.urls = urls
        self.n = len(urls)
        self.connection = connection
        self.fresh = connection == "fresh"
        self.delay_ms = delay_ms
        self.file = s.write_list(name, urls)
        self.reference = None

    def args(self, engine, workers):
        """`fetchbench run` options that fetch this workload."""
        return ["--urls", self.file, "--engine", engine, "--workers",
                str(workers), "--connection", self.connection] + (
            ["--cacert", self.cacert] if self.cacert else [])

    def paths_file(self, s):
        """The URLs' paths (and queries), one a line, for wrk's script."""
        return s.write_list(self.name + "-paths",
                            [u[len(self.origin):] for u in self.urls])


# --- a suite's run -----------------------------------------------------------

class Suite:
    """One suite's run: its tools, cores, origins, results directory and
    rows."""

    def __init__(self, name, args):
        self.name = name
        self.fetchbench = os.path.abspath(args.fetchbench)
        self.multi_poll = args.multi_poll
        self.raw_client = args.raw_client
        self.origin_helper = getattr(args, "origin_helper", None)
        global SPAWN
        SPAWN = getattr(args, "spawn", None)
        self.tools_dir = os.path.join(os.path.abspath(args.out), ".tools")
        self.rtt_ms = int(os.environ.get("FB_BENCH_RTT") or 0)
        self._engines = None
        self.quick = QUICK
        self.dir = os.path.join(os.path.abspath(args.out), name)
        self.machine = machine()
        self.rows = []
        self.extra = []  # goal lines and the like, printed as they come
        self.text = []   # the human report, also written to table.txt
        self.origins = []
        self.failed = False
        self.t0 = time.monotonic()
        cpus = sorted(os.sched_getaffinity(0))
        # As fb_cpu_plan: the client takes the first allowed core, the
        # origin the last; with one core nothing is pinned.
        self.client_cpu = cpus[0] if len(cpus) >= 2 else None
        self.origin_cpu = cpus[-1] if len(cpus) >= 2 else None
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(self.dir)
        # URL lists and config files name this run's origin port: they are
        # not results.
        self.work = tempfile.mkdtemp(prefix="fb-bench-%s-" % name)
        # Thousands of connections on each side; children inherit it.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    # --- the human report and the JSON lines ---------------------------------

    def cores_line(self):
        if self.client_cpu is None:
            return "not pinned: fewer than two cores allowed"
        return "origin on CPU %d; clients (engines and peers) on CPU %d" % (
            self.origin_cpu, self.client_cpu)

    def say(self, msg=""):
        """A line of the human report: stderr and table.txt."""
        log(msg)
        self.text.append(msg)

    def header(self, what):
        self.say("# fetchbench bench %s: %s" % (self.name, what))
        self.say("# machine: %s" % self.machine)
        self.say("# %s%s" % (self.cores_line(),
                             "; QUICK variant (FB_BENCH_QUICK)"
                             if self.quick else ""))

    def context(self):
        """Where a figure was taken: in every JSON line."""
        return {"machine": self.machine, "client_cpu": self.client_cpu,
                "origin_cpu": self.origin_cpu, "quick": self.quick}

    def add(self, row):
        """Keeps a cell row and prints it on stdout as one JSON line."""
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def add_extra(self, obj):
        """A result that is not a cell (a goal, a ratio, a bench line)."""
        obj = dict(obj, suite=self.name)
        obj.update(self.context())
        self.extra.append(obj)
        print(json.dumps(obj), flush=True)

    def fail(self, what):
        """The machinery broke or a run failed: said, and the exit is 1."""
        log("%s: %s" % (self.name, what))
        self.failed = True

    def finish(self):
        """Writes results.jsonl and table.txt; returns the exit status."""
        self.stop_origins()
        shutil.rmtree(self.work, ignore_errors=True)
        elapsed = time.monotonic() - self.t0
        self.say("# %s: %d results in %.0f s; results in %s" % (
            self.name, len(self.rows) + len(self.extra), elapsed, self.dir))
        with open(os.path.join(self.dir, "results.jsonl"), "w") as f:
            for obj in self.rows + self.extra:
                f.write(json.dumps(obj) + "\n")
        with open(os.path.join(self.dir, "table.txt"), "w") as f:
            f.write("\n".join(self.text) + "\n")
        print(json.dumps({"kind": "suite", "suite": self.name,
                          "cells": len(self.rows), "elapsed_s": elapsed,
                          "results": self.dir, "failed": self.failed}),
              flush=True)
        return 1 if self.failed else 0

    # --- origins -------------------------------------------------------------

    def start_origin(self, *args):
        """`fetchbench origin ARGS` pinned to the origin core, after
        stopping the previous workload's; returns it (.url)."""
        self.stop_origins()
        return self.server([self.fetchbench, "origin", *args])

    def tls_origin(self, *args, cert=None, key=None, program=None):
        """`fetchbench origin --tls ARGS` (or program, an origin-helper,
        with the same options) pinned to the origin core, beside the
        origins already running; with cert and key it presents that pair.
        Its certificates' PEM (--cert-out) is in .cafile, which clients are
        given (--cacert) and which Origin.get verifies it with.
        """
        self.ncerts = getattr(self, "ncerts", 0) + 1
        cafile = os.path.join(self.work, "origin-%d.pem" % self.ncerts)
        argv = [program] if program else [self.fetchbench, "origin"]
        argv += ["--tls", "--cert-out", cafile] + (
            ["--cert", cert, "--key", key] if cert else []) + list(args)
        o = self.server(argv)
        o.cafile = cafile
        return o

    def rtt_args(self):
        """The origin options of FB_BENCH_RTT (an emulated round trip, for
        the suites that take it), or none."""
        return ["--rtt", str(self.rtt_ms)] if self.rtt_ms else []

    def server(self, argv, url=None):
        """Any server pinned to the origin core (fbtest.Origin), stopped
        with the suite."""
        o = fbtest.Origin(argv, cpu=self.origin_cpu, url=url)
        self.origins.append(o)
        return o

    def stop_origins(self):
        for o in self.origins:
            o.stop()
        self.origins = []

    # --- URL lists -----------------------------------------------------------

    def write_list(self, name, lines):
        path = os.path.join(self.work, name + ".txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def list_urls(self, origin, pages=None):
        """The URLs compare fetches from origin: the ten seed pages, or
        `pages` pages (the HTML pages of the corpus, cycled)."""
        cmd = [self.fetchbench, "compare", "--origin", origin, "--list-urls"]
        cmd += ["--pages", str(pages)] if pages else ["--seed-pages"]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True,
                             timeout=120).stdout.decode()
        return [u for u in out.splitlines() if u]

    def workload(self, name, origin, connection, pages=None, delay_ms=None,
                 cacert=None):
        """A Workload on compare's own URL list."""
        return Workload(self, name, origin, self.list_urls(origin, pages),
                        connection, delay_ms, cacert)

    # --- the fetchbench command ----------------------------------------------

    def engines(self):
        """The engines this fetchbench has, as `fetchbench --help` lists
        them (an engine the system refuses, such as io_uring under a
        seccomp filter, is left out there): {name: most workers}."""
        if self._engines is None:
            out = subprocess.run([self.fetchbench, "--help"],
                                 stdout=subprocess.PIPE, check=True,
                                 timeout=60).stdout.decode()
            part = out.split("\nEngines:\n", 1)[-1].split("\n\n", 1)[0]
            self._engines = {}
            for entry in re.split(r"\n(?=  \S)", part):
                name = re.match(r"\s*([a-z0-9_-]+)", entry)
                most = re.search(r"\(workers\s+1\.\.(\d+)\)", entry)
                if name:
                    self._engines[name.group(1)] = int(most.group(1)) \
                        if most else None
        return self._engines

    def has_engine(self, name):
        """Whether this fetchbench has the engine; when not, one line says
        so (its rows are left out; never a failure)."""
        if name in self.engines():
            return True
        skipped("engine %s is not in this fetchbench (`fetchbench --help` "
                "lists %s): its rows are left out" % (
                    name, ", ".join(self.engines())), "engine " + name)
        return False

    def compare(self, args, origin=None, timeout=3600):
        """`fetchbench compare ARGS --json -`: returns (cells, verdict,
        table). With origin, compare uses it and pins itself beside it.
        Exit status 1 (a cell with errors) is data; 2 or worse raises.
        """
        cmd = [self.fetchbench, "compare", "--quiet", "--json", "-"] + args
        if origin is not None:
            cmd += ["--origin", origin]
            if self.origin_cpu is not None:
                cmd += ["--origin-cpu", str(self.origin_cpu)]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        table = p.stderr.decode()
        if p.returncode not in (0, 1):
            raise RuntimeError("%s exited %d:\n%s" % (" ".join(cmd),
                                                      p.returncode, table))
        lines = [json.loads(x) for x in p.stdout.decode().splitlines() if x]
        cells = [x for x in lines if x.get("kind") == "cell"]
        verdict = next((x for x in lines if x.get("kind") == "verdict"), None)
        if p.returncode != 0:
            self.failed = True
        return cells, verdict, table

    def plot(self, sweep, title, rows, names=("wall", "cpu", "rss")):
        """Draws a sweep's rows with `fetchbench report ROWS --plot
        --plot-cpu --plot-rss` into SWEEP-NAME.svg and .png, NAME from names
        (the bar charts of the throughput workload are "pages", "cpu",
        "rss"); title is the plots' second line, after the cores. Rows may
        include peers and reference cells ("reference": true). Returns the
        files written (none without gnuplot).
        """
        if tool("gnuplot") is None or not rows:
            return []
        data = os.path.join(self.work, sweep + "-rows.jsonl")
        with open(data, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        files = []
        for ext in ("svg", "png"):
            out = [os.path.join(self.dir, "%s-%s.%s" % (sweep, n, ext))
                   for n in names]
            cmd = [self.fetchbench, "report", data, "--title",
                   "%s; %s" % (title, self.cores_line()), "--plot", out[0],
                   "--plot-cpu", out[1], "--plot-rss", out[2]]
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=120)
            if p.returncode != 0:
                raise RuntimeError("%s exited %d: %s" % (
                    " ".join(cmd), p.returncode, p.stderr.decode().strip()))
            files += out
        return files

    def run(self, args, fmt="json", timeout=600):
        """One `fetchbench run --format FMT ARGS`, pinned to the client
        core: (Timed, its JSON summary or its CSV rows). Exit status 1
        (some requests failed) is data; 2 or worse raises.
        """
        t = self._run(["--format", fmt] + args, timeout)
        if fmt == "json":
            return t, json.loads(t.stdout)
        return t, list(csv.DictReader(io.StringIO(t.stdout)))

    def run_csv(self, args, timeout=600):
        """One `fetchbench run --format json --csv FILE ARGS`: (Timed, its
        JSON summary, its CSV rows, one per request) of the same run."""
        path = os.path.join(self.work, "run.csv")
        t = self._run(["--format", "json", "--csv", path] + args, timeout)
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        os.unlink(path)
        return t, json.loads(t.stdout), rows

    def _run(self, args, timeout):
        cmd = [self.fetchbench, "run"] + args
        t = spawn(cmd, self.client_cpu, timeout=timeout)
        if t.status not in (0, 1):
            raise RuntimeError("%s exited %s: %s" % (" ".join(cmd), t.status,
                                                     t.stderr.strip()))
        return t

    def page_sizes(self, o, engine="async"):
        """Every page of origin o's corpus with its body size, from one
        keep-alive pass of an engine (over https trusting o.cafile):
        [(path, bytes)], pages that failed left out."""
        paths = o.index()
        w = Workload(self, "corpus", o.url, corpus_urls(o, len(paths)),
                     "reuse", cacert=getattr(o, "cafile", None))
        self.reference(w, engine)
        return [(p, n) for p, n in zip(paths, w.reference) if n is not None]

    def reference(self, w, engine="async"):
        """Fetches the workload once with an engine, per-request CSV: each
        URL's body bytes (None where it failed) become w.reference, the
        sizes peers are checked against. Doubles as a warm-up."""
        _, rows = self.run(w.args(engine, min(64, w.n)), fmt="csv")
        w.reference = [None] * w.n
        for r in rows:
            if r["outcome"] == "ok":
                w.reference[int(r["index"])] = int(r["body_bytes"])
        return rows

    def engine_row(self, sweep, cell):
        """A row from one of compare's cells."""
        row = dict(cell)
        row.update({"suite": self.name, "sweep": sweep, "type": "engine",
                    "client": cell["engine"], "timing": "in-process",
                    "errors_by_outcome": cell.get("errors") or {},
                    "errors": cell.get("errors_total", 0)})
        row.update(self.context())
        if cell.get("failed_runs"):
            row["errors"] = row["errors"] or cell["failed_runs"]
        return row


def corpus_urls(origin, n=0, query="", paths=None):
    """n URLs cycling over paths (default: every page of the origin's
    corpus, its /__index, not only the HTML pages), each with query;
    n == 0: whole passes, some 7,000 URLs (one pass when quick)."""
    paths = [urllib.parse.quote(p) for p in (paths or origin.index())]
    if n == 0:
        n = len(paths) * (1 if QUICK else -(-7000 // len(paths)))
    return ["%s/%s%s" % (origin.url, paths[i % len(paths)], query)
            for i in range(n)]


def open_files(need):
    """Raises this process's RLIMIT_NOFILE (children inherit it) to at
    least need, the hard limit too where allowed (root); returns a sentence
    saying what the limit is, for the report, or raises when it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return "RLIMIT_NOFILE %d (needs %d)" % (soft, need)
    new_hard = hard if hard == resource.RLIM_INFINITY or hard >= need \
        else need
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (max(need, min(soft, new_hard)), new_hard))
    except (ValueError, OSError) as exc:
        raise RuntimeError("RLIMIT_NOFILE is %d (hard %d) and %d are needed: "
                           "%s" % (soft, hard, need, exc))
    return "RLIMIT_NOFILE raised from %d (hard %d) to %d" % (
        soft, hard, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def strace_counts(s, strace, argv, trace=None):
    """The system calls of argv (and its threads and children) counted by
    `strace -f -c` (only those of trace, e.g. "epoll_ctl", when given),
    pinned to the client core: {name: calls}, with "total". Raises when the
    program fails (exit status 2 or worse)."""
    out = os.path.join(s.work, "strace.txt")
    t = spawn([strace, "-f", "-c", "-o", out] + (
        ["-e", "trace=" + trace] if trace else []) + list(argv), s.client_cpu)
    if t.status not in (0, 1):
        raise RuntimeError("strace %s failed (exit %s): %s" % (
            os.path.basename(str(argv[0])), t.status, t.last_line()))
    counts = {}
    with open(out) as f:
        for line in f:
            fields = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(fields) >= 5 and fields[3].isdigit():
                counts[fields[-1]] = int(fields[3])
    os.unlink(out)
    return counts


def proc_rss_kib(pid):
    """VmRSS of a running process (KiB), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_cpu_s(pid):
    """User + system CPU seconds a running process (with its threads) has
    used so far, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
