# SPDX-License-Identifier: MIT
"""What the HTML report's tests share: real sweeps saved as JSON, edits of
them, and a strict reading of the HTML (python3 stdlib only)."""

import copy
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import FB_BIN, fb, origin  # noqa: E402

CHARTS = {"wall": [None], "cpu": [None], "memory": [None],
          "latency": ["p50", "p99"]}


def scratch_dir(name):
    """A scratch directory under the build tree, emptied now and kept after
    the test, so that its screenshots and pages can be looked at."""
    root = os.environ.get("FB_BUILD_ROOT") or tempfile.gettempdir()
    d = os.path.join(root, "tests", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def json_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def json_dumps_line(x):
    return json.dumps(x, ensure_ascii=False) + "\n"


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for x in lines:
            f.write(json_dumps_line(x))
    return path


def cells_of(lines):
    return [x for x in lines if x["kind"] == "cell"]


def sweep(d, name, *args, html=True):
    """A small real `compare` (2 engines x 2 worker counts, 2 repeats) into
    d/name.json and, with html, d/name.html. Returns the CompletedProcess
    and the paths."""
    j = os.path.join(d, name + ".json")
    h = os.path.join(d, name + ".html")
    r = fb("compare", "--engines", "sequential,threads", "--workers", "1,4",
           "--repeat", "2", "--json", j, *(["--html", h] if html else []),
           *args, timeout=120)
    return r, j, h


def clean_sweep(d):
    return sweep(d, "clean", "--corpus", "synthetic", "--pages", "6",
                 "--delay", "10")


def saved_sweep(d, pages=3, delay=1):
    """A tiny real sweep saved as d/clean.json (no page); returns its path,
    or raises when compare failed."""
    r, path, _ = sweep(d, "clean", "--corpus", "synthetic", "--pages",
                       str(pages), "--delay", str(delay), html=False)
    if r.returncode != 0:
        raise AssertionError("compare failed: %s" % r.stderr)
    return path


def faulty_sweep(d):
    """A sweep against an origin that resets about a third of its pages (the
    same pages for every engine: the faults are a hash of the target)."""
    with origin("--fault", "reset=0.3", "--seed", "3") as o:
        import urllib.request
        with urllib.request.urlopen(o.url + "/__index?fault=none",
                                    timeout=10) as r:
            paths = [p for p in r.read().decode().split("\n") if p][:9]
        urls = os.path.join(d, "faulty-urls.txt")
        with open(urls, "w") as f:
            f.write("".join("%s/%s\n" % (o.url, p.lstrip("/"))
                            for p in paths))
        return sweep(d, "faulty", "--urls", urls, "--delay", "0")


def mixed(clean_lines, faulty_lines):
    """The clean sweep with one cell's errors taken from the faulty sweep's
    cell of the same engine and workers (errors and their outcomes, scaled
    to the clean cell's requests), and one run of another cell failed."""
    lines = copy.deepcopy(clean_lines)
    cells = cells_of(lines)
    bad = cells[-1]
    src = next(c for c in cells_of(faulty_lines)
               if (c["engine"], c["workers"]) == (bad["engine"],
                                                  bad["workers"]))
    if src["errors_total"] == 0:
        raise RuntimeError("the faulty sweep's cell has no errors: %r" % src)
    errors = {k: min(v, bad["requests"]) for k, v in src["errors"].items()}
    while sum(errors.values()) > bad["requests"]:
        k = max(errors, key=errors.get)
        errors[k] -= 1
    bad["errors"] = errors
    bad["errors_total"] = sum(errors.values())
    failed = cells[0]
    failed["failed_runs"] = 1
    failed["failure"] = "killed by signal 9 (Killed) </details><b>x</b>"
    return lines


class Node:
    def __init__(self, tag, attrs, pos):
        self.tag, self.attrs, self.pos = tag, dict(attrs), pos
        self.children = []  # Node or str

    def text(self, br="\n"):
        out = []
        for c in self.children:
            if isinstance(c, str):
                out.append(c)
            elif c.tag == "br":
                out.append(br)
            else:
                out.append(c.text(br))
        return "".join(out)

    def iter(self, tag=None):
        for c in self.children:
            if isinstance(c, Node):
                if tag is None or c.tag == tag:
                    yield c
                yield from c.iter(tag)

    def find_all(self, tag=None, **attrs):
        return [n for n in self.iter(tag)
                if all(n.attrs.get(k.replace("_", "-")) == v
                       for k, v in attrs.items())]

    def classes(self):
        return (self.attrs.get("class") or "").split()


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class StrictParser(html.parser.HTMLParser):
    """Builds a tree and records every departure from well-formed HTML5: a
    missing doctype, an end tag that closes anything but the open element,
    an element left open, a self-closing HTML element that is not void, a
    duplicate attribute or id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", [], (0, 0))
        self.stack = [self.root]
        self.errors = []
        self.doctype = None
        self.ids = {}
        self.in_svg = 0

    def _open(self, tag, attrs):
        names = [a for a, _ in attrs]
        if len(names) != len(set(names)):
            self.errors.append("duplicate attribute in <%s> at %s" %
                               (tag, self.getpos()))
        node = Node(tag, attrs, self.getpos())
        i = node.attrs.get("id")
        if i is not None:
            if i in self.ids:
                self.errors.append("duplicate id %r at %s" % (i,
                                                              self.getpos()))
            self.ids[i] = node
        self.stack[-1].children.append(node)
        return node

    def handle_decl(self, decl):
        if self.doctype is None and not self.root.children:
            self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = self._open(tag, attrs)
        if tag not in VOID:
            self.stack.append(node)
            self.in_svg += tag == "svg"

    def handle_startendtag(self, tag, attrs):
        self._open(tag, attrs)
        if tag not in VOID and not self.in_svg:
            self.errors.append("<%s/> self-closed outside SVG at %s" %
                               (tag, self.getpos()))

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append("end tag of void <%s> at %s" %
                               (tag, self.getpos()))
            return
        if len(self.stack) < 2 or self.stack[-1].tag != tag:
            self.errors.append("</%s> at %s closes <%s> opened at %s" %
                               (tag, self.getpos(), self.stack[-1].tag,
                                self.stack[-1].pos))
            return
        self.in_svg -= tag == "svg"
        self.stack.pop()

    def handle_data(self, data):
        if data.strip() and len(self.stack) == 1:
            self.errors.append("text outside <html> at %s" %
                               (self.getpos(),))
        self.stack[-1].children.append(data)

    def close(self):
        super().close()
        for n in self.stack[1:]:
            self.errors.append("<%s> opened at %s never closed" %
                               (n.tag, n.pos))
        if (self.doctype or "").lower() != "doctype html":
            self.errors.append("no <!DOCTYPE html> first (%r)" %
                               self.doctype)


def parse_html(text):
    """The tree and the list of errors."""
    p = StrictParser()
    p.feed(text)
    p.close()
    return p.root, p.errors


EXTERNAL = [
    re.compile(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?\s*"""
               r"""(?!#)[a-z][a-z0-9+.-]*:""", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"url\s*\(", re.I),
    re.compile(r"<\s*(?:script|link|img|iframe|object|embed)\b", re.I),
]


