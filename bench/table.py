# SPDX-License-Identifier: MIT
"""The human tables of the bench suites (stderr and table.txt)."""

from harness import med


def _f(x, fmt):
    return "-" if x is None else fmt % x


def _mib(row):
    return _f(med(row, "max_rss_kib") and med(row, "max_rss_kib") / 1024,
              "%.1f")


def _sum_mib(row):
    return _f(med(row, "rss_sum_kib") and med(row, "rss_sum_kib") / 1024,
              "%.1f")


def _wall(row):
    s = row.get("wall_s")
    if not isinstance(s, dict):
        return "-"
    return "%.3f [%.3f-%.3f]" % (s["median"], s["min"], s["max"])


def _errors(row):
    n = row.get("errors") or 0
    return "%d ERR" % n if n else "0"


def _eff(row):
    e = row.get("efficiency")
    return "-" if e is None or e < 0 else "%.0f%%" % (e * 100)


# (header, width, function of a row)
LATENCY_COLUMNS = (
    ("client", -18, lambda r: r["client"]),
    ("workers", 7, lambda r: str(r["workers"])),
    ("wall s [min-max]", 23, _wall),
    ("CPU s", 7, lambda r: _f(med(r, "cpu_s"), "%.3f")),
    ("CPU/req ms", 10, lambda r: _f(med(r, "cpu_per_req_ms"), "%.2f")),
    ("RSS MiB", 8, _mib),
    ("sum MiB", 8, _sum_mib),
    ("req/s", 8, lambda r: _f(med(r, "req_per_s"), "%.0f")),
    ("errors", 6, _errors),
    ("eff", 4, _eff),
)

THROUGHPUT_COLUMNS = (
    ("client", -18, lambda r: r["client"]),
    ("workers", 7, lambda r: str(r["workers"])),
    ("pages/s [min-max]", 24, lambda r: "%.0f [%.0f-%.0f]" % (
        r["req_per_s"]["median"], r["req_per_s"]["min"],
        r["req_per_s"]["max"]) if isinstance(r.get("req_per_s"), dict)
     else "-"),
    ("CPU us/page", 11, lambda r: _f(med(r, "cpu_per_req_ms") and
                                      med(r, "cpu_per_req_ms") * 1000,
                                      "%.1f")),
    ("RSS MiB", 8, _mib),
    ("sum MiB", 8, _sum_mib),
    ("errors", 6, _errors),
)


def render(rows, columns, extra=()):
    """Lines of a table: columns plus extra (header, width, function)."""
    cols = list(columns) + list(extra)
    out = ["  ".join(("%-*s" if w < 0 else "%*s") % (abs(w), h)
                     for h, w, _ in cols)]
    for r in rows:
        out.append("  ".join(("%-*s" if w < 0 else "%*s") % (abs(w), fn(r))
                             for _, w, fn in cols))
    return out


def timing_note(rows):
    """The footnote that says how each kind of row was timed."""
    inside = sorted({r["client"] for r in rows
                     if r.get("timing") == "in-process"})
    outside = sorted({r["client"] for r in rows
                      if r.get("timing") == "external"})
    notes = []
    if inside:
        notes.append("%s: timed in-process (the run, or pool start to pool "
                     "shutdown), CPU with children" % ", ".join(inside))
    if outside:
        notes.append("%s: timed as child processes (spawn to exit; CPU and "
                     "peak RSS from wait4), start-up included" %
                     ", ".join(outside))
    return ["note: " + n for n in notes]
