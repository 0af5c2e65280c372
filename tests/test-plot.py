#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report --plot, --plot-cpu, --plot-rss and --title: the plots of a saved
compare JSON (one series per engine, the ideal line) and of a bench suite's
rows (peers plotted like engines, a reference cell dashed and left out of
the verdict, RSS of the process alone marked, bar charts when every client
has one cell); each in the format its suffix says; bad rows named with
their line; outputs checked before any is written; gnuplot missing is a
skip that leaves no file behind."""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
import html_common as hc  # noqa: E402
from cli_common import fb, require_bin  # noqa: E402

IDEAL = "ideal: ceil(N/workers) x delay"
PEERS = ("curl --parallel", "python asyncio")
REFERENCE = "original threads (i7-7700k, internet)"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def series(svg):
    """[(title, dashed)] of the plot elements of a gnuplot SVG, in order."""
    parts = re.split(r'<g id="gnuplot_plot_\d+" >', svg)[1:]
    out = []
    for p in parts:
        # An element ends where gnuplot's own frame and key start again.
        body = p.split("<g fill=\"none\" color=\"black\" stroke=\"black\" "
                       "stroke-width=\"1.00\"", 1)[0]
        title = re.search(r"<title>(.*?)</title>", body)
        out.append((title.group(1) if title else None,
                    "stroke-dasharray" in body))
    return out


def texts(svg):
    """Every text of the SVG (titles, labels, tics), unescaped."""
    return [re.sub(r"&apos;", "'", re.sub(r"&amp;", "&", t))
            for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]


def engine_row(cell):
    """A saved compare cell as the bench harness keeps it (harness.py's
    Suite.engine_row)."""
    row = dict(cell, suite="t", sweep="s", type="engine",
               client=cell["engine"], timing="in-process",
               errors_by_outcome=cell["errors"],
               errors=cell["errors_total"])
    return row


def stat(v):
    return {"median": v, "min": v * 0.9, "max": v * 1.1}


def peer_row(name, workers, wall):
    """A peer's row (rounds.py's peer_row): the figures an outside-timed
    client has, RSS of its largest process only."""
    return {"suite": "t", "sweep": "s", "kind": "cell", "type": "peer",
            "client": name, "engine": name, "workers": workers, "urls": 3,
            "connection": "reuse", "delay_ms": 1, "repeats": 2, "runs": 2,
            "errors": 0, "timing": "external", "command": "x",
            "wall_s": stat(wall), "cpu_s": stat(0.01),
            "cpu_per_req_ms": stat(3.0), "max_rss_kib": stat(8000),
            "req_per_s": stat(3 / wall), "runs_wall_s": [wall, wall],
            "ideal_s": 0.003, "efficiency": 0.003 / wall}


def reference_row(workers, wall):
    """Published figures (suite_latency.py's original_rows)."""
    return {"suite": "t", "sweep": "s", "kind": "cell", "type": "reference",
            "reference": True, "engine": REFERENCE, "client": REFERENCE,
            "workers": workers, "urls": 3, "runs": 1, "runs_wall_s": [wall],
            "wall_s": {"median": wall, "min": wall, "max": wall}}


class Plots(unittest.TestCase):
    """A tiny real sweep (sequential at 1, threads at 1 and 4), saved, then
    plotted as it is and as a suite's rows."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("gnuplot") is None:
            raise unittest.SkipTest("gnuplot is not installed")
        cls.dir = hc.scratch_dir("test-plot")
        cls.saved = hc.saved_sweep(cls.dir)
        cls.cells = hc.cells_of(hc.json_lines(cls.saved))
        cls.names = []
        for c in cls.cells:
            if c["engine"] not in cls.names:
                cls.names.append(c["engine"])

    def path(self, name):
        return os.path.join(self.dir, name)

    def report(self, rows_or_file, *plots, title=None):
        """report FILE --plot ... (--title): (CompletedProcess, paths)."""
        if isinstance(rows_or_file, str):
            src = rows_or_file
        else:
            src = hc.write_lines(self.path(self.id().split(".")[-1] +
                                           ".jsonl"), rows_or_file)
        args, paths = [], []
        for opt, name in zip(("--plot", "--plot-cpu", "--plot-rss"), plots):
            if name is not None:
                paths.append(self.path(name))
                args += [opt, paths[-1]]
        if title is not None:
            args += ["--title", title]
        return fb("report", src, *args, timeout=60), paths

    def rows(self):
        rows = [engine_row(c) for c in self.cells]
        for name in PEERS:
            rows += [peer_row(name, 1, 0.02), peer_row(name, 4, 0.01)]
        # Faster than any cell: a verdict that counted it would name it.
        rows += [reference_row(1, 0.0001), reference_row(4, 0.00005)]
        rows.append({"suite": "t", "kind": "goal", "sweep": "s",
                     "result": "PASS"})
        rows.append({"suite": "t", "bench": "another line without a kind"})
        return rows

    def test_saved_compare(self):
        r, (wall, cpu, rss) = self.report(self.saved, "c-wall.svg",
                                          "c-cpu.svg", "c-rss.png",
                                          title="a tiny sweep")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("# fetchbench compare: "))
        svg = read(wall)
        self.assertEqual(series(svg), [(n, False) for n in self.names] +
                         [(IDEAL, True)])
        self.assertIn("a tiny sweep", texts(svg))
        self.assertIn("fetchbench report: wall time vs workers (median of "
                      "2, bars min-max)", texts(svg))
        self.assertEqual(series(read(cpu)), [(n, False) for n in self.names])
        with open(rss, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_zero_on_a_linear_axis(self):
        """A CPU time of 0 (a tiny run on a coarse clock) has no place on a
        log axis: that plot goes linear rather than fail."""
        lines = hc.json_lines(self.saved)
        for c in hc.cells_of(lines):
            c["cpu_per_req_ms"] = dict(c["cpu_per_req_ms"], median=0, min=0,
                                       max=0, ci95=None)
        r, (wall, cpu) = self.report(lines, "zero-wall.svg", "zero-cpu.svg")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(series(read(cpu)), [(n, False) for n in self.names])
        self.assertEqual(len(series(read(wall))), len(self.names) + 1)

    def test_title_defaults_to_the_workload(self):
        r, (wall,) = self.report(self.saved, "w-wall.svg")
        self.assertEqual(r.returncode, 0, r.stderr)
        workload = self.cells[0]["workload"]
        self.assertIn(workload, texts(read(wall)))

    def test_a_series_per_rate(self):
        """An open-loop sweep (compare --rate LIST) is drawn against the
        rate: corrected p99 latency, a line per engine and workers, and the
        --slo-ms bound."""
        lines = hc.json_lines(self.saved)
        cells = [dict(c, rate=rate, corrected_p99_ms=c["latency_p99_ms"])
                 for rate in (100, 200) for c in hc.cells_of(lines)]
        verdict = dict(lines[-1], cells=len(cells), slo_ms=200)
        r, (wall,) = self.report(cells + [verdict], "rate-wall.svg")
        self.assertEqual(r.returncode, 0, r.stderr)
        svg = read(wall)
        want = []
        for c in hc.cells_of(lines):
            t = "%s, %d worker%s" % (c["engine"], c["workers"],
                                     "" if c["workers"] == 1 else "s")
            if t not in want:
                want.append(t)
        self.assertEqual([t for t, _ in series(svg)],
                         want + ["bound: 200 ms"])
        self.assertIn("requests per second asked (open loop)", svg)

    def test_rows_with_peers_and_a_reference(self):
        r, (wall, cpu, rss) = self.report(self.rows(), "r-wall.svg",
                                          "r-cpu.svg", "r-rss.svg",
                                          title="seed: rows")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = series(read(wall))
        self.assertEqual(got, [(n, False) for n in self.names] +
                         [(n, False) for n in PEERS] +
                         [(REFERENCE, True), (IDEAL, True)])
        self.assertIn("seed: rows", texts(read(wall)))
        # The reference has no CPU figure: no series there.
        self.assertEqual(series(read(cpu)), [(n, False) for n in
                                             self.names + list(PEERS)])
        # Peers know only their largest process's RSS: marked.
        svg = read(rss)
        self.assertEqual([t for t, _ in series(svg)],
                         self.names + [n + " *" for n in PEERS])
        self.assertTrue(any(t.endswith("; * the largest process")
                            for t in texts(svg)), texts(svg))
        # The table has the peers; the verdict leaves the reference out.
        table, verdict = r.stdout.split("\nVerdict", 1)
        for name in PEERS:
            self.assertIn(name, table)
        self.assertNotIn("original", verdict)
        self.assertIn("fastest: ", verdict)

    def test_bars_when_every_client_has_one_cell(self):
        one = [c for c in self.cells if c["workers"] == 4 or
               c["engine"] == "sequential"]
        rows = [engine_row(c) for c in one]
        rows += [peer_row(n, 4, 0.01) for n in PEERS]
        # A reference with a pages/s figure gets a bar; one without, none.
        rows.append(dict(reference_row(4, 0.005), req_per_s=stat(600)))
        r, (pages, cpu, rss) = self.report(rows, "b-pages.svg", "b-cpu.svg",
                                           "b-rss.svg")
        self.assertEqual(r.returncode, 0, r.stderr)
        labels = ["%s (%d)" % (c["engine"], c["workers"]) for c in one]
        labels += ["%s (4)" % n for n in PEERS] + [REFERENCE + " (4)"]
        svg = read(pages)
        t = texts(svg)
        self.assertIn("fetchbench report: pages/s (median of 2, bars "
                      "min-max)", t)
        for label in labels:
            self.assertIn(label, t)
        # Measured bars, their min-max bars, the reference's dashed bar.
        self.assertEqual([d for _, d in series(svg)], [False, False, True])
        t = texts(read(cpu))
        self.assertIn("CPU per page (us, user + sys, with children)", t)
        self.assertNotIn(REFERENCE + " (4)", t)
        t = texts(read(rss))
        for n in PEERS:
            self.assertIn("%s* (4)" % n, t)

    def test_rows_of_two_sweeps(self):
        rows = self.rows()
        rows[-3] = dict(rows[-3], sweep="other")
        r, _ = self.report(rows, "x.svg")
        self.assertEqual(r.returncode, 2)
        line = len(rows) - 2
        self.assertRegex(r.stderr, r"test_rows_of_two_sweeps\.jsonl:%d: rows "
                         r"of sweeps 's' and 'other' in one file" % line)

    def test_bad_rows_are_named(self):
        for edit, why in (
                (lambda x: x.update(wall_s="fast"),
                 "field 'wall_s' is a string, expected an object"),
                (lambda x: x.pop("workers"), "field 'workers' missing"),
                (lambda x: x.update(reference="yes"),
                 "field 'reference' is a string, expected a boolean"),
                (lambda x: x.update(delay_ms=2),
                 "field 'delay_ms' is 2, an earlier row's 1: two workloads")):
            rows = self.rows()
            k = len(self.cells) + 1  # a peer's row
            edit(rows[k])
            r, (svg,) = self.report(rows, "bad.svg")
            self.assertEqual(r.returncode, 2, (why, r.stderr))
            self.assertIn(":%d: %s" % (k + 1, why), r.stderr)
            self.assertFalse(os.path.exists(svg))

    def test_outputs_checked_before_any_is_written(self):
        d = self.path("a-directory.svg")
        os.makedirs(d, exist_ok=True)
        r, (ok, _) = self.report(self.saved, "never.svg", "a-directory.svg")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--plot-cpu: '%s' is a directory" % d, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(ok))
        r = fb("report", self.saved, "--plot", self.saved[:-5] + ".svg",
               "--plot-rss", "x.pdf")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--plot-rss: 'x.pdf' must end in .svg or .png",
                      r.stderr)
        r = fb("report", self.saved, "--title", "t")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--title", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_gnuplot_missing(self):
        svg = self.path("no-gnuplot.svg")
        env = dict(os.environ, PATH="/nonexistent")
        r = subprocess.run([hc.FB_BIN, "report", self.saved, "--plot", svg],
                           capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("gnuplot not found: plot %s skipped" % svg, r.stderr)
        self.assertTrue(r.stdout.startswith("# fetchbench compare: "))
        self.assertFalse(os.path.exists(svg))


if __name__ == "__main__":
    require_bin()
    fbtest.main()
