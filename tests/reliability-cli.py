#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fetchbench command under signals, for every engine:

- SIGINT and SIGTERM mid-run: exit within a second with 130/143 and a
  partial report in which every URL is accounted for (the unfinished ones
  cancelled or not run), as JSON and as CSV, with a separate origin and
  with the embedded one;
- the command killed with SIGKILL: nothing it started is left behind (the
  embedded origin, the process pool's workers, compare's per-run
  children)."""

import csv
import ctypes
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
from cli_common import FB_BIN, engines, origin, require_bin  # noqa: E402

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
# From the signal to the exit. The issue asks for a second; the margin is
# for a loaded 2-core machine scheduling the test itself.
EXIT_WITHIN_S = 1.0
EXIT_SLACK_S = 0.25


def interrupt(test, name, sig, args):
    """Runs `fetchbench run --engine name args`, sends sig after 0.8 s;
    checks the exit status and time; returns standard output."""
    p = subprocess.Popen([FB_BIN, "run", "--engine", name, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(0.8)
    test.assertIsNone(p.poll(), "%s ended before the signal" % name)
    t0 = time.monotonic()
    p.send_signal(sig)
    p.wait(timeout=20)
    took = time.monotonic() - t0
    out, err = p.communicate(timeout=20)
    if os.environ.get("FB_RELIABILITY_PRINT"):
        print("%s %s: exit %.3f s after the signal"
              % (name, signal.Signals(sig).name, took), file=sys.stderr)
    test.assertEqual(p.returncode, SIGNAL_EXIT[sig], (name, err))
    test.assertLess(took, EXIT_WITHIN_S + EXIT_SLACK_S,
                    "%s took %.2f s to exit" % (name, took))
    test.assertIn("cancelled", err)
    return out


class Signals(unittest.TestCase):
    """3 quick URLs, then 6 that take 5 s: the signal comes while the slow
    ones are in flight (or waiting for a worker)."""

    @classmethod
    def setUpClass(cls):
        cls.origin = origin("--delay", "0")
        pages = [p for p in cls.origin.index() if p.endswith(".html")]
        base = cls.origin.url
        cls.fast = ["%s/%s" % (base, p) for p in pages[:3]]
        cls.slow = ["%s/%s?delay=5000" % (base, p) for p in pages[3:9]]
        cls.urls = tempfile.NamedTemporaryFile("w", suffix=".txt")
        cls.urls.write("\n".join(cls.fast + cls.slow) + "\n")
        cls.urls.flush()

    @classmethod
    def tearDownClass(cls):
        cls.urls.close()
        status = cls.origin.stop()
        assert status == 0, "origin exited with %r" % status

    def interrupt(self, name, sig, fmt):
        workers = "1" if engines()[name] == 1 else "2"
        return interrupt(self, name, sig, [
            "--workers", workers, "--urls", self.urls.name, "--format", fmt])

    def check_json(self, name, sig):
        doc = json.loads(self.interrupt(name, sig, "json"))
        self.assertEqual(doc["engine"], name)
        self.assertEqual(doc["urls"], 9)
        errors = doc["errors"]
        unfinished = errors.get("cancelled", 0) + errors.get("not_run", 0)
        self.assertGreaterEqual(unfinished, 6, (name, errors))
        # Nothing else: no lost result, no error invented by the signal.
        self.assertEqual(doc["ok"] + unfinished, 9, (name, errors))

    def check_csv(self, name, sig):
        rows = list(csv.DictReader(io.StringIO(
            self.interrupt(name, sig, "csv"))))
        self.assertEqual(sorted(int(r["index"]) for r in rows),
                         list(range(9)), name)
        by_url = {r["url"]: r["outcome"] for r in rows}
        for url in self.slow:
            self.assertIn(by_url[url], ("cancelled", "not_run"), (name, url))
        for url in self.fast:
            self.assertIn(by_url[url], ("ok", "cancelled", "not_run"),
                          (name, url))

    def test_sigint_json(self):
        for name in engines():
            with self.subTest(engine=name):
                self.check_json(name, signal.SIGINT)

    def test_sigterm_json(self):
        for name in engines():
            with self.subTest(engine=name):
                self.check_json(name, signal.SIGTERM)

    def test_sigint_csv(self):
        for name in engines():
            with self.subTest(engine=name):
                self.check_csv(name, signal.SIGINT)

    def test_sigterm_csv(self):
        for name in engines():
            with self.subTest(engine=name):
                self.check_csv(name, signal.SIGTERM)


class EmbeddedOrigin(unittest.TestCase):
    """The same with the origin the command starts itself, slow pages: the
    signal also has to stop the origin, and must not wait for a page."""

    def check(self, name, sig):
        workers = "1" if engines()[name] == 1 else "3"
        doc = json.loads(interrupt(self, name, sig, [
            "--workers", workers, "--corpus", "synthetic", "--delay", "5000",
            "--pages", "6", "--no-pin", "--format", "json"]))
        self.assertEqual(doc["urls"], 6)
        self.assertEqual(doc["errors"].get("cancelled", 0) +
                         doc["errors"].get("not_run", 0), 6, doc["errors"])

    def test_sigint(self):
        for name in engines():
            with self.subTest(engine=name):
                self.check(name, signal.SIGINT)

    def test_sigterm(self):
        for name in engines():
            with self.subTest(engine=name):
                self.check(name, signal.SIGTERM)


PR_SET_CHILD_SUBREAPER = 36


def set_subreaper(on):
    """Orphans of our descendants become our children, so they can be seen
    and reaped here instead of vanishing into init."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def proc_table():
    """{pid: (ppid, state)} of every process."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split after the last ')'.
        rest = stat[stat.rindex(")") + 2:].split()
        table[int(d)] = (int(rest[1]), rest[0])
    return table


def descendants(pid):
    table = proc_table()
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, (ppid, _) in table.items():
            if ppid == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid):
    """Running, not a zombie; reaps it when it is a zombie of ours."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    if stat[stat.rindex(")") + 2] != "Z":
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


