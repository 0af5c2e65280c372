#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""compare --html and report: the HTML page of a small real sweep, strictly
well-formed and self-contained, with every cell of the JSON in its table,
the text table's cells and verdict, one chart marker per cell; report's page
of the saved JSON equal to compare's; cells with errors marked with their
outcomes; hostile strings escaped; report on malformed, truncated and empty
files; outputs checked before the first run and never lost. The pages in a
browser: test-html-browser.py."""

import copy
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
import html_common as hc  # noqa: E402
from cli_common import fb, require_bin  # noqa: E402


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class Page(unittest.TestCase):
    """One real sweep with --html and --json, and the page report makes of
    that JSON."""

    @classmethod
    def setUpClass(cls):
        cls.dir = hc.scratch_dir("test-html")
        cls.result, cls.json, cls.html = hc.clean_sweep(cls.dir)
        if cls.result.returncode != 0:
            raise AssertionError("compare failed: %s" % cls.result.stderr)
        cls.lines = hc.json_lines(cls.json)
        cls.cells = hc.cells_of(cls.lines)
        cls.text = read(cls.html)
        cls.tree, cls.errors = hc.parse_html(cls.text)

    def test_last_line_names_the_page(self):
        out = self.result.stdout.splitlines()
        self.assertEqual(out[-1], "HTML report: " + self.html)
        self.assertTrue(out[0].startswith("# fetchbench compare: "))

    def test_well_formed(self):
        self.assertEqual(self.errors, [])
        self.assertEqual(hc.tidy_errors(self.html) or "", "")
        self.assertEqual(hc.external_references(self.text), [])
        metas = self.tree.find_all("meta")
        self.assertIn("utf-8", [m.attrs.get("charset") for m in metas])
        csp = [m.attrs["content"] for m in metas
               if m.attrs.get("http-equiv") == "Content-Security-Policy"]
        self.assertEqual(csp, ["default-src 'none'; style-src "
                               "'unsafe-inline'"])

    def test_table_is_the_text_table(self):
        """Every cell of the JSON is a row; each row's cells are the text
        table's, column for column (units, '-', marks)."""
        rows = self.tree.find_all("tbody")[0].find_all("tr")
        got = [(r.attrs["data-engine"], int(r.attrs["data-workers"]))
               for r in rows]
        self.assertEqual(got, [(c["engine"], c["workers"])
                               for c in self.cells])
        heads = [th.text() for th in self.tree.find_all("thead")[0]
                 .find_all("th")]
        self.assertEqual(heads[:4], ["engine", "workers", "runs", "wall s"])
        self.assertEqual(heads[-2:], ["errors", "eff"])
        text_rows, _ = hc.text_table(self.result.stdout)
        for row, want in zip(rows, text_rows):
            cells = [n.text() for n in row.children if not isinstance(n, str)]
            self.assertEqual(len(cells), len(heads))
            self.assertEqual(" ".join(cells).split(), want)
        self.assertEqual(len(text_rows), len(rows))

    def test_verdict_is_the_text_verdict(self):
        section = self.tree.find_all("section", id="verdict")[0]
        items = [" ".join(li.text(" ").split())
                 for li in section.find_all("li")]
        _, points = hc.text_table(self.result.stdout)
        self.assertEqual(items, points)
        self.assertTrue(items[0].startswith("fastest: "))

    def test_charts_have_their_points(self):
        want = hc.expected_markers(self.cells)
        got = {}
        for svg in self.tree.find_all("svg"):
            chart = svg.attrs.get("data-chart")
            if chart is None:
                continue
            for pt in svg.iter("path"):
                if "pt" in pt.classes():
                    key = (chart, pt.attrs["data-engine"],
                           pt.attrs["data-metric"])
                    got[key] = got.get(key, 0) + 1
                    self.assertNotIn("bad", pt.classes())
                    self.assertNotIn("nan", pt.attrs["d"].lower())
            # Axes with units and a legend per chart.
            self.assertIn("workers", svg.text())
        self.assertEqual(got, want)
        for fig in self.tree.find_all("figure"):
            legend = fig.find_all("ul", **{"class": "legend"})[0]
            names = {li.text().split()[0] for li in legend.find_all("li")}
            self.assertLessEqual({c["engine"] for c in self.cells}, names)
        for unit in ("wall time (s)", "CPU per request (ms)", "(MiB)",
                     "latency (ms)"):
            self.assertIn(unit, self.text)

    def test_context(self):
        dl = self.tree.find_all("dl")[0]
        terms = [dt.text() for dt in dl.find_all("dt")]
        for t in ("Sweep", "Connections", "Delay", "Machine", "Pinning"):
            self.assertIn(t, terms)
        self.assertIn(self.cells[0]["workload"],
                      self.tree.find_all("header")[0].text())
        self.assertIn(self.cells[0]["machine"], dl.text())

    def test_report_rebuilds_the_same_page(self):
        """The saved JSON holds all the page shows: report's page is
        compare's, byte for byte, and its text is compare's table and
        verdict."""
        again = os.path.join(self.dir, "again.html")
        r = fb("report", self.json, "--html", again)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "HTML report: %s\n" % again)
        self.assertEqual(read(again), self.text)
        r = fb("report", self.json)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.result.stdout.rsplit("HTML report:",
                                                             1)[0])

    def test_report_from_stdin(self):
        r = fb("report", "-", "--html", "-", stdin=read(self.json))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.text)


