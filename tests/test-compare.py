#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fetchbench compare: a tiny sweep's JSON, CSV, table, verdict and plot;
efficiency from the known delay; usage errors; an unreachable origin;
--list-urls; --origin-cpu; a signal before any request."""

import csv
import http.server
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
from cli_common import (  # noqa: E402
    cancel_while_origin_starts, closed_port, engines, fb, require_bin)

STAT_KEYS = ("wall_s", "cpu_user_s", "cpu_sys_s", "cpu_s", "child_cpu_s",
             "cpu_per_req_ms", "max_rss_kib", "latency_p50_ms",
             "latency_p99_ms", "req_per_s")


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def median_interval(values):
    """The order-statistic 95 % interval of the median (None below 6
    values): ranks k and n + 1 - k, k the largest with P(B <= k - 1) <=
    0.025 for B ~ Binomial(n, 1/2)."""
    n, tail, k = len(values), 0.0, 0
    for j in range(n):
        term = math.comb(n, j) / 2 ** n
        if tail + term > 0.025 * (1 + 1e-9):
            break
        tail, k = tail + term, j + 1
    if k == 0:
        return None
    v = sorted(values)
    return v[k - 1], v[n - k]


def mann_whitney_u(x, y):
    """U of x: pairs with x > y, ties counting one half."""
    return sum((a > b) + 0.5 * (a == b) for a in x for b in y)


def exact_p(x, y):
    """Two-sided exact p of the U test without ties: 2 min(P(U <= u),
    P(U >= u)) over the C(n, m) equally likely arrangements, counted by the
    recurrence f(m, n, u) = f(m - 1, n, u - n) + f(m, n - 1, u)."""
    m, n = len(x), len(y)
    u = mann_whitney_u(x, y)
    memo = {}

    def f(i, j, k):
        if k < 0:
            return 0
        if i == 0 or j == 0:
            return 1 if k == 0 else 0
        if (i, j, k) not in memo:
            memo[(i, j, k)] = f(i - 1, j, k - j) + f(i, j - 1, k)
        return memo[(i, j, k)]

    counts = [f(m, n, k) for k in range(m * n + 1)]
    total = sum(counts)
    lo = sum(c for k, c in enumerate(counts) if k <= u) / total
    hi = sum(c for k, c in enumerate(counts) if k >= u) / total
    return min(1.0, 2 * min(lo, hi))


def precise(values, fraction):
    """Whether the median's interval lies within +-fraction of it."""
    ci = median_interval(values)
    if ci is None:
        return False
    v = sorted(values)
    n = len(v)
    median = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return max(median - ci[0], ci[1] - median) <= fraction * median


def expected_cells(workers):
    """(engine, workers) pairs a sweep runs: engines without workers once."""
    cells = set()
    for name, top in engines().items():
        for w in ([1] if top == 1 else workers):
            cells.add((name, w))
    return cells


