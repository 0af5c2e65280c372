#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fetchbench diff: identical sweeps, a slower origin, a workload that
differs, malformed files. The sweeps are real `compare` runs against the
embedded origin, 7 runs per cell so that the U test can reject even with
an outlier or two from a busy machine (7 against 7 reaches p = 2/3432)."""

import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import fb, require_bin  # noqa: E402

FIGURES = ("wall s", "CPU/req ms", "RSS MiB", "p99 ms")


def sweep(path, *args):
    # Plain http: what is compared is the origin's delay, and a busy test
    # machine's noise should not drown it in TLS handshakes' CPU.
    r = fb("compare", "--corpus", "synthetic", "--scheme", "http", "--pages",
           "6", "--engines", "sequential,threads", "--workers", "1,4",
           "--repeat", "7", "--quiet", "--json", path, *args, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("compare failed: %s" % r.stderr)


def blocks(text):
    """{(engine, workers): {figure: mark}} from diff's table."""
    out, cell = {}, None
    for line in text.splitlines():
        if line and not line.startswith(("#", " ")) and " worker" in line:
            name, rest = line.split(", ", 1)
            cell = (name, int(rest.split()[0]))
            out[cell] = {}
        elif line.startswith("  ") and cell is not None:
            for fig in FIGURES:
                if line[2:].startswith(fig):
                    out[cell][fig] = ("cannot tell"
                                      if line.endswith("cannot tell")
                                      else line.split()[-1])
    return out


class Diff(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        cls.fast = os.path.join(d, "delay20.json")
        cls.slow = os.path.join(d, "delay40.json")
        sweep(cls.fast, "--delay", "20")
        sweep(cls.slow, "--delay", "40")

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def path(self, name, text):
        p = os.path.join(self.dir.name, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_identical(self):
        """A file against itself: no change, nothing regressed, exit 0."""
        r = fb("diff", self.fast, self.fast)
        self.assertEqual(r.returncode, 0, r.stderr)
        cells = blocks(r.stdout)
        self.assertEqual(len(cells), 3, r.stdout)
        for cell, figs in cells.items():
            self.assertEqual(set(figs), set(FIGURES), cell)
            for fig, mark in figs.items():
                # Runs that all tie (a peak RSS, often) leave the test
                # nothing to go on: it cannot tell, and says so.
                self.assertIn(mark, ("same", "cannot tell"),
                              (cell, fig, r.stdout))
            self.assertEqual(figs["wall s"], "same", (cell, r.stdout))
        rows = [x for x in r.stdout.splitlines()
                if x.startswith("  ") and "->" in x]
        self.assertEqual(len(rows), 12, r.stdout)
        for row in rows:
            self.assertIn(" +0.0% ", row)
        self.assertIn("0 of 3 cells regressed.", r.stdout)

    def test_slower_origin(self):
        """20 ms against 40 ms of delay: every cell's wall time (and p99)
        about doubled, significantly, past the 5 % threshold: every cell
        regressed, exit 1. The change of delay is said, not refused."""
        r = fb("diff", self.fast, self.slow)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("# conditions differ: delay_ms 20 -> 40", r.stdout)
        cells = blocks(r.stdout)
        self.assertEqual(len(cells), 3, r.stdout)
        for cell, figs in cells.items():
            # A run stalled by a busy machine may blur one of the two, not
            # a doubling of both.
            self.assertIn("REGRESSED", (figs["wall s"], figs["p99 ms"]),
                          (cell, r.stdout))
        self.assertIn("3 of 3 cells regressed.", r.stdout)
        # The other way round it is faster: nothing regressed in wall time
        # or p99, and the wall time is better.
        r = fb("diff", self.slow, self.fast)
        cells = blocks(r.stdout)
        for cell, figs in cells.items():
            self.assertNotEqual(figs["wall s"], "REGRESSED", cell)
            self.assertNotEqual(figs["p99 ms"], "REGRESSED", cell)
            self.assertIn("better", (figs["wall s"], figs["p99 ms"]),
                          (cell, r.stdout))
        # A threshold above the change: significant, but not a regression.
        r = fb("diff", "--threshold", "500", self.fast, self.slow)
        self.assertEqual(r.returncode, 0, r.stdout)
        marks = [m for figs in blocks(r.stdout).values()
                 for m in figs.values()]
        self.assertNotIn("REGRESSED", marks)
        self.assertIn("worse", marks)
        self.assertIn("0 of 3 cells regressed.", r.stdout)

    def edited(self, name, edit):
        """A copy of the fast sweep with edit(line) applied to each line."""
        with open(self.fast) as f:
            lines = [json.loads(x) for x in f if x.strip()]
        for x in lines:
            edit(x)
        return self.path(name, "".join(json.dumps(x) + "\n" for x in lines))

    def test_workload_differs(self):
        """Another connection policy, another URL list: exit 2, each field
        named with both values and both files."""
        p = self.edited("reuse.json",
                        lambda x: x.update(connection="reuse"))
        r = fb("diff", self.fast, p)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("the workloads differ: connection is fresh in %s, "
                      "reuse in %s" % (self.fast, p), r.stderr)
        self.assertEqual(r.stdout, "")
        p = self.edited("urls.json", lambda x: x.update(
            workload_urls=4, urls_digest="0123456789abcdef"))
        r = fb("diff", self.fast, p)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("workload_urls is 6 in", r.stderr)
        self.assertIn("urls_digest is", r.stderr)

    def test_malformed(self):
        """Malformed JSON: exit 2 naming the file and the line."""
        with open(self.fast) as f:
            lines = f.read().splitlines(True)
        bad = self.path("bad.json", lines[0] + lines[1][:40] + "\n" +
                        "".join(lines[2:]))
        r = fb("diff", self.fast, bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:2: malformed JSON" % bad, r.stderr)
        r = fb("diff", bad, self.fast)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:2:" % bad, r.stderr)
        r = fb("diff", self.fast, os.path.join(self.dir.name, "missing"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read", r.stderr)

    def test_usage(self):
        for args, needle in ((["x.json"], "give two files"),
                             (["a", "b", "c"], "'c' is a third"),
                             (["--threshold", "-1", "a", "b"],
                              "--threshold: '-1'"),
                             (["-", "-"], "only one of OLD and NEW")):
            r = fb("diff", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(needle, r.stderr, args)


if __name__ == "__main__":
    require_bin()
    unittest.main(verbosity=2)
