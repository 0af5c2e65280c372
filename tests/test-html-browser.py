#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The HTML report in a real browser: headless Chromium renders the page of
a small real sweep, the same sweep with errors in some cells, and a page of
hostile strings, at a phone's size (390 x 844) and a desktop's (1366 x 900),
and in print. From the DOM: every engine x workers cell is a row, every
chart has one marker per cell with finished runs, drawn where its value
says; the page never scrolls sideways on the phone (the table scrolls in
its own box), chart text stays legible; no console message, no exception,
no request but the page itself. Screenshots and a PDF are kept in
$FB_BUILD_ROOT/tests/test-html-browser/. Skips (77) without Chromium."""

import os
import struct
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402
import browser  # noqa: E402
import html_common as hc  # noqa: E402
from cli_common import fb, require_bin  # noqa: E402

SIZES = {"phone": (390, 844, True), "desktop": (1366, 900, False)}

FACTS = """(() => {
  const rect = e => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, width: r.width,
            height: r.height}; };
  const box = document.querySelector('.scroll');
  return {
    innerWidth: innerWidth,
    docWidth: document.documentElement.scrollWidth,
    scripts: document.scripts.length,
    box: {scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
          rect: rect(box)},
    rows: [...document.querySelectorAll('#cells tbody tr')].map(tr => ({
      engine: tr.dataset.engine, workers: +tr.dataset.workers,
      bad: tr.classList.contains('bad'), height: rect(tr).height,
      cells: [...tr.children].map(c => c.textContent)})),
    charts: [...document.querySelectorAll('svg.chart')].map(svg => {
      const vb = svg.viewBox.baseVal;
      const text = svg.querySelector('text');
      return {chart: svg.dataset.chart, rect: rect(svg),
        vb: [vb.width, vb.height],
        fontPx: parseFloat(getComputedStyle(text).fontSize) *
                svg.getBoundingClientRect().width / vb.width,
        pts: [...svg.querySelectorAll('.pt')].map(p => {
          const b = p.getBBox();
          return {engine: p.dataset.engine, workers: +p.dataset.workers,
                  metric: p.dataset.metric,
                  bad: p.classList.contains('bad'),
                  x: b.x + b.width / 2, y: b.y + b.height / 2, w: b.width,
                  title: p.querySelector('title').textContent};
        })};
    }),
    details: [...document.querySelectorAll('details')].map(d => ({
      engine: d.dataset.engine, workers: +d.dataset.workers, open: d.open})),
  };
})()"""


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s is not a PNG" % path)
    return struct.unpack(">II", head[16:24])


class Browser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = hc.scratch_dir("test-html-browser")
        r, cls.json, cls.html = hc.clean_sweep(cls.dir)
        if r.returncode != 0:
            raise AssertionError("compare failed: %s" % r.stderr)
        clean = hc.json_lines(cls.json)
        _, faulty_json, _ = hc.faulty_sweep(cls.dir)
        cls.pages = {"clean": (cls.html, hc.cells_of(clean))}
        cls.render("mixed", hc.mixed(clean, hc.json_lines(faulty_json)))
        hostile = hc.json_lines(cls.json)
        for x in hostile:
            x["workload"] = "<img src=http://127.0.0.1:9/x>&<script>1</script>"
            if x.get("engine") == "threads":
                x["engine"] = "<b>t\"h'r&</b>"
        cls.render("hostile", hostile)
        cls.b = browser.Browser(EXE)
        cls.facts = {}
        for page, (path, _) in cls.pages.items():
            for size, (w, h, mobile) in SIZES.items():
                cls.b.viewport(w, h, mobile)
                cls.b.load("file://" + os.path.abspath(path))
                cls.facts[page, size] = cls.b.evaluate(FACTS)
                if page != "hostile":
                    shot = os.path.join(cls.dir, "%s-%d.png" % (page, w))
                    cls.b.screenshot(shot)
                    cls.b.screenshot(shot.replace(".png", "-full.png"),
                                     full_page=True)
        cls.said = cls.b.console()
        cls.requested = cls.b.requests()

    @classmethod
    def render(cls, name, lines):
        """The page report makes of lines, as pages[name]."""
        src = hc.write_lines(os.path.join(cls.dir, name + ".json"), lines)
        out = os.path.join(cls.dir, name + ".html")
        r = fb("report", src, "--html", out)
        if r.returncode != 0:
            raise AssertionError("report failed: %s" % r.stderr)
        cls.pages[name] = (out, hc.cells_of(lines))

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "b", None) is not None:
            cls.b.close()

    def test_every_cell_is_a_row(self):
        for (page, size), f in self.facts.items():
            _, cells = self.pages[page]
            self.assertEqual([(r["engine"], r["workers"]) for r in f["rows"]],
                             [(c["engine"], c["workers"]) for c in cells],
                             (page, size))
            for r, c in zip(f["rows"], cells):
                bad = c["errors_total"] > 0 or c["failed_runs"] > 0
                self.assertEqual(r["bad"], bad, (page, r))
                self.assertGreater(r["height"], 0)
                self.assertEqual(r["cells"][9], "%d/%d !" % (
                    c["errors_total"], c["requests"]) if bad else "0")

    def test_charts_have_their_points(self):
        for (page, size), f in self.facts.items():
            _, cells = self.pages[page]
            got = {}
            for ch in f["charts"]:
                for p in ch["pts"]:
                    key = (ch["chart"], p["engine"], p["metric"])
                    got[key] = got.get(key, 0) + 1
                    # Drawn, inside the chart's box.
                    self.assertGreater(p["w"], 0)
                    self.assertTrue(0 < p["x"] < ch["vb"][0], p)
                    self.assertTrue(0 < p["y"] < ch["vb"][1], p)
            self.assertEqual(got, hc.expected_markers(cells), (page, size))
            self.assertEqual({ch["chart"] for ch in f["charts"]},
                             set(hc.CHARTS))

    def test_points_where_their_values_say(self):
        """Along the value axis, a larger median is drawn higher; along the
        workers axis, more workers further right."""
        _, cells = self.pages["clean"]
        f = self.facts["clean", "desktop"]
        wall = next(ch for ch in f["charts"] if ch["chart"] == "wall")
        by_cell = {(p["engine"], p["workers"]): p for p in wall["pts"]}
        ranked = sorted(cells, key=lambda c: c["wall_s"]["median"])
        ys = [by_cell[c["engine"], c["workers"]]["y"] for c in ranked]
        self.assertEqual(ys, sorted(ys, reverse=True))
        for c in cells:
            p = by_cell[c["engine"], c["workers"]]
            self.assertIn("%.3f s" % c["wall_s"]["median"], p["title"])
        xs = {}
        for p in wall["pts"]:
            xs.setdefault(p["workers"], set()).add(round(p["x"], 1))
        self.assertTrue(all(len(v) == 1 for v in xs.values()), xs)
        order = [min(xs[w]) for w in sorted(xs)]
        self.assertEqual(order, sorted(order))

    def test_errors_marked(self):
        f = self.facts["mixed", "desktop"]
        _, cells = self.pages["mixed"]
        bad = {(c["engine"], c["workers"]) for c in cells
               if c["errors_total"] > 0 or c["failed_runs"] > 0}
        self.assertEqual(len(bad), 2)
        self.assertEqual({(d["engine"], d["workers"]) for d in f["details"]},
                         bad)
        for ch in f["charts"]:
            for p in ch["pts"]:
                self.assertEqual(p["bad"], (p["engine"], p["workers"]) in bad)

    def test_phone(self):
        for page in self.pages:
            f = self.facts[page, "phone"]
            self.assertEqual(f["innerWidth"], 390)
            # The page never scrolls sideways; the table does, in its box.
            self.assertLessEqual(f["docWidth"], f["innerWidth"], page)
            self.assertGreater(f["box"]["scrollWidth"],
                               f["box"]["clientWidth"])
            self.assertLessEqual(f["box"]["rect"]["right"], 390)
            for ch in f["charts"]:
                self.assertLessEqual(ch["rect"]["right"], 390)
                self.assertGreater(ch["rect"]["width"], 300)
                self.assertGreaterEqual(ch["fontPx"], 9, ch["chart"])

    def test_desktop(self):
        f = self.facts["clean", "desktop"]
        self.assertEqual(f["innerWidth"], 1366)
        self.assertLessEqual(f["docWidth"], 1366)
        self.assertLessEqual(f["box"]["scrollWidth"], f["box"]["clientWidth"])
        tops = [round(ch["rect"]["top"]) for ch in f["charts"]]
        self.assertLess(len(set(tops)), len(tops), "charts side by side")
        for ch in f["charts"]:
            self.assertTrue(9 <= ch["fontPx"] <= 20, ch["fontPx"])

    def test_screenshots(self):
        for page in ("clean", "mixed"):
            for w, h, _ in SIZES.values():
                shot = os.path.join(self.dir, "%s-%d.png" % (page, w))
                self.assertEqual(png_size(shot), (w, h))
                full = png_size(shot.replace(".png", "-full.png"))
                self.assertEqual(full[0], w)
                self.assertGreater(full[1], h)

    def test_silent_and_offline(self):
        """Not a word in the console (a blocked load would be one: the
        hostile page tries), no request but the pages."""
        self.assertEqual(self.said, [])
        pages = {"file://" + os.path.abspath(p) for p, _ in
                 self.pages.values()}
        self.assertEqual(set(self.requested), pages)
        for f in self.facts.values():
            self.assertEqual(f["scripts"], 0)

    def test_hostile(self):
        f = self.facts["hostile", "desktop"]
        names = {r["engine"] for r in f["rows"]}
        self.assertIn("<b>t\"h'r&</b>", names)
        self.assertIn("<b>t\"h'r&</b>", [r["cells"][0] for r in f["rows"]])

    def test_print_and_drill_down(self):
        b = self.b
        path, _ = self.pages["mixed"]
        b.viewport(1366, 900, False)
        b.load("file://" + os.path.abspath(path))
        seen = ("[...document.querySelectorAll('details table')]"
                ".map(t => t.checkVisibility())")
        closed = b.evaluate(seen)
        self.assertEqual(closed, [False] * len(closed))
        b.evaluate("document.querySelectorAll('details').forEach(d => "
                   "d.open = true)")
        opened = b.evaluate(seen)
        self.assertTrue(opened and all(opened), opened)
        b.send("Emulation.setEmulatedMedia", {"media": "print"})
        self.assertEqual(b.evaluate(
            "getComputedStyle(document.querySelector('.scroll')).overflowX"),
            "visible")
        pdf = os.path.join(self.dir, "mixed.pdf")
        b.pdf(pdf)
        b.send("Emulation.setEmulatedMedia", {"media": ""})
        with open(pdf, "rb") as f:
            self.assertEqual(f.read(5), b"%PDF-")
        self.assertEqual(b.console(), [])


EXE = None

if __name__ == "__main__":
    require_bin()
    EXE = browser.find()
    if EXE is None:
        print("chromium not found (Debian package chromium, or set "
              "FB_CHROMIUM): skipped", file=sys.stderr)
        sys.exit(77)
    fbtest.main()