class ParentKilled(unittest.TestCase):
    """SIGKILL gives the command no chance to clean up: what it started
    must die on its own (PR_SET_PDEATHSIG)."""

    @classmethod
    def setUpClass(cls):
        set_subreaper(True)

    @classmethod
    def tearDownClass(cls):
        set_subreaper(False)

    def kill_and_check(self, args, want_children):
        p = subprocess.Popen([FB_BIN, *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            kids = set()
            deadline = time.monotonic() + 15
            while len(kids) < want_children and time.monotonic() < deadline:
                time.sleep(0.05)
                kids = descendants(p.pid)
            self.assertGreaterEqual(len(kids), want_children, args)
            # The requests are in flight (they take 5 s) when it dies.
            time.sleep(0.5)
            kids = descendants(p.pid)
        finally:
            p.kill()
            p.wait()
        deadline = time.monotonic() + 3
        left = {k for k in kids if alive(k)}
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = {k for k in left if alive(k)}
        for k in left:
            os.kill(k, signal.SIGKILL)
        self.assertEqual(left, set(), "%s left these behind" % (args,))

    def test_run_every_engine(self):
        """The embedded origin, and the workers of the process pool."""
        for name, top in engines().items():
            with self.subTest(engine=name):
                workers = min(top, 3)
                forks = workers if name == "processes" else 0
                self.kill_and_check(
                    ["run", "--engine", name, "--workers", str(workers),
                     "--corpus", "synthetic", "--delay", "5000", "--pages",
                     "6", "--no-pin"], 1 + forks)

    def test_compare(self):
        """The embedded origin, the run's child and its workers."""
        self.kill_and_check(
            ["compare", "--engines", "processes", "--workers", "3",
             "--repeat", "1", "--corpus", "synthetic", "--delay", "5000",
             "--pages", "6", "--no-pin"], 1 + 1 + 3)


if __name__ == "__main__":
    require_bin()
    fbtest.main()
