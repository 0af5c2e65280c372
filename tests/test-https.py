#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The command over https (issue 13): the embedded origin serves TLS with a
certificate of its own that the clients are given, every engine fetches
over it and counts its handshakes, and bad TLS input is refused before the
first request, naming the option and the file."""

import csv
import io
import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
from cli_common import engines, fb, origin, require_bin  # noqa: E402


class Embedded(unittest.TestCase):
    def test_every_engine_fresh_and_resumed(self):
        for name, top in engines().items():
            w = str(min(4, top))
            with self.subTest(engine=name):
                r = fb("run", "-e", name, "-w", w, "--pages", "12",
                       "--delay", "0", "-c", "fresh", "--format", "json")
                self.assertEqual(r.returncode, 0, r.stderr)
                doc = json.loads(r.stdout)
                self.assertEqual(doc["ok"], 12)
                # A new connection per page: a handshake each, most of them
                # resumed (each process of the pool resumes only its own).
                self.assertEqual(doc["handshakes_full"] +
                                 doc["handshakes_resumed"], 12, doc)
                self.assertGreater(doc["handshakes_resumed"], 0, doc)
                self.assertGreater(doc["tls_ms"]["p50"], 0)
                r = fb("run", "-e", name, "-w", w, "--pages", "12",
                       "--delay", "0", "-c", "fresh", "--tls-resume", "off",
                       "--format", "json")
                doc = json.loads(r.stdout)
                self.assertEqual(doc["handshakes_full"], 12, doc)
                self.assertEqual(doc["handshakes_resumed"], 0, doc)

    def test_text_says_handshakes(self):
        r = fb("run", "-e", "threads", "-w", "2", "--pages", "6", "--delay",
               "0", "-c", "fresh", "--tls-resume", "off")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"threads, TLS: 6 handshakes \(6 full, 0 "
                         r"resumed\); to TLS established p50 [0-9.]+, p99 "
                         r"[0-9.]+ ms")
        r = fb("run", "--scheme", "http", "--pages", "2", "--delay", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("TLS:", r.stdout)

    def test_csv_has_tls(self):
        r = fb("run", "-e", "async", "-w", "2", "--pages", "4", "--delay",
               "0", "-c", "fresh", "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        for row in csv.DictReader(io.StringIO(r.stdout)):
            self.assertTrue(row["url"].startswith("https://"))
            self.assertIn(row["handshake"], ("full", "resumed"))
            self.assertLess(float(row["tls_ms"]), float(row["ttfb_ms"]))

    def test_http_still_there(self):
        r = fb("run", "--scheme", "http", "--pages", "3", "--delay", "0",
               "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        self.assertTrue(all(x["url"].startswith("http://") for x in rows))
        self.assertTrue(all(x["handshake"] == "" for x in rows))

    def test_round_trips(self):
        # --rtt 50: a fresh https page costs TCP, a TLS 1.3 handshake and
        # the request, three round trips; a kept-alive one, one.
        r = fb("run", "-e", "sequential", "--pages", "3", "--delay", "0",
               "--rtt", "50", "-c", "fresh", "--format", "json")
        doc = json.loads(r.stdout)
        self.assertGreater(doc["latency_ms"]["p50"], 140)
        self.assertLess(doc["latency_ms"]["p50"], 250)
        r = fb("run", "-e", "sequential", "--pages", "6", "--delay", "0",
               "--rtt", "50", "-c", "reuse", "--format", "json")
        doc = json.loads(r.stdout)
        self.assertGreater(doc["latency_ms"]["p50"], 45)
        self.assertLess(doc["latency_ms"]["p50"], 110)


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def refused(self, args, *words):
        r = fb(*args)
        self.assertEqual(r.returncode, 2, (args, r.stderr))
        for w in words:
            self.assertIn(w, r.stderr, args)
        return r

    def test_cacert(self):
        d = self.tmp.name
        missing = os.path.join(d, "missing.pem")
        notpem = os.path.join(d, "not.pem")
        with open(notpem, "w") as f:
            f.write("not a certificate\n")
        self.refused(["run", "--cacert", missing, "--pages", "1"],
                     "--cacert", missing)
        self.refused(["run", "--cacert", d, "--pages", "1"], "--cacert", d)
        self.refused(["run", "--cacert", notpem, "--pages", "1"],
                     "--cacert", notpem)

    def test_words(self):
        self.refused(["run", "--scheme", "ftp"], "--scheme", "'ftp'")
        self.refused(["run", "--rtt", "-1"], "--rtt")
        self.refused(["run", "--tls-resume", "maybe"], "--tls-resume")
        self.refused(["run", "--ca-cache", "all"], "--ca-cache")

    def test_insecure_with_cacert(self):
        # Allowed, and it says which wins.
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
            r = fb("run", "--pages", "2", "--delay", "0", "--insecure",
                   "--cacert", "/etc/ssl/certs/ca-certificates.crt")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("--insecure wins", r.stderr)


class OriginCommand(unittest.TestCase):
    def test_run_trusts_a_running_origin(self):
        # --origin https://...: the index is fetched with the clients'
        # trust (--cacert, --insecure), and without it the message says how.
        with tempfile.TemporaryDirectory() as d:
            pem = os.path.join(d, "origin.pem")
            with origin("--tls", "--cert-out", pem) as o:
                for trust in (["--cacert", pem], ["--insecure"]):
                    r = fb("run", "--origin", o.url, "--pages", "3",
                           "--format", "json", *trust)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(json.loads(r.stdout)["ok"], 3)
                r = fb("run", "--origin", o.url, "--pages", "3")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(o.url + "/__index", r.stderr)
                self.assertIn("--cacert FILE", r.stderr)

    def test_stats_count_tls_heap(self):
        # `fetchbench origin --tls` counts OpenSSL's heap for /__stats (memory
        # per TLS connection): counting starts before libcurl loads OpenSSL,
        # else the figure stays 0.
        with tempfile.TemporaryDirectory() as d:
            pem = os.path.join(d, "origin.pem")
            with origin("--tls", "--cert-out", pem) as o:
                o.cafile = pem
                self.assertTrue(o.url.startswith("https://"), o.url)
                self.assertGreater(len(o.get("/" + o.index()[0])), 0)
                tls = o.stats()["tls"]
                self.assertGreaterEqual(tls["handshakes"], 2, tls)
                self.assertGreater(tls["heap_bytes"], 0, tls)


if __name__ == "__main__":
    require_bin()
    fbtest.main()
