#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fetchbench command: help, strict option parsing, exit statuses,
`run` against the embedded origin and a `fetchbench origin`, output
formats, cancellation and output errors."""

import csv
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
from cli_common import (  # noqa: E402
    FB_BIN, cancel_while_origin_starts, closed_port, engines, fb,
    handlers_installed, origin, require_bin)

SCHEMA_KEYS = {"schema", "engine", "workers", "urls", "ok", "errors",
               "wall_s", "cpu_user_s", "cpu_sys_s", "max_rss_kib",
               "req_per_s", "bytes", "latency_ms", "ttfb_ms"}


class Help(unittest.TestCase):
    def test_help(self):
        r = fb("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("Usage: fetchbench", "run", "compare", "origin",
                     "Exit status"):
            self.assertIn(word, r.stdout)
        self.assertIn("sequential", engines())

    def test_version(self):
        r = fb("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^fetchbench \d+\.\d+\.\d+")

    def test_command_help(self):
        for cmd in ("run", "compare", "origin"):
            for args in ((cmd, "--help"), (cmd, "-h"), ("help", cmd)):
                r = fb(*args)
                self.assertEqual(r.returncode, 0, args)
                self.assertIn("Usage: fetchbench " + cmd, r.stdout)
                self.assertEqual(r.stderr, "")
        self.assertIn("--workers N", fb("run", "--help").stdout)
        self.assertIn("--fault SPEC", fb("origin", "--help").stdout)

    def test_no_command(self):
        r = fb()
        self.assertEqual(r.returncode, 2)
        self.assertIn("Usage:", r.stderr)
        self.assertEqual(r.stdout, "")


class UsageErrors(unittest.TestCase):
    def check(self, args, *needles):
        r = fb(*args)
        self.assertEqual(r.returncode, 2, (args, r.stderr))
        self.assertEqual(r.stdout, "", args)
        for n in needles:
            self.assertIn(n, r.stderr, args)
        return r

    def test_top_level(self):
        self.check(["bogus"], "unknown command 'bogus'", "--help")
        self.check(["--bogus"], "unknown option '--bogus'")
        self.check(["help", "bogus"], "unknown command 'bogus'")

    def test_run_numbers(self):
        self.check(["run", "--workers", "0"], "--workers: 0 is out of range",
                   "for engine sequential")
        self.check(["run", "--workers", "abc"], "--workers", "'abc'")
        self.check(["run", "--workers", "-1"], "--workers", "'-1'")
        self.check(["run", "--workers", "1x"], "--workers", "'1x'")
        self.check(["run", "--workers", " 1"], "--workers")
        self.check(["run", "--workers", "99999999999999999999999"],
                   "--workers", "out of range")
        self.check(["run", "--timeout", "0"], "--timeout: 0 is out of range")
        self.check(["run", "--connect-timeout", "1.5"], "--connect-timeout")
        self.check(["run", "--delay", "600001"], "--delay: 600001")
        self.check(["run", "--max-body", "12Q"], "--max-body", "'12Q'")
        self.check(["run", "--max-redirects", "1001"], "--max-redirects")
        self.check(["run", "--pages", "0"], "--pages: 0")

    def test_run_engine_ranges(self):
        for name, top in engines().items():
            if top == 1:
                # One request at a time: say so, and where the others are.
                self.check(["run", "--engine", name, "--workers", "4"],
                           "--workers 4: engine %s runs one request at a "
                           "time" % name, "-e")
                continue
            self.check(["run", "--engine", name, "--workers", str(top + 1)],
                       "--workers: %d is out of range 1..%d for engine %s"
                       % (top + 1, top, name))

    def test_run_words(self):
        r = self.check(["run", "--engine", "nope"], "unknown engine 'nope'",
                       "valid:")
        for name in engines():
            self.assertIn(name, r.stderr)
        self.check(["run", "--connection", "maybe"], "--connection",
                   "'maybe'")
        self.check(["run", "--format", "xml"], "--format", "'xml'")
        self.check(["run", "--bogus"], "unknown option '--bogus'")
        self.check(["run", "-Z"], "unknown option '-Z'")
        self.check(["run", "--workers"], "--workers needs a value")
        self.check(["run", "--no-pin=1"], "--no-pin takes no value")
        self.check(["run", "stray"], "unexpected argument 'stray'")
        self.check(["run", "--delay", "5", "--delay", "6"], "--delay given "
                   "twice")
        self.check(["run", "--urls", "x", "--pages", "3"], "--pages")
        self.check(["run", "--urls", "x", "--corpus", "synthetic"],
                   "--corpus")
        self.check(["run", "--origin", "ftp://x"], "--origin", "'ftp://x'")
        self.check(["run", "--pages", "3", "--seed-pages"],
                   "--pages and --seed-pages exclude each other")
        self.check(["run", "--urls", "x", "--seed-pages"],
                   "--seed-pages picks origin pages")
        self.check(["run", "--origin-cpu", "0"],
                   "--origin-cpu goes with --origin or --urls")

    def test_origin(self):
        self.check(["origin", "--fault", "bogus=0.5"], "--fault")
        self.check(["origin", "--fault", "reset=2"], "--fault")
        self.check(["origin", "--port", "70000"], "--port: 70000")
        self.check(["origin", "--rate", "fast"], "--rate", "'fast'")
        self.check(["origin", "--corpus", "/nonexistent/fetchbench"],
                   "/nonexistent/fetchbench")

    def test_compare(self):
        self.check(["compare", "--engines", "sequential,nope"],
                   "unknown engine 'nope'")
        self.check(["compare", "--engines", ""], "--engines: empty list")
        self.check(["compare", "--workers", "1,,2"], "--workers: empty item")
        self.check(["compare", "--workers", "0"], "--workers: 0 is out of "
                   "range")
        self.check(["compare", "--workers", "2,2"], "'2' appears twice")
        self.check(["compare", "--repeat", "0"], "--repeat: 0")
        self.check(["compare", "--plot", "x.pdf"], "--plot", "x.pdf")


class BadUrlFiles(unittest.TestCase):
    def test_bad_lines(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("http://127.0.0.1:1/ok\nftp://example.com/x\n"
                    "# comment\nnot a url at all\n")
            f.flush()
            r = fb("run", "--urls", f.name)
            self.assertEqual(r.returncode, 2)
            self.assertIn(f.name + ":2:", r.stderr)
            self.assertIn(f.name + ":4:", r.stderr)
            self.assertEqual(r.stdout, "")

    def test_missing_and_empty(self):
        r = fb("run", "--urls", "/nonexistent/urls.txt")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/urls.txt", r.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("# nothing\n\n")
            f.flush()
            r = fb("run", "--urls", f.name)
            self.assertEqual(r.returncode, 2)
            self.assertNotEqual(r.stderr, "")
        r = fb("run", "--urls", "-", stdin="")
        self.assertEqual(r.returncode, 2)


class DefaultRun(unittest.TestCase):
    def test_main_job(self):
        """The main job, with a small delay to stay fast."""
        r = fb("run", "--delay", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("# "), lines[0])
        # https by default, as the original experiment fetched.
        self.assertIn("embedded origin https://127.0.0.1:", lines[0])
        self.assertIn("delay 5 ms", lines[0])
        self.assertIn("10 pages", lines[0])
        self.assertTrue(any(line.startswith("engine") for line in lines))
        self.assertTrue(any(line.startswith("sequential") for line in lines))

    def test_json(self):
        r = fb("run", "--delay", "2", "--corpus", "synthetic", "--format",
               "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertTrue(SCHEMA_KEYS <= set(doc), SCHEMA_KEYS - set(doc))
        self.assertEqual(doc["schema"], 2)
        self.assertEqual(doc["urls"], 10)
        self.assertEqual(doc["ok"], 10)
        for k in ("p50", "p90", "p99", "max"):
            self.assertIn(k, doc["latency_ms"])
            self.assertIn(k, doc["ttfb_ms"])
        # The histograms behind the percentiles: one value per request.
        hist = doc["histograms"]
        self.assertEqual(hist["unit"], "ns")
        for name in ("latency", "ttfb"):
            self.assertEqual(hist[name]["count"], 10)
            self.assertEqual(sum(c for _, c in hist[name]["buckets"]), 10)
        self.assertEqual(doc["histograms"]["latency"]["max"],
                         round(doc["latency_ms"]["max"] * 1e6))
        self.assertLessEqual(doc["start_real_ns"], doc["end_real_ns"])
        self.assertEqual(doc["workload"]["urls"], 10)
        self.assertIsNone(doc["shard"])
        self.assertIn("embedded origin", r.stderr)

    def test_csv_pages(self):
        r = fb("run", "--delay", "0", "--corpus", "synthetic", "--pages",
               "25", "--engine", "sequential", "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        self.assertEqual(len(rows), 25)
        self.assertEqual(sorted(int(x["index"]) for x in rows),
                         list(range(25)))
        self.assertTrue(all(x["outcome"] == "ok" for x in rows))
        urls = [x["url"] for x in rows]
        self.assertEqual(len(set(urls)), 25)

    def test_pages_beyond_corpus(self):
        """Beyond the corpus, pages repeat with distinct query strings."""
        r = fb("run", "--delay", "0", "--corpus", "synthetic", "--pages",
               "700", "--engine", "sequential", "--connection", "reuse",
               "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        urls = [x["url"] for x in csv.DictReader(io.StringIO(r.stdout))]
        self.assertEqual(len(urls), 700)
        self.assertEqual(len(set(urls)), 700)

    def test_output_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.json")
            r = fb("run", "--delay", "0", "--corpus", "synthetic",
                   "--format", "json", "--output", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "")
            with open(path) as f:
                self.assertEqual(json.load(f)["ok"], 10)

    def test_output_full(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        for fmt in ("text", "json", "csv"):
            r = fb("run", "--delay", "0", "--corpus", "synthetic",
                   "--format", fmt, "--output", "/dev/full")
            self.assertEqual(r.returncode, 2, (fmt, r.stderr))
            self.assertIn("/dev/full", r.stderr)
            self.assertIn("No space left", r.stderr)


class AgainstOrigin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin = origin("--delay", "0")
        cls.pages = [p for p in cls.origin.index() if p.endswith(".html")]

    @classmethod
    def tearDownClass(cls):
        status = cls.origin.stop()
        assert status == 0, "origin exited with %r" % status

    def test_urls_stdin(self):
        urls = "".join("%s/%s\n" % (self.origin.url, p)
                       for p in self.pages[:7])
        for name in engines():
            r = fb("run", "--engine", name, "--urls", "-", "--format", "json",
                   stdin="# from stdin\n\n" + urls)
            self.assertEqual(r.returncode, 0, (name, r.stderr))
            doc = json.loads(r.stdout)
            self.assertEqual((doc["urls"], doc["ok"]), (7, 7), name)
            self.assertEqual(doc["engine"], name)
            self.assertIsNone(doc["efficiency"], "no --delay: unknown")

    def test_some_failed(self):
        """A 404 among good pages: exit 1, the report still printed."""
        urls = "%s/%s\n%s/no/such/page.html\n" % (
            self.origin.url, self.pages[0], self.origin.url)
        r = fb("run", "--urls", "-", stdin=urls)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("sequential", r.stdout)
        self.assertIn("http", r.stdout)

    def test_origin_option(self):
        r = fb("run", "--origin", self.origin.url + "/", "--pages", "4",
               "--delay", "0", "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["ok"], 4)

    def test_origin_cpu(self):
        """The client pins itself beside the origin's core and says so."""
        r = fb("run", "--origin", self.origin.url, "--origin-cpu", "0",
               "--delay", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        header = r.stdout.splitlines()[0]
        others = sorted(os.sched_getaffinity(0) - {0})
        if others:
            self.assertIn("client on CPU %d, origin on CPU 0" % others[0],
                          header)
        else:
            self.assertIn("no core other than 0", r.stderr)

    def cancel(self, name, sig, status):
        fast = ["%s/%s" % (self.origin.url, p) for p in self.pages[:3]]
        slow = ["%s/%s?delay=5000" % (self.origin.url, p)
                for p in self.pages[3:9]]
        workers = "1" if engines()[name] == 1 else "2"
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("\n".join(fast + slow) + "\n")
            f.flush()
            p = subprocess.Popen([FB_BIN, "run", "--engine", name,
                                  "--workers", workers, "--urls", f.name,
                                  "--format", "json"],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(1.5)
            t0 = time.monotonic()
            p.send_signal(sig)
            out, err = p.communicate(timeout=20)
            took = time.monotonic() - t0
        self.assertEqual(p.returncode, status, (name, err))
        self.assertLess(took, 2.0, name)
        self.assertIn("cancelled", err)
        doc = json.loads(out)
        self.assertEqual(doc["urls"], 9)
        unfinished = (doc["errors"].get("cancelled", 0) +
                      doc["errors"].get("not_run", 0))
        # The stalled URLs, and on a very slow machine some fast ones.
        self.assertGreaterEqual(unfinished, 6, (name, doc["errors"]))
        self.assertEqual(doc["ok"] + unfinished, 9, (name, doc["errors"]))

    def test_sigint(self):
        for name in engines():
            with self.subTest(engine=name):
                self.cancel(name, signal.SIGINT, 130)

    def test_sigterm(self):
        self.cancel("sequential", signal.SIGTERM, 143)


class CancelledEarly(unittest.TestCase):
    """A signal before any request: one line says so, no report."""

    MESSAGE = "fetchbench run: cancelled before any request was made\n"

    def test_while_origin_starts(self):
        for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            with self.subTest(signal=sig):
                rc, out, err = cancel_while_origin_starts("run", sig)
                self.assertEqual((rc, out, err), (status, "", self.MESSAGE))

    def test_while_reading_urls(self):
        """Whether the signal interrupts the read of standard input or comes
        just before it, the list that follows is not fetched."""
        p = subprocess.Popen([FB_BIN, "run", "--urls", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not handlers_installed(p.pid) and p.poll() is None:
            self.assertLess(time.monotonic(), deadline, "no signal handlers")
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate("http://127.0.0.1:%d/x\n" % closed_port(),
                                 timeout=20)
        self.assertEqual((p.returncode, out, err), (130, "", self.MESSAGE))


class Unreachable(unittest.TestCase):
    def test_closed_port(self):
        port = closed_port()
        urls = "http://127.0.0.1:%d/a\nhttp://127.0.0.1:%d/b\n" % (port, port)
        r = fb("run", "--urls", "-", "--format", "json", stdin=urls)
        self.assertEqual(r.returncode, 1, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["ok"], 0)
        self.assertEqual(doc["errors"].get("connect"), 2, doc["errors"])
        r = fb("run", "--urls", "-", stdin=urls)
        self.assertEqual(r.returncode, 1)
        self.assertIn("connect", r.stdout)


if __name__ == "__main__":
    require_bin()
    fbtest.main()
