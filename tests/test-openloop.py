#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Open-loop runs (--rate): every engine starts request i when it is due or
as soon after as a worker is free, and reports latency from the due time
(corrected) beside latency from the start (service time).

Coordinated omission, shown with a server that pauses for one second
(tests/pause-server.py): at 100 requests/s with 10 workers, the requests
that came due during the pause waited for a worker; a closed-loop tool
would only have seen the slow answers of the 10 in flight. The corrected
latency of a request due at time t in the pause [1, 2) is about 2 - t, so
about half the pause's hundred requests (those due in its first half) are
0.5 s late or more, whatever the engine: that is what is asserted, not a
tuned count.
"""

import csv
import io
import json
import os
import statistics
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
from cli_common import FB_BIN, engines, fb, origin, require_bin  # noqa: E402

PAUSE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "pause-server.py")


def rows_of(out):
    return list(csv.DictReader(io.StringIO(out)))


def ms(row, key):
    return float(row[key]) if row[key] != "" else None


def corrected(row):
    """Latency from the due time: the wait to start plus the service."""
    return ms(row, "start_ms") - ms(row, "due_ms") + ms(row, "total_ms")


class CoordinatedOmission(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_paused(self, engine, workers, pause_for):
        with fbtest.Origin([sys.executable, PAUSE, "1", str(pause_for)]) as o:
            path = os.path.join(self.tmp.name, "urls-%s.txt" % engine)
            with open(path, "w") as f:
                for i in range(300):
                    f.write("%s/p?i=%d\n" % (o.url, i))
            r = fb("run", "-e", engine, "-w", str(workers), "--urls", path,
                   "--rate", "100", "--format", "csv", timeout=120)
        self.assertEqual(r.returncode, 0, (engine, r.stderr))
        rows = rows_of(r.stdout)
        self.assertEqual(len(rows), 300)
        for row in rows:
            self.assertEqual(row["outcome"], "ok", (engine, row))
            self.assertNotEqual(row["due_ms"], "", (engine, row))
        return rows

    def test_pause_shows_in_corrected_latency_only(self):
        for name, top in engines().items():
            workers = min(10, top)
            with self.subTest(engine=name):
                rows = self.run_paused(name, workers, 1)
                late = [r for r in rows if corrected(r) >= 500]
                slow = [r for r in rows if ms(r, "total_ms") >= 500]
                # About the first half of the pause's 100 requests.
                self.assertGreaterEqual(len(late), 40, name)
                self.assertLessEqual(len(late), 110, name)
                # Only those in flight when it began saw a slow answer.
                self.assertGreaterEqual(len(slow), 1, name)
                self.assertLessEqual(len(slow), workers, name)
                # ... which came due at the pause's start (the first few of
                # its 100: one per 10 ms per worker).
                for r in slow:
                    self.assertLess(float(r["due_ms"]), 1000 + 15 * workers, r)

    def test_without_pause_both_agree(self):
        for name, top in engines().items():
            workers = min(10, top)
            with self.subTest(engine=name):
                rows = self.run_paused(name, workers, 0)
                waits = [corrected(r) - ms(r, "total_ms") for r in rows]
                # The median request started on time: the two latencies
                # agree within a millisecond.
                self.assertLessEqual(statistics.median(waits), 1.0, name)


class Schedule(unittest.TestCase):
    """1,000 requests/s for 2 s against a fast origin: the schedule is kept
    (the rate achieved within 1 % of the rate asked) and the median request
    starts within a millisecond of its due time, for the loop and for the
    threads. How close the slowest ones come (issue 16's p99 <= 1 ms for
    async, 2 ms for threads) is a speed figure: the `rate` bench suite
    measures it on a quiet machine, not this test on a shared one. Best of
    three tries: a test machine may be busy for a moment."""

    def measure(self, engine, workers):
        with origin() as o, tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "urls.txt")
            with open(path, "w") as f:
                for i in range(2000):
                    f.write("%s/__bytes/100?i=%d\n" % (o.url, i))
            best = None
            for _ in range(3):
                r = fb("run", "-e", engine, "-w", str(workers), "--urls",
                       path, "--rate", "1000", "--format", "json",
                       timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                doc = json.loads(r.stdout)
                self.assertEqual(doc["ok"], 2000)
                # Every request has its due time and its wait.
                self.assertEqual(doc["histograms"]["queue"]["count"], 2000)
                key = (abs(doc["rate_achieved"] / doc["rate_asked"] - 1),
                       doc["queue_ms"]["p50"])
                if best is None or key < best:
                    best = key
                if key[0] <= 0.01 and key[1] <= 1.0:
                    break
            return best

    def check(self, engine, workers):
        off, p50 = self.measure(engine, workers)
        self.assertLessEqual(off, 0.01, engine)
        self.assertLessEqual(p50, 1.0, engine)

    def test_async(self):
        self.check("async", 64)

    def test_threads(self):
        self.check("threads", 64)


class BadInput(unittest.TestCase):
    def test_rates(self):
        for bad in ("0", "-1", "abc", "1e9", "5000000", "", "1.5.2"):
            r = fb("run", "--rate", bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn("--rate", r.stderr, bad)

    def test_arrival(self):
        r = fb("run", "--rate", "10", "--arrival", "bursty")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--arrival: 'bursty'", r.stderr)
        r = fb("run", "--arrival", "poisson")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--arrival goes with --rate", r.stderr)


if __name__ == "__main__":
    require_bin()
    fbtest.main()
