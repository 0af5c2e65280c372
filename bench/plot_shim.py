"""SHIM, to be deleted: the suites' plots until src/cli/plot.c can draw
them. fetchbench has one plot generator, src/cli/plot.c (`compare --plot`);
the suites need it to plot saved rows that include peers. Once the lead
lands `fetchbench report ROWS.jsonl --plot/--plot-cpu/--plot-rss FILE`
with the plot.c changes listed in bench/README.md ("Plots"), plot_sweep
below becomes that command and this file goes.

Plots of a suite's sweeps with gnuplot, each in SVG and PNG.

A sweep over worker counts gets three log-log plots, one line per engine or
peer with min-max bars: wall time (with the ideal ceil(N/workers) x delay
when the delay is known), CPU per request, and peak RSS (process plus
children where known: the memory the model took). A sweep at one worker
count (the throughput workload) gets bar charts instead: pages/s, CPU per
page and peak RSS per client.

The engines' own plots come from `fetchbench compare --plot`; these add the
peers and the original's figures to the same axes.
"""

import os
import subprocess

from harness import med, tool

LINE_METRICS = (
    ("wall", "wall_s", "wall time (s)", 1.0),
    ("cpu", "cpu_per_req_ms", "CPU per request (ms, user + sys, with "
     "children)", 1.0),
    ("rss", "rss", "peak RSS, process + children (MiB)", 1.0 / 1024),
)

BAR_METRICS = (  # for one workload at a fixed concurrency
    ("pages", "req_per_s", "pages/s", 1.0),
    ("cpu", "cpu_per_req_ms", "CPU per page (us, user + sys, with children)",
     1000.0),
    ("rss", "rss", "peak RSS, process + children (MiB)", 1.0 / 1024),
)

# One colour per client in every plot: the engines strong, the peers muted.
COLOURS = {"sequential": "#7f3fbf", "threads": "#1f77b4",
           "processes": "#2ca02c", "async": "#d62728",
           "curl --parallel": "#ff7f0e", "xargs curl": "#bcbd22",
           "multi-poll": "#8c564b", "wrk": "#17becf",
           "python sequential": "#9e9e9e", "python threads": "#6b6b6b",
           "python processes": "#3a3a3a", "python asyncio": "#e377c2",
           "python requests": "#aec7e8"}
OTHER_COLOURS = ("#98df8a", "#ff9896", "#c5b0d5", "#c49c94")
# Dark colours for the dashed reference series (the original's figures).
EXTRA_COLOURS = ("#555555", "#1f4e9c", "#a0261e", "#2b7a2b")


def _colour(name, i=0):
    for key in sorted(COLOURS, key=len, reverse=True):
        if name == key or name.startswith(key + " "):
            return COLOURS[key]
    return OTHER_COLOURS[i % len(OTHER_COLOURS)]


def _stat(row, key):
    """(median, min, max) of a row's statistic; "rss" is the sum of the
    process and its children where known, else the largest process.
    """
    if key == "rss":
        key = "rss_sum_kib" if isinstance(row.get("rss_sum_kib"), dict) \
            else "max_rss_kib"
    s = row.get(key)
    if not isinstance(s, dict) or s.get("median") is None:
        return None
    return s["median"], s["min"], s["max"]


def _q(text):
    """Text for a gnuplot single-quoted string."""
    return str(text).replace("'", "''")


