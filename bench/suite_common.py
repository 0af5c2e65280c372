"""What every bench suite shares: the machine and its cores, the origin, the
URL lists, `fetchbench compare` runs, statistics, and the rows a suite
reports (one JSON object per cell, printed on stdout and kept in the suite's
results directory).

A row is one cell of a sweep: an engine (measured by `fetchbench compare`,
whose cell object it extends) or a peer (measured here). Its statistics are
{"median", "min", "max"} objects over the repeats, as in compare's JSON.
"""

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

# What a row's statistics are called, in compare's JSON and ours.
STAT_KEYS = ("wall_s", "cpu_user_s", "cpu_sys_s", "cpu_s", "child_cpu_s",
             "cpu_per_req_ms", "max_rss_kib", "rss_sum_kib",
             "latency_p50_ms", "latency_p99_ms", "req_per_s")


def log(msg=""):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def skipped(what):
    """A missing optional tool: said once, never a failure."""
    log("skipped: " + what)


def stat(values):
    """{"median", "min", "max"} of the values that are not None, or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v)}


def med(row, key):
    """The median of a row's statistic, or None."""
    s = row.get(key)
    return s.get("median") if isinstance(s, dict) else s


def machine():
    """The same one-line description as fetchbench's (CPU model, cores,
    kernel), taken before any pinning.
    """
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


class Suite:
    """One suite's run: its cores, its results directory and its rows."""

    def __init__(self, name, fetchbench, out_root, quick):
        self.name = name
        self.fetchbench = os.path.abspath(fetchbench)
        self.quick = quick
        self.dir = os.path.join(os.path.abspath(out_root), name)
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
        # URL lists and peers' config files: they name this run's origin
        # port, so they are not results.
        self.work = tempfile.mkdtemp(prefix="fb-bench-%s-" % name)
        self._raise_nofile()

    @staticmethod
    def _raise_nofile():
        """Thousands of connections on each side; children inherit it."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

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

    # --- the origin ----------------------------------------------------------

    def start_origin(self, delay_ms):
        """`fetchbench origin` with this delay, pinned to the origin core,
        after stopping the previous workload's; returns its base URL.
        """
        self.stop_origins()
        cmd = [self.fetchbench, "origin", "--delay", str(delay_ms)]
        if self.origin_cpu is not None:
            cmd += ["--cpu", str(self.origin_cpu)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                start_new_session=True)
        url = proc.stdout.readline().decode().strip()
        if not url.startswith("http://"):
            proc.kill()
            proc.wait()
            raise RuntimeError("fetchbench origin did not start")
        self.origins.append(proc)
        return url

    def stop_origins(self):
        """SIGTERM to every origin at once, then reap each (SIGKILL after
        10 s)."""
        for proc in self.origins:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.origins:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self.origins = []

    def corpus_pages(self, origin):
        """How many HTML pages the origin serves (its /__index)."""
        with urllib.request.urlopen(origin + "/__index", timeout=30) as r:
            lines = r.read().decode().splitlines()
        return sum(1 for line in lines if line.strip().endswith(".html"))

    def url_list(self, origin, name, pages=None):
        """The URLs compare would fetch from origin (the ten seed pages, or
        `pages` pages), written to NAME.txt in the work directory; returns
        (path, URLs).
        """
        cmd = [self.fetchbench, "compare", "--origin", origin, "--list-urls"]
        cmd += ["--pages", str(pages)] if pages else ["--seed-pages"]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True,
                             timeout=120).stdout.decode()
        urls = [u for u in out.splitlines() if u]
        path = os.path.join(self.work, name + ".txt")
        with open(path, "w") as f:
            f.write("\n".join(urls) + "\n")
        return path, urls

    # --- fetchbench compare --------------------------------------------------

    def compare(self, args, origin=None, timeout=3600):
        """Runs `fetchbench compare ARGS --json -`: returns (cells, verdict,
        table). With origin, compare uses that origin and pins itself beside
        it. Exit status 1 (a cell with errors) is data; 2 or worse raises.
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

    # --- rows ----------------------------------------------------------------

    def context(self):
        """The run's context, in every row."""
        return {"machine": self.machine, "client_cpu": self.client_cpu,
                "origin_cpu": self.origin_cpu, "quick": self.quick}

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

    def add(self, row):
        """Keeps a row and prints it on stdout as one JSON line."""
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def add_extra(self, obj):
        obj = dict(obj, suite=self.name)
        obj.update(self.context())
        self.extra.append(obj)
        print(json.dumps(obj), flush=True)

    def finish(self):
        """Writes results.jsonl and table.txt; returns the exit status."""
        shutil.rmtree(self.work, ignore_errors=True)
        elapsed = time.monotonic() - self.t0
        self.say("# %s: %d cells in %.0f s; results in %s" % (
            self.name, len(self.rows), elapsed, self.dir))
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


def merge_rounds(runs):
    """Engine rows of one cell measured in several compare invocations (one
    run each): the statistics over the runs, as compare would give them.
    """
    row = dict(runs[0])
    for key in STAT_KEYS + ("run_efficiency",):
        if any(isinstance(r.get(key), dict) for r in runs):
            row[key] = stat((r.get(key) or {}).get("median") for r in runs)
    row["runs"] = sum(r.get("runs", 0) for r in runs)
    row["failed_runs"] = sum(r.get("failed_runs", 0) for r in runs)
    row["errors_total"] = sum(r.get("errors_total", 0) for r in runs)
    row["errors"] = {}
    for r in runs:
        for outcome, count in (r.get("errors") or {}).items():
            row["errors"][outcome] = row["errors"].get(outcome, 0) + count
    row["repeats"] = len(runs)
    row["runs_wall_s"] = [w for r in runs for w in r.get("runs_wall_s", [])]
    if (row.get("ideal_s") or 0) > 0 and med(row, "wall_s"):
        row["efficiency"] = row["ideal_s"] / med(row, "wall_s")
    return row