def external_references(text):
    """Whatever in the page could make a browser load something."""
    return [m.group(0) for rx in EXTERNAL for m in rx.finditer(text)]


def tidy_errors(path):
    """tidy's complaints about path (HTML5 with inline SVG), or None when
    tidy is not installed."""
    tidy = shutil.which("tidy")
    if tidy is None:
        return None
    r = subprocess.run([tidy, "-errors", "-quiet", path],
                       capture_output=True, text=True, timeout=60)
    return "" if r.returncode == 0 else r.stderr.strip() or r.stdout


def text_table(report_text):
    """The rows of the text table printed by compare/report, as token
    lists, and the verdict's sentences, whitespace folded."""
    lines = report_text.splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("engine "))
    rows = []
    for line in lines[head + 1:]:
        if not line or line.startswith(("!", "RSS:")):
            break
        rows.append(line.split())
    v = next(i for i, l in enumerate(lines) if l.startswith("Verdict ("))
    points, cur = [], None
    for line in lines[v + 1:]:
        if line.startswith("- "):
            cur = [line[2:]]
            points.append(cur)
        elif line.startswith("  ") and cur is not None:
            cur.append(line.strip())
        elif line.startswith("HTML report:"):
            break
    return rows, [" ".join(" ".join(p).split()) for p in points]


def expected_markers(cells):
    """{(chart, engine, metric): markers} that the charts must hold: one per
    cell with finished runs."""
    want = {}
    for chart, metrics in CHARTS.items():
        for c in cells:
            if c["runs"] == 0:
                continue
            for m in metrics:
                key = (chart, c["engine"], m or chart)
                want[key] = want.get(key, 0) + 1
    return want


__all__ = ["FB_BIN", "fb"]