class Errors(unittest.TestCase):
    """Cells with errors or failed runs, from a real sweep against an origin
    that injects faults, and mixed into the clean sweep."""

    @classmethod
    def setUpClass(cls):
        cls.dir = hc.scratch_dir("test-html-errors")
        clean = hc.saved_sweep(cls.dir, pages=6, delay=5)
        cls.faulty, cls.faulty_json, cls.faulty_html = hc.faulty_sweep(
            cls.dir)
        cls.clean_lines = hc.json_lines(clean)

    def check_marked(self, html_path, cells):
        text = read(html_path)
        tree, errors = hc.parse_html(text)
        self.assertEqual(errors, [])
        self.assertEqual(hc.tidy_errors(html_path) or "", "")
        rows = {(r.attrs["data-engine"], int(r.attrs["data-workers"])): r
                for r in tree.find_all("tbody")[0].find_all("tr")}
        details = {(d.attrs["data-engine"], int(d.attrs["data-workers"])): d
                   for d in tree.find_all("details")}
        for c in cells:
            key = (c["engine"], c["workers"])
            bad = c["errors_total"] > 0 or c["failed_runs"] > 0
            self.assertEqual("bad" in rows[key].classes(), bad, key)
            self.assertEqual(key in details, bad, key)
            errs = [td for td in rows[key].find_all("td")
                    if "err" in td.classes()]
            if not bad:
                self.assertEqual(errs, [])
                continue
            self.assertEqual(errs[0].text(), "%d/%d !" % (
                c["errors_total"], c["requests"]))
            link = errs[0].find_all("a")[0].attrs["href"]
            self.assertEqual(link, "#" + details[key].attrs["id"])
            summary = details[key].find_all("summary")[0].text()
            self.assertTrue(summary.startswith("! %s with %d worker" % key))
            got = {tr.attrs["data-outcome"]: int(tr.find_all("td")[2].text())
                   for tr in details[key].find_all("tr")
                   if "data-outcome" in tr.attrs}
            want = dict(c["errors"])
            if c["requests"] > c["errors_total"]:
                want["ok"] = c["requests"] - c["errors_total"]
            self.assertEqual(got, want, key)
            for name, n in c["errors"].items():
                self.assertIn("%s %d" % (name, n), summary)
            if c["failed_runs"]:
                self.assertIn(c["failure"], details[key].text())
            for pt in tree.iter("path"):
                if "pt" in pt.classes() and (
                        pt.attrs["data-engine"],
                        int(pt.attrs["data-workers"])) == key:
                    self.assertIn("bad", pt.classes())
        return tree

    def test_faulty_sweep(self):
        """compare --html itself, every request's outcome real."""
        self.assertEqual(self.faulty.returncode, 1, self.faulty.stderr)
        self.assertEqual(self.faulty.stdout.splitlines()[-1],
                         "HTML report: " + self.faulty_html)
        cells = hc.cells_of(hc.json_lines(self.faulty_json))
        self.assertTrue(any(c["errors_total"] for c in cells))
        self.check_marked(self.faulty_html, cells)

    def test_some_cells_with_errors(self):
        lines = hc.mixed(self.clean_lines, hc.json_lines(self.faulty_json))
        src = hc.write_lines(os.path.join(self.dir, "mixed.json"), lines)
        out = os.path.join(self.dir, "mixed.html")
        r = fb("report", src, "--html", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        cells = hc.cells_of(lines)
        self.assertEqual(sum(c["errors_total"] > 0 or c["failed_runs"] > 0
                             for c in cells), 2)
        tree = self.check_marked(out, cells)
        verdict = tree.find_all("section", id="verdict")[0].text()
        self.assertIn("2 cells with errors or failed runs left out", verdict)
        # The failure note is text, never markup.
        self.assertEqual(tree.find_all("b"), [])


class Hostile(unittest.TestCase):
    """Strings of a saved file are escaped wherever they land."""

    NAME = "<b>thr&eads</b>\"'\u00e9\u2028"
    WORKLOAD = "<script>alert(1)</script> & \x01 http://x/?a=1&b=<2>"

    def test_escaped(self):
        d = hc.scratch_dir("test-html-hostile")
        src = hc.saved_sweep(d)
        lines = hc.json_lines(src)
        for x in lines:
            x["workload"] = self.WORKLOAD
            x["corpus"] = "/srv/<i>docs</i> & co"
            if x.get("engine") == "threads":
                x["engine"] = self.NAME
        out = os.path.join(d, "hostile.html")
        r = fb("report", hc.write_lines(os.path.join(d, "hostile.json"),
                                        lines), "--html", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = read(out)
        tree, errors = hc.parse_html(text)
        self.assertEqual(errors, [])
        self.assertEqual(hc.tidy_errors(out) or "", "")
        self.assertEqual(hc.external_references(text), [])
        for tag in ("b", "i", "script"):
            self.assertEqual(tree.find_all(tag), [], tag)
        self.assertNotIn("\x01", text)
        rows = [r for r in tree.find_all("tr")
                if r.attrs.get("data-engine") == self.NAME]
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[0].find_all("th")[0].text(), self.NAME)
        self.assertIn(self.WORKLOAD.replace("\x01", "\ufffd"),
                      tree.find_all("title")[0].text())


class Report(unittest.TestCase):
    """report on files that are not what compare --json writes."""

    @classmethod
    def setUpClass(cls):
        cls.dir = hc.scratch_dir("test-html-report")
        cls.src = hc.saved_sweep(cls.dir)
        cls.raw = read(cls.src).splitlines(keepends=True)

    def refused(self, name, content, *needles):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(content)
        out = os.path.join(self.dir, name + ".html")
        r = fb("report", path, "--html", out)
        self.assertEqual(r.returncode, 2, (name, r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(out), "%s: a page was written" % name)
        for n in needles:
            self.assertIn(n.replace("FILE", path), r.stderr, name)
        return r.stderr

    def test_malformed(self):
        bad = self.raw[:]
        bad[1] = bad[1].replace('"runs":', '"runs"', 1)
        self.refused("malformed.json", "".join(bad), "FILE:2: malformed JSON")

    def test_truncated(self):
        third = self.raw[2]
        self.refused("cut.json", "".join(self.raw[:2]) + third[:len(third) // 2],
                     "FILE:3: malformed JSON", "truncated")
        self.refused("no-verdict.json", "".join(self.raw[:-1]),
                     "FILE:%d: the file ends without its verdict line" %
                     len(self.raw), "truncated")

    def test_schema(self):
        lines = hc.json_lines(self.src)
        for key, edit, needle in [
                ("wall_s", lambda c: c.pop("wall_s"),
                 "FILE:2: field 'wall_s' missing"),
                ("workers", lambda c: c.update(workers="4"),
                 "FILE:2: field 'workers' is a string, expected a whole "
                 "number"),
                ("median", lambda c: c["cpu_s"].update(median="x"),
                 "FILE:2: field 'cpu_s.median' is a string"),
                ("errors", lambda c: c.update(errors={"recv": 1}),
                 "FILE:2: field 'errors': the counts sum to 1"),
                ("schema", lambda c: c.update(schema=99),
                 "FILE:2: schema 99: this fetchbench reads schema 1"),
                ("kind", lambda c: c.pop("kind"), "FILE:2: field 'kind' "
                 "missing")]:
            edited = copy.deepcopy(lines)
            edit(edited[1])
            self.refused("schema-%s.json" % key, "".join(
                hc.json_dumps_line(x) for x in edited), needle)
        twice = copy.deepcopy(lines)
        twice.insert(1, twice[0])
        twice[-1]["cells"] += 1
        self.refused("twice.json", "".join(hc.json_dumps_line(x)
                                           for x in twice),
                     "FILE:2: a second cell sequential with 1 workers")
        other = copy.deepcopy(lines)
        other[2]["workload"] = "another sweep"
        self.refused("two-sweeps.json", "".join(hc.json_dumps_line(x)
                                                for x in other),
                     "FILE:3: field 'workload' differs from line 1's")

    def test_empty(self):
        self.refused("empty.json", "", "FILE:1: no cell and no verdict")
        verdict = hc.json_lines(self.src)[-1]
        verdict["cells"] = 0
        verdict["runs"] = 0
        self.refused("no-cells.json", hc.json_dumps_line(verdict),
                     "FILE: no cell: nothing to report")
        lines = hc.json_lines(self.src)
        for c in hc.cells_of(lines):
            c.update(runs=0, failed_runs=2, runs_wall_s=[], requests=0,
                     failure="killed by signal 9 (Killed)",
                     samples={k: [] for k in c["samples"]}, histograms=None)
        self.refused("no-runs.json", "".join(hc.json_dumps_line(x)
                                             for x in lines),
                     "none of its %d cells has a finished run" %
                     len(hc.cells_of(lines)), "nothing to report")

    def test_missing_and_usage(self):
        r = fb("report", os.path.join(self.dir, "nope.json"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read", r.stderr)
        r = fb("report")
        self.assertEqual(r.returncode, 2)
        self.assertIn("which results file?", r.stderr)
        r = fb("report", self.src, self.src)
        self.assertEqual(r.returncode, 2)
        self.assertIn("one results file at a time", r.stderr)


class Outputs(unittest.TestCase):
    """A page that cannot be written is found before the first run; one
    whose writing fails at the end goes to standard output, else to a file
    of its own; a page replaces all of what its file held."""

    @classmethod
    def setUpClass(cls):
        cls.dir = hc.scratch_dir("test-html-outputs")
        cls.src = hc.saved_sweep(cls.dir)
        cls.page = fb("report", cls.src, "--html", "-").stdout

    def test_checked_before_the_first_run(self):
        d = self.dir
        for path, why in [(os.path.join(d, "missing", "x.html"),
                           "--html: cannot write '%s': No such file or "
                           "directory"),
                          (d, "--html: '%s' is a directory")]:
            r = fb("compare", "--corpus", "synthetic", "--pages", "3",
                   "--html", path, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(r.stdout, "")  # no run, no table
            self.assertIn(why % path, r.stderr)
        # A run that never starts leaves no empty page behind.
        page = os.path.join(d, "never.html")
        r = fb("compare", "--urls", os.path.join(d, "no-such-list"),
               "--html", page)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertFalse(os.path.exists(page))
        r = fb("report", self.src, "--html", self.src)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("is the input", r.stderr)

    def test_replaces_a_longer_file(self):
        path = os.path.join(self.dir, "old.html")
        with open(path, "w") as f:
            f.write("x" * (len(self.page) * 2))
        r = fb("report", self.src, "--html", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(path), self.page)

    def test_never_lost(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        full = os.path.join(self.dir, "full.html")  # opens, then ENOSPC
        if not os.path.lexists(full):
            os.symlink("/dev/full", full)
        env = dict(os.environ, TMPDIR=self.dir)
        sweep = ["compare", "--corpus", "synthetic", "--pages", "3",
                 "--delay", "1", "--engines", "sequential", "--repeat", "1"]
        for cmd in (["report", self.src], sweep):
            # Standard output takes the page.
            r = subprocess.run([hc.FB_BIN, *cmd, "--html", full],
                               capture_output=True, text=True, env=env,
                               timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("writing the HTML report to %s failed: No space "
                          "left on device" % full, r.stderr)
            page = r.stdout[r.stdout.index("<!DOCTYPE html>"):]
            self.assertEqual(hc.parse_html(page)[1], [])
            if cmd[0] == "report":
                self.assertEqual(page, self.page)
            # Standard output full too: a file of its own, still a page.
            with open("/dev/full", "w") as out:
                r = subprocess.run([hc.FB_BIN, *cmd, "--html", full],
                                   stdout=out, stderr=subprocess.PIPE,
                                   text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            saved = re.search(r"the HTML report was written to (\S+) "
                              r"instead", r.stderr).group(1)
            self.assertTrue(saved.startswith(self.dir + "/fetchbench-HTML-"
                                             "report-"), r.stderr)
            self.assertTrue(saved.endswith(".html"), saved)
            page = read(saved)
            self.assertEqual(hc.parse_html(page)[1], [])
            if cmd[0] == "report":
                self.assertEqual(page, self.page)
            os.unlink(saved)


if __name__ == "__main__":
    require_bin()
    fbtest.main()
