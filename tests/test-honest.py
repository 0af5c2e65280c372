#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What a hostile first hour found (issue 11), each as a test that failed
before the fix: every engine at every open-files limit ends with a message
or a report, never an abort; a pool that could not grow says so; a run short
of descriptors blames the limit, not the server; outputs are checked before
the first request and a report is never lost; international host names;
messages that say what to do; figures of a run that was cut short or given
the wrong delay.
"""

import csv
import io
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
from cli_common import FB_BIN, engines, fb, origin, require_bin  # noqa: E402


def limited(limit, *args, timeout=60):
    """fetchbench with the soft and hard open-files limit set to limit."""
    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return subprocess.run([FB_BIN, *args], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=pre)


class Limits(unittest.TestCase):
    """Items 1, 4 and 6: open-files limits from 4 up, every engine."""

    @classmethod
    def setUpClass(cls):
        cls.origin = origin()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.urls = os.path.join(cls.tmp.name, "urls.txt")
        with open(cls.urls, "w") as f:
            for i in range(24):
                f.write("%s/__bytes/2000?i=%d\n" % (cls.origin.url, i))
        # Slow pages: every worker holds its socket at the same time.
        cls.slow = os.path.join(cls.tmp.name, "slow.txt")
        with open(cls.slow, "w") as f:
            for i in range(24):
                f.write("%s/__bytes/2000?delay=300&i=%d\n"
                        % (cls.origin.url, i))

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        cls.tmp.cleanup()

    def sweep(self, engine, workers):
        """Every limit from 4 (at 3 the dynamic loader itself cannot open
        libcurl.so: the process exits 127 before main) to well past the
        run's need: exit 0/1 with a whole report, or 2 with a message
        naming the limit; never a signal, never a lost URL."""
        seen = set()
        for limit in list(range(4, 48)) + [64, 128]:
            r = limited(limit, "run", "-e", engine, "-w", str(workers),
                        "--urls", self.urls, "--format", "json")
            what = "%s at limit %d: exit %d: %s" % (engine, limit,
                                                    r.returncode, r.stderr)
            self.assertGreaterEqual(r.returncode, 0, what)  # no signal
            self.assertIn(r.returncode, (0, 1, 2), what)
            if r.returncode == 2:
                self.assertIn("open-files limit is %d" % limit, r.stderr,
                              what)
                self.assertRegex(r.stderr, r"ulimit -n \d+", what)
            doc = json.loads(r.stdout)
            # One result per URL, whatever happened.
            self.assertEqual(doc["urls"], 24, what)
            self.assertEqual(doc["missing"], 0, what)
            self.assertEqual(doc["duplicates"], 0, what)
            self.assertEqual(doc["ok"] + doc["errors_total"], 24, what)
            errors = doc["errors"]
            # Out of descriptors is never the server's fault.
            self.assertNotIn("connect", errors, what)
            if errors.get("resource"):
                self.assertRegex(r.stderr, r"found no free descriptor: the "
                                 r"open-files limit is %d; this run needed "
                                 r"about \d+" % limit, what)
            if doc["workers_ran"] < min(workers, 24) and r.returncode != 2:
                self.assertIn("only %d of %d workers" % (doc["workers_ran"],
                                                         workers), r.stderr,
                              what)
            seen.add(r.returncode)
        # The sweep reached a limit where the run succeeds.
        self.assertIn(0, seen, engine)
        return seen

    def test_every_engine(self):
        for name, top in engines().items():
            with self.subTest(engine=name):
                self.sweep(name, min(16, top))

    def test_messages_say_why(self):
        # Below what the loop needs: exit 2, the limit and the need named.
        r = limited(6, "run", "-e", "async", "-w", "16", "--urls", self.urls)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the async engine needs", r.stderr)
        # Per-URL errors at a limit between: the cause, with the limit.
        r = limited(14, "run", "-e", "threads", "-w", "16", "--urls",
                    self.slow, "--format", "csv")
        self.assertEqual(r.returncode, 1, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        starved = [x for x in rows if x["outcome"] == "resource"]
        self.assertTrue(starved, r.stdout)
        for row in starved:
            self.assertIn("open-files limit 14", row["message"])

    def test_pool_that_could_not_grow(self):
        r = limited(20, "run", "-e", "processes", "-w", "16", "--urls",
                    self.urls)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        m = __import__("re").search(r"only (\d+) of 16 workers", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        ran = int(m.group(1))
        self.assertLess(ran, 16)
        # The table says it too, and the ideal used what ran.
        self.assertIn("%d of 16" % ran, r.stdout)


class Outputs(unittest.TestCase):
    """Item 7: every output checked before the first request; a report that
    cannot be written where asked goes elsewhere, never lost."""

    @classmethod
    def setUpClass(cls):
        cls.origin = origin()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.urls = os.path.join(cls.tmp.name, "urls.txt")
        with open(cls.urls, "w") as f:
            for i in range(3):
                f.write("%s/__bytes/100?delay=300&i=%d\n"
                        % (cls.origin.url, i))

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        cls.tmp.cleanup()

    def requests_seen(self):
        import urllib.request
        with urllib.request.urlopen(self.origin.url + "/__stats",
                                    timeout=10) as r:
            return json.loads(r.read())["requests"]

    def refused_early(self, args, *words):
        before = self.requests_seen()
        t0 = time.monotonic()
        r = fb(*args)
        self.assertEqual(r.returncode, 2, (args, r.stderr))
        for w in words:
            self.assertIn(w, r.stderr, args)
        # Refused before any request: nothing reached the origin (its own
        # /__stats request aside) and no 300 ms page was waited for.
        self.assertEqual(self.requests_seen(), before + 1, args)
        self.assertLess(time.monotonic() - t0, 0.3 * 3, args)

    def test_bad_outputs_refused_before_running(self):
        d = self.tmp.name
        self.refused_early(["run", "--urls", self.urls, "-o", d],
                           "--output", "is a directory")
        self.refused_early(["run", "--urls", self.urls, "-o",
                            d + "/missing/x.txt"], "--output", "cannot write")
        self.refused_early(["run", "--urls", self.urls, "-o", self.urls],
                           "--output", "is the input")
        self.refused_early(["compare", "--urls", self.urls, "-e", "async",
                            "-w", "1", "-r", "1", "--json", d],
                           "--json", "is a directory")
        self.refused_early(["compare", "--urls", self.urls, "-e", "async",
                            "-w", "1", "-r", "1", "--plot",
                            d + "/missing/x.svg"], "--plot", "cannot write")
        self.refused_early(["run", "--urls", self.urls, "--format", "json",
                            "--csv", d + "/missing/x.csv"], "--csv",
                           "cannot write")
        self.refused_early(["run", "--urls", self.urls, "--csv", self.urls],
                           "--csv", "is the input")
        self.refused_early(["run", "--urls", self.urls, "--csv", "-"],
                           "--csv -", "the report goes there too")
        self.refused_early(["run", "--urls", self.urls, "--format", "csv",
                            "--csv", d + "/x.csv"], "--csv",
                           "CSV already")

    def test_csv_beside_the_json(self):
        """One run, two reports: the summary on stdout, a row per request
        in the --csv file, the same requests in both."""
        path = os.path.join(self.tmp.name, "requests.csv")
        r = fb("run", "--urls", self.urls, "-e", "async", "-w", "3",
               "--format", "json", "--csv", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        with open(path) as f:
            rows = list(__import__("csv").DictReader(f))
        self.assertEqual(sorted(int(x["index"]) for x in rows), [0, 1, 2])
        self.assertEqual([x["outcome"] for x in rows], ["ok"] * 3)
        self.assertEqual(sum(int(x["body_bytes"]) for x in rows),
                         doc["bytes"])
        self.assertEqual(doc["ok"], 3)

    def test_unwritable_csv_goes_to_stdout(self):
        r = fb("run", "--urls", self.urls, "-e", "async", "-w", "3",
               "--format", "json", "--csv", "/dev/full")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("writing the CSV to /dev/full failed", r.stderr)
        summary, table = r.stdout.split("\n", 1)
        self.assertEqual(json.loads(summary)["ok"], 3)
        self.assertTrue(table.startswith("index,url,"), table)
        self.assertEqual(len(table.splitlines()), 4)

    def test_unwritable_report_goes_to_stdout(self):
        # /dev/full opens, then every write fails: the report must still
        # come out, on standard output.
        r = fb("run", "--urls", self.urls, "-e", "async", "-w", "3", "-o",
               "/dev/full", "--format", "json")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("writing the report to /dev/full failed", r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["ok"], 3)

    def test_no_stdout_either_goes_to_a_file(self):
        with open("/dev/full", "w") as full:
            r = subprocess.run([FB_BIN, "run", "--urls", self.urls, "-e",
                                "async", "-w", "3"], stdout=full,
                               stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, TMPDIR=self.tmp.name),
                               timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        m = __import__("re").search(r"written to (\S+) instead", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        with open(m.group(1)) as f:
            self.assertIn("async", f.read())
        os.unlink(m.group(1))


class Messages(unittest.TestCase):
    """Items 8 and 9."""

    @classmethod
    def setUpClass(cls):
        cls.origin = origin()
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        cls.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_idn_host(self):
        port = self.origin.url.rsplit(":", 1)[1]
        urls = self.write("idn.txt", "http://b\u00fccher.localhost:%s/"
                          "__bytes/10\n" % port)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("LC_") and k != "LANG"}
        for extra in ({}, {"LANG": "C"}, {"LC_ALL": "C.UTF-8"}):
            r = subprocess.run([FB_BIN, "run", "--urls", urls, "--format",
                                "json"], capture_output=True, text=True,
                               env=dict(env, **extra), timeout=60)
            self.assertEqual(r.returncode, 0, (extra, r.stdout, r.stderr))
            self.assertEqual(json.loads(r.stdout)["ok"], 1)

    def test_workers_of_a_single_engine(self):
        r = fb("run", "-w", "4")
        self.assertEqual(r.returncode, 2)
        self.assertIn("engine sequential runs one request at a time",
                      r.stderr)
        self.assertIn("-e", r.stderr)

    def test_compare_zero_workers_blames_nobody(self):
        r = fb("compare", "-w", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--workers: 0 is out of range", r.stderr)
        self.assertNotIn("processes", r.stderr)

    def test_origin_cpu_must_exist(self):
        allowed = os.sched_getaffinity(0)
        missing = max(allowed) + 1
        urls = self.write("one.txt", self.origin.url + "/__bytes/1\n")
        r = fb("run", "--urls", urls, "--origin-cpu", str(missing))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--origin-cpu: CPU %d is not one" % missing, r.stderr)

    def test_url_over_curls_limit(self):
        big = self.origin.url + "/?" + "a" * 8100000
        urls = self.write("big.txt", "# one huge URL\n" + big + "\n")
        r = fb("run", "--urls", urls)
        self.assertEqual(r.returncode, 2)
        self.assertIn(urls + ":2:", r.stderr)
        self.assertIn("over libcurl's limit", r.stderr)

    def test_self_redirect_says_redirects(self):
        urls = self.write("loop.txt", self.origin.url +
                          "/__bytes/10?fault=redirect_loop\n")
        for engine, w in (("sequential", 1), ("async", 1)):
            r = fb("run", "-e", engine, "-w", str(w), "--urls", urls,
                   "--format", "csv")
            row = next(csv.DictReader(io.StringIO(r.stdout)))
            self.assertEqual(row["outcome"], "redirect")
            self.assertIn("more than 5 redirects", row["message"])


class Figures(unittest.TestCase):
    """Item 3: figures describe what was done; no efficiency above 1."""

    def test_delay_zero_has_no_ideal(self):
        r = fb("run", "-e", "async", "-w", "4", "--delay", "0", "--pages",
               "8")
        self.assertEqual(r.returncode, 0, r.stderr)
        row = [x for x in r.stdout.splitlines() if x.startswith("async")][0]
        self.assertTrue(row.rstrip().endswith("-"), row)
        r = fb("run", "-e", "async", "-w", "4", "--delay", "0", "--pages",
               "8", "--format", "json")
        doc = json.loads(r.stdout)
        self.assertIsNone(doc["ideal_s"])
        self.assertIsNone(doc["efficiency"])

    def test_pool_start_beside_a_bare_fork(self):
        # Item 10: the pool's start-up and, with --measure-fork, a bare
        # fork() of the same client beside it, in JSON and in the text.
        r = fb("run", "-e", "processes", "-w", "4", "--pages", "8",
               "--delay", "0", "--measure-fork", "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertGreater(doc["setup_s"], 0)
        self.assertGreater(doc["bare_fork_s"], 0)
        self.assertLess(doc["bare_fork_s"], doc["wall_s"])
        r = fb("run", "-e", "processes", "-w", "4", "--pages", "8",
               "--delay", "0", "--measure-fork")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"processes: start-up [0-9.]+ ms for 4 "
                         r"workers, [0-9.]+ ms each: [0-9.]+x a bare "
                         r"fork\(\) of this client \([0-9.]+ ms\)")
        r = fb("run", "-e", "processes", "-w", "4", "--pages", "8",
               "--delay", "0")
        self.assertNotIn("bare fork", r.stdout)

    def test_wrong_delay_is_named(self):
        with origin() as o, tempfile.TemporaryDirectory() as d:
            urls = os.path.join(d, "u.txt")
            with open(urls, "w") as f:
                for i in range(20):
                    f.write("%s/__bytes/100?i=%d\n" % (o.url, i))
            r = fb("run", "-e", "async", "-w", "4", "--urls", urls,
                   "--delay", "50")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("does not match the server's", r.stdout)
            self.assertNotRegex(r.stdout, r"\b[1-9]\d{2,}%")

    def test_cut_short(self):
        # 100 pages of 300 ms, 4 workers, SIGINT after ~0.5 s: a handful
        # done. Rates count those, not the 100.
        p = subprocess.Popen([FB_BIN, "run", "-e", "threads", "-w", "4",
                              "--pages", "100", "--delay", "300", "--format",
                              "json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        doc = json.loads(out)
        self.assertLess(doc["done"], 40)
        self.assertAlmostEqual(doc["req_per_s"],
                               doc["done"] / doc["wall_s"], places=6)
        self.assertTrue(doc["efficiency"] is None or doc["efficiency"] <= 1)
        # At most 4 in flight for 300 ms each: the rate cannot beat that.
        self.assertLessEqual(doc["req_per_s"], 4 / 0.3 + 1)


if __name__ == "__main__":
    require_bin()
    fbtest.main()