def _qq(text):
    """Text for a gnuplot double-quoted string (which knows \\n)."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def _series(rows):
    """Client names in order of first appearance."""
    names = []
    for r in rows:
        if r["client"] not in names:
            names.append(r["client"])
    return names


def _terminals(base):
    return [("set terminal svg size 960,600 dynamic font 'sans,12' "
             "background rgb 'white'", base + ".svg"),
            ("set terminal pngcairo size 1200,750 font 'sans,11'",
             base + ".png")]


def _render(gnuplot, base, body):
    """Runs the script body once per terminal; returns the files written."""
    script = []
    for term, out in _terminals(base):
        script += [term, "set output '%s'" % _q(out), body, "unset output"]
    gp = base + ".gp"
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    p = subprocess.run([gnuplot, gp], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("gnuplot %s failed:\n%s" % (gp, p.stdout.decode()))
    return [out for _, out in _terminals(base)]


def _lines(gnuplot, base, title, subtitle, rows, metric, ideal, extra):
    name, key, ylabel, scale = metric
    names = _series(rows)
    dat = base + ".dat"
    blocks = []
    with open(dat, "w") as f:
        for n in names:
            f.write("# %s\n" % n)
            pts = sorted((r["workers"], _stat(r, key)) for r in rows
                         if r["client"] == n and _stat(r, key))
            for w, (m, lo, hi) in pts:
                f.write("%d %.9g %.9g %.9g\n" % (w, m * scale, lo * scale,
                                                  hi * scale))
            f.write("\n\n")
            blocks.append(("yerrorlines lw 2 pt 7 lc rgb '%s'" %
                           _colour(n, len(blocks)), n))
        for n, pts in (extra if name == "wall" else []):
            f.write("# %s\n" % n)
            for w, v in pts:
                f.write("%d %.9g %.9g %.9g\n" % (w, v, v, v))
            f.write("\n\n")
            blocks.append(("linespoints dt 3 lw 1.5 pt 6 lc rgb '%s'" %
                           EXTRA_COLOURS[len(blocks) % len(EXTRA_COLOURS)],
                           n))
        if name == "wall" and ideal:
            ws = sorted({r["workers"] for r in rows})
            f.write("# ideal\n")
            for w in ws:
                f.write("%d %.9g\n" % (w, -(-ideal["urls"] // w) *
                                       ideal["delay_ms"] / 1000))
            f.write("\n\n")
            blocks.append(("lines dt 2 lc rgb 'black'",
                           "ideal: ceil(N/workers) x delay"))
    plots = []
    for i, (style, n) in enumerate(blocks):
        using = "1:2" if style.startswith(("lines", "linespoints")) \
            else "1:2:3:4"
        plots.append("'%s' index %d using %s with %s title '%s'" % (
            _q(dat), i, using, style, _q(n)))
    body = "\n".join([
        "set title \"%s: %s vs workers (median, bars min-max)\\n%s\" "
        "noenhanced" % (_qq(title), _qq(ylabel.split(" (")[0]),
                        _qq(subtitle)),
        "set xlabel 'workers (most requests in flight)'",
        "set ylabel '%s' noenhanced" % _q(ylabel),
        "set logscale x 2", "set logscale y 10", "set grid",
        "set key below noenhanced",
        "set offsets graph 0.05, graph 0.05, 0, 0",
        "plot " + ", \\\n  ".join(plots)])
    return _render(gnuplot, base, body)


def _bars(gnuplot, base, title, subtitle, rows, metric):
    name, key, ylabel, scale = metric
    dat = base + ".dat"
    with open(dat, "w") as f:
        for i, r in enumerate(rows):
            s = _stat(r, key)
            if s:
                f.write('%d %.9g %.9g %.9g 0x%s "%s"\n' % (
                    i, s[0] * scale, s[1] * scale, s[2] * scale,
                    _colour(r["client"], i)[1:],
                    r["label"].replace('"', "'")))
    body = "\n".join([
        "set title \"%s: %s (median, bars min-max)\\n%s\" noenhanced" % (
            _qq(title), _qq(ylabel.split(" (")[0]), _qq(subtitle)),
        "set ylabel '%s' noenhanced" % _q(ylabel),
        "set style fill solid 0.7 border -1", "set boxwidth 0.7",
        "set xtics rotate by -30 noenhanced nomirror",
        "set xrange [-0.6:%g]" % (len(rows) - 0.4),
        "set grid ytics", "set key off",
        ("set logscale y 10" if name == "rss" else "set yrange [0:*]"),
        "plot '%s' using 1:2:5:xtic(6) with boxes lc rgb variable, \\\n"
        "  '' using 1:2:3:4 with yerrorbars lc rgb 'black' pt 7 ps 0.4"
        % _q(dat)])
    return _render(gnuplot, base, body)


def plot_sweep(suite, sweep, title, subtitle, rows, ideal=None, extra=(),
               bars=False):
    """Writes SWEEP-{wall,cpu,rss}.{svg,png} (or, with bars, bar charts
    SWEEP-{pages,cpu,rss}.{svg,png}, a bar per row) into the suite's
    directory. Rows carry "client" (the series and its colour) and, for
    bars, "label" (the bar's name). ideal: {"urls", "delay_ms"} for the
    ideal wall line; extra: (title, [(workers, wall s)]) series drawn dashed
    on the wall plot. Returns the files written.
    """
    gnuplot = tool("gnuplot")
    rows = [r for r in rows if med(r, "wall_s") is not None]
    if gnuplot is None or not rows:
        return []
    files = []
    for metric in (BAR_METRICS if bars else LINE_METRICS):
        base = os.path.join(suite.dir, "%s-%s" % (sweep, metric[0]))
        if bars:
            files += _bars(gnuplot, base, title, subtitle, rows, metric)
        else:
            files += _lines(gnuplot, base, title, subtitle, rows, metric,
                            ideal, extra)
        for junk in (base + ".dat", base + ".gp"):
            os.unlink(junk)
    return files