class TinySweep(unittest.TestCase):
    PAGES, DELAY_MS, WORKERS, REPEAT = 3, 40, [1, 2], 2

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        cls.json_path = os.path.join(d, "c.jsonl")
        cls.csv_path = os.path.join(d, "c.csv")
        cls.plot_path = os.path.join(d, "wall.svg")
        cls.result = fb("compare", "--corpus", "synthetic", "--pages",
                        str(cls.PAGES), "--delay", str(cls.DELAY_MS),
                        "--repeat", str(cls.REPEAT), "--workers",
                        ",".join(map(str, cls.WORKERS)), "--json",
                        cls.json_path, "--csv", cls.csv_path, "--plot",
                        cls.plot_path, timeout=120)
        with open(cls.json_path) as f:
            cls.lines = json_lines(f.read())
        cls.cells = [x for x in cls.lines if x["kind"] == "cell"]

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_exit_and_stdout(self):
        r = self.result
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("# fetchbench compare: 3 pages"))
        self.assertIn("Verdict", r.stdout)
        self.assertIn("fastest:", r.stdout)
        self.assertIn("cheapest in CPU:", r.stdout)
        self.assertIn("cheapest in memory:", r.stdout)
        table = [line.split()[0] for line in r.stdout.splitlines()
                 if line and not line.startswith(("#", "-", " ", "Verdict"))]
        for name in engines():
            self.assertIn(name, table)

    def test_json_cells(self):
        got = {(c["engine"], c["workers"]) for c in self.cells}
        self.assertEqual(got, expected_cells(self.WORKERS))
        self.assertEqual(len(self.cells), len(got))
        for c in self.cells:
            self.assertEqual(c["schema"], 2)
            self.assertEqual(c["runs"], self.REPEAT)
            self.assertEqual(c["failed_runs"], 0)
            self.assertEqual(c["urls"], self.PAGES)
            self.assertEqual(c["errors_total"], 0)
            self.assertEqual(len(c["runs_wall_s"]), self.REPEAT)
            for k in STAT_KEYS:
                st = c[k]
                self.assertLessEqual(st["min"], st["median"], k)
                self.assertLessEqual(st["median"], st["max"], k)
                # Two runs: no 95 % interval of a median exists.
                self.assertEqual(st["n"], self.REPEAT, k)
                self.assertIsNone(st["ci95"], k)
            # Each run's samples, in run order.
            self.assertEqual(c["samples"]["wall_s"], c["runs_wall_s"])
            for name, values in c["samples"].items():
                self.assertEqual(len(values), self.REPEAT, name)
            self.assertEqual(sorted(c["samples"]["latency_p99_ms"])[0],
                             c["latency_p99_ms"]["min"])
            # The histograms of every run merged: one value per request.
            hist = c["histograms"]
            self.assertEqual(hist["latency"]["count"],
                             self.PAGES * self.REPEAT)
            self.assertEqual(sum(n for _, n in hist["ttfb"]["buckets"]),
                             self.PAGES * self.REPEAT)
            self.assertEqual(c["wall_s"]["min"], min(c["runs_wall_s"]))
            self.assertGreater(c["max_rss_kib"]["median"], 0)
            self.assertEqual(c["delay_ms"], self.DELAY_MS)
            self.assertIn(c["connection"], ("fresh", "reuse"))
            self.assertIn("machine", c)
            self.assertIn("client_cpu", c)
        verdicts = [x for x in self.lines if x["kind"] == "verdict"]
        self.assertEqual(len(verdicts), 1)
        v = verdicts[0]
        self.assertEqual(v["cells"], len(self.cells))
        self.assertEqual(v["runs"], len(self.cells) * self.REPEAT)
        fastest = min(self.cells, key=lambda c: c["wall_s"]["median"])
        self.assertEqual(v["fastest"]["engine"], fastest["engine"])
        self.assertEqual(v["fastest"]["workers"], fastest["workers"])
        # 2 runs against 2: the U test can never reach p <= 0.05 (its
        # smallest p is 2 / C(4, 2) = 1/3), so it cannot tell.
        r = v["runner_up"]
        self.assertEqual(r["vs"], v["fastest"])
        self.assertEqual(r["call"], "cannot tell")
        self.assertAlmostEqual(r["p_min"], 1 / 3, places=12)
        self.assertIsNone(r["ratio_ci95"])
        self.assertFalse(v["tie"])
        self.assertIn("cannot tell", self.result.stdout)
        self.assertIn("Mann-Whitney", v["test_method"])

    def test_efficiency_from_delay(self):
        """ideal = ceil(N / workers) x delay, efficiency = ideal / wall."""
        for c in self.cells:
            rounds = math.ceil(self.PAGES / c["workers"])
            ideal = rounds * self.DELAY_MS / 1000.0
            self.assertAlmostEqual(c["ideal_s"], ideal, places=9)
            self.assertAlmostEqual(c["efficiency"],
                                   ideal / c["wall_s"]["median"], places=9)
            # Latency-bound: the wall time cannot beat the delays.
            self.assertGreater(c["wall_s"]["min"], ideal * 0.95)

    def test_csv(self):
        with open(self.csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual({(r["engine"], int(r["workers"])) for r in rows},
                         expected_cells(self.WORKERS))
        for r in rows:
            self.assertEqual(int(r["errors"]), 0)
            self.assertLessEqual(float(r["wall_min_s"]), float(r["wall_s"]))

    def test_plot(self):
        if shutil.which("gnuplot") is None:
            self.assertIn("gnuplot not found", self.result.stderr)
            return
        with open(self.plot_path) as f:
            svg = f.read()
        self.assertIn("<svg", svg)
        for name in engines():
            self.assertIn(name, svg)


class Intervals(unittest.TestCase):
    """Six runs per cell: every median gets its order-statistic interval
    (for 6 values, from the smallest to the largest: coverage 31/32), the
    table shows its reach, and the verdict tests each comparison."""

    @classmethod
    def setUpClass(cls):
        cls.result = fb("compare", "--corpus", "synthetic", "--pages", "2",
                        "--delay", "30", "--engines", "sequential,threads",
                        "--workers", "1,2", "--repeat", "6", "--json", "-",
                        timeout=120)
        cls.lines = json_lines(cls.result.stdout)
        cls.cells = [x for x in cls.lines if x["kind"] == "cell"]
        cls.verdict = [x for x in cls.lines if x["kind"] == "verdict"][0]

    def test_cells(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.assertEqual(len(self.cells), 3)
        for c in self.cells:
            self.assertEqual(c["runs"], 6)
            for k in STAT_KEYS:
                st, ci = c[k], c[k]["ci95"]
                self.assertEqual(st["n"], 6, k)
                self.assertEqual((ci["lo"], ci["hi"]), (st["min"], st["max"]))
                self.assertAlmostEqual(ci["coverage"], 31 / 32, places=12)
            wall = sorted(c["samples"]["wall_s"])
            self.assertAlmostEqual(c["wall_s"]["median"],
                                   (wall[2] + wall[3]) / 2, places=12)

    def test_table_and_verdict(self):
        table = self.result.stderr
        self.assertRegex(table, r"engine +workers +runs +wall s")
        self.assertRegex(table, r"sequential +1 +6 +\d+\.\d{3} \u00b1\d+\.\d{3}")
        self.assertIn("95 % interval", table)
        v = self.verdict
        # The slowest (sequential, 1 worker, 2 pages at 30 ms) against the
        # fastest with 2 workers: about twice as slow, a difference the U
        # test finds; its U and exact p recomputed here from the runs.
        s = v["slowest"]
        cells = {(c["engine"], c["workers"]): c for c in self.cells}
        x = cells[(s["engine"], s["workers"])]["samples"]["wall_s"]
        y = cells[(s["vs"]["engine"], s["vs"]["workers"])]["samples"]["wall_s"]
        self.assertEqual(s["call"], "different")
        self.assertEqual(s["u"], mann_whitney_u(x, y))
        self.assertTrue(s["exact"])
        self.assertAlmostEqual(s["p"], exact_p(x, y), places=12)
        self.assertLessEqual(s["p"], 0.05)
        self.assertGreater(s["ratio_ci95"]["lo"], 1)
        self.assertLessEqual(s["ratio_ci95"]["lo"], s["ratio"])
        self.assertLessEqual(s["ratio"], s["ratio_ci95"]["hi"])
        self.assertRegex(table, r"p=0\.\d+|p<0\.001")
        self.assertIn(v["runner_up"]["call"], ("different", "tie"))
        # The dearest CPU is the verdict's, in the JSON too, set against the
        # cheapest.
        by_cpu = sorted(self.cells, key=lambda c: c["cpu_per_req_ms"]["median"])
        for key, cell in (("cheapest_cpu", by_cpu[0]),
                          ("dearest_cpu", by_cpu[-1])):
            self.assertEqual((v[key]["engine"], v[key]["workers"]),
                             (cell["engine"], cell["workers"]), key)
        self.assertEqual(v["dearest_cpu"]["vs"], v["cheapest_cpu"])
        self.assertEqual(v["dearest_cpu"]["figure"], "cpu_per_req_ms")
        self.assertIn("dearest: ", table)
        # Two URLs and two workers: each URL has its worker, so the sweep
        # cannot show where threads stop gaining, and says so instead of
        # "still gaining at 2 workers" (issue 11, item 9).
        sc = [x for x in v["scaling"] if x["engine"] == "threads"][0]
        self.assertTrue(sc["url_bound"])
        self.assertEqual(sc["urls"], 2)
        self.assertIn("each of the 2 URLs has a worker of its own", table)
        self.assertNotIn("still gaining at 2 workers", table)


class DeadRuns(unittest.TestCase):
    def test_cell_timeout(self):
        """A run's child killed before it reports (here by --cell-timeout
        against a 5 s delay): its message ends short, the run is failed with
        the reason, and with --repeat auto a cell whose runs all fail stops
        at --max-repeat instead of running forever."""
        r = fb("compare", "--corpus", "synthetic", "--pages", "1", "--delay",
               "5000", "--engines", "sequential", "--cell-timeout", "1",
               "--repeat", "auto", "--max-repeat", "5", "--json", "-",
               "--quiet", timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        cells = [x for x in json_lines(r.stdout) if x["kind"] == "cell"]
        self.assertEqual(len(cells), 1)
        c = cells[0]
        self.assertEqual((c["runs"], c["failed_runs"]), (0, 5))
        self.assertEqual(c["failure"], "killed after 1 s (--cell-timeout)")
        self.assertIsNone(c["histograms"])
        self.assertIn("FAILED", r.stderr)


class RepeatAuto(unittest.TestCase):
    def sweep(self, *args):
        r = fb("compare", "--corpus", "synthetic", "--pages", "2", "--delay",
               "2", "--engines", "sequential,threads", "--workers", "2",
               "--repeat", "auto", *args, "--json", "-", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r, [x for x in json_lines(r.stdout) if x["kind"] == "cell"]

    def test_loose(self):
        """Each cell stops at the first run after which its median's
        interval lies within +-P % (an interval needs 6 runs), or at
        --max-repeat: checked against its own samples, whatever the
        machine's noise made of them."""
        r, cells = self.sweep("--precision", "50", "--max-repeat", "12")
        for c in cells:
            self.assertEqual(c["precision"], 0.5)
            self.assertEqual(c["min_repeats"], 5)
            walls = c["samples"]["wall_s"]
            runs = len(walls)
            self.assertEqual(runs, c["runs"])
            self.assertGreaterEqual(runs, 6, c["engine"])
            for m in range(5, runs):
                self.assertFalse(precise(walls[:m], 0.5), (c["engine"], m))
            if runs < 12:
                self.assertTrue(precise(walls, 0.5), c["engine"])
            if precise(walls, 0.5):
                ci = c["wall_s"]["ci95"]
                reach = max(c["wall_s"]["median"] - ci["lo"],
                            ci["hi"] - c["wall_s"]["median"])
                self.assertLessEqual(reach, 0.5 * c["wall_s"]["median"])
        self.assertIn("until within +-50 %, 5 to 12 per cell", r.stderr)

    def test_unreachable(self):
        """A precision no run reaches: every cell stops at --max-repeat."""
        r, cells = self.sweep("--precision", "0.0001", "--max-repeat", "7")
        for c in cells:
            self.assertEqual(c["runs"], 7, c["engine"])
            self.assertEqual(c["repeats"], 7)
        self.assertIn("Verdict (medians of 7 runs per cell)", r.stderr)


class Errors(unittest.TestCase):
    def check(self, args, *needles):
        r = fb("compare", *args)
        self.assertEqual(r.returncode, 2, (args, r.stderr))
        self.assertEqual(r.stdout, "")
        for n in needles:
            self.assertIn(n, r.stderr)

    def test_bad_lists(self):
        self.check(["--engines", "threads,bogus"], "--engines",
                   "unknown engine 'bogus'", "valid:")
        self.check(["--workers", "1,x"], "--workers", "'x'")
        self.check(["--workers", "4,0"], "--workers: 0 is out of range")
        for name, top in engines().items():
            if top > 1:
                self.check(["--engines", name, "--workers",
                            "1,%d" % (top + 1)],
                           "--workers: %d is out of range 1..%d for engine %s"
                           % (top + 1, top, name))

    def test_origin_cpu(self):
        self.check(["--origin-cpu", "1"],
                   "--origin-cpu goes with --origin or --urls",
                   "the embedded origin is pinned already")
        self.check(["--origin-cpu", "1", "--pages", "3"], "--origin-cpu goes")
        self.check(["--urls", "x", "--origin-cpu", "1024"],
                   "--origin-cpu: 1024 is out of range 0..1023")
        self.check(["--origin", "http://127.0.0.1:1", "--origin-cpu", "x"],
                   "--origin-cpu: 'x' is not a whole number")
        self.check(["--origin", "http://127.0.0.1:1", "--origin-cpu", "-1"],
                   "--origin-cpu: '-1'")
        self.check(["--list-urls=1"], "--list-urls takes no value")

    def test_repeat(self):
        self.check(["--precision", "5"], "--precision goes with --repeat auto")
        self.check(["--max-repeat", "9"],
                   "--max-repeat goes with --repeat auto")
        self.check(["--repeat", "auto", "--precision", "0"], "--precision",
                   "'0'")
        self.check(["--repeat", "auto", "--precision", "x"], "--precision")
        self.check(["--repeat", "auto", "--max-repeat", "4"],
                   "--max-repeat: 4 is out of range 5..1000")
        self.check(["--repeat", "sometimes"], "--repeat", "'sometimes'")

    def test_unreachable(self):
        """A closed port: every request fails, every cell is in the table
        with its errors, the exit status is 1, nothing crashes."""
        port = closed_port()
        urls = "".join("http://127.0.0.1:%d/p%d\n" % (port, i)
                       for i in range(3))
        r = fb("compare", "--urls", "-", "--repeat", "1", "--workers",
               "1,2", "--json", "-", stdin=urls, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        cells = [x for x in json_lines(r.stdout) if x["kind"] == "cell"]
        self.assertEqual({(c["engine"], c["workers"]) for c in cells},
                         expected_cells([1, 2]))
        for c in cells:
            self.assertEqual(c["failed_runs"], 0, c)
            self.assertEqual(c["errors_total"], 3, c)
            self.assertEqual(c["errors"].get("connect"), 3, c)
            self.assertIsNone(c["efficiency"])
        # With --json -, the table goes to standard error.
        for name in engines():
            self.assertIn(name, r.stderr)
        self.assertIn("3/3 !", r.stderr)
        self.assertIn("no cell ran without errors", r.stderr)


class IndexServer(http.server.ThreadingHTTPServer):
    """A stand-in origin on 127.0.0.1: GET /__index lists index (one path a
    line), any other path answers a page; every request path is kept."""

    def __init__(self, index):
        self.index, self.paths = index, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.paths.append(self.path)
                body = ("\n".join(server.index) + "\n"
                        if self.path.split("?")[0] == "/__index"
                        else "<html>page</html>").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.base_url = "http://127.0.0.1:%d" % self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()
        self.thread.join()


class ListUrls(unittest.TestCase):
    """--list-urls prints the URL set, one per line, and fetches none of it
    (the only request it may make is GET /__index, for --pages)."""

    def setUp(self):
        self.server = IndexServer([])
        self.addCleanup(self.server.close)

    def list_urls(self, *args, stdin=None):
        r = fb("compare", *args, "--list-urls", stdin=stdin)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertTrue(r.stdout.endswith("\n"), r.stdout)
        return r.stdout.splitlines()

    def seed_paths(self):
        """The ten seed pages: the default URL set, which needs no index."""
        base = self.server.base_url + "/"
        urls = self.list_urls("--origin", base)
        self.assertEqual(len(urls), 10, urls)
        self.assertTrue(all(u.startswith(base) and u.endswith(".html")
                            for u in urls), urls)
        self.assertEqual(len(set(urls)), 10)
        self.assertEqual(self.list_urls("--origin", base, "--seed-pages"),
                         urls)
        self.assertEqual(self.server.paths, [])
        return [u[len(base):] for u in urls]

    def test_pages(self):
        """--pages N: the seed pages first, then the other HTML pages in
        index order."""
        seed = self.seed_paths()
        self.server.index = (["/extra/a.html", "/style.css"] +
                             ["/" + p for p in seed] + ["/extra/b.html"])
        base = self.server.base_url
        self.assertEqual(self.list_urls("--origin", base, "--pages", "3"),
                         ["%s/%s" % (base, p) for p in seed[:3]])
        self.assertEqual(self.list_urls("--origin", base, "--pages", "12"),
                         ["%s/%s" % (base, p) for p in seed] +
                         [base + "/extra/a.html", base + "/extra/b.html"])
        self.assertEqual([p.split("?")[0] for p in self.server.paths],
                         ["/__index", "/__index"])

    def test_urls_file(self):
        urls = ["http://127.0.0.1:%d/a" % closed_port(),
                self.server.base_url + "/b?x=1"]
        got = self.list_urls("--urls", "-",
                             stdin="# list\n\n%s\n  %s  \n" % tuple(urls))
        self.assertEqual(got, urls)
        self.assertEqual(self.server.paths, [])

    def test_embedded_origin(self):
        """--pages 3 of the embedded origin: three of the seed pages, and
        no sweep runs."""
        seed = set(self.seed_paths())
        got = self.list_urls("--corpus", "synthetic", "--pages", "3")
        self.assertEqual(len(got), 3, got)
        self.assertEqual(len(set(got)), 3, got)
        for u in got:
            # https by default, as the original experiment fetched.
            self.assertRegex(u, r"^https://127\.0\.0\.1:\d+/")
            self.assertIn(u.split("/", 3)[3], seed)


class OriginCpu(unittest.TestCase):
    def test_pins_beside(self):
        """With --origin-cpu N the client takes the first other core, and the
        reports carry both."""
        urls = "http://127.0.0.1:%d/x\n" % closed_port()
        r = fb("compare", "--urls", "-", "--origin-cpu", "0", "--engines",
               "sequential", "--repeat", "1", "--json", "-", stdin=urls,
               timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        cells = [x for x in json_lines(r.stdout) if x["kind"] == "cell"]
        self.assertEqual(len(cells), 1, cells)
        self.assertEqual(cells[0]["origin_cpu"], 0)
        others = sorted(os.sched_getaffinity(0) - {0})
        if others:
            self.assertEqual(cells[0]["client_cpu"], others[0])
            self.assertIn("client on CPU %d, origin on CPU 0" % others[0],
                          r.stderr)
        else:
            self.assertIn("no core other than 0", r.stderr)


class CancelledEarly(unittest.TestCase):
    def test_while_origin_starts(self):
        """A signal while the embedded origin starts: one line, no table."""
        rc, out, err = cancel_while_origin_starts("compare", signal.SIGINT,
                                                  "--repeat", "1")
        self.assertEqual((rc, out, err), (130, "", "fetchbench compare: "
                                          "cancelled before any request was "
                                          "made\n"))


if __name__ == "__main__":
    require_bin()
    fbtest.main()
