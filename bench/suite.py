#!/usr/bin/env python3
"""fetchbench's bench suites: whole sweeps of the four engines (through
`fetchbench compare`) and of the programs users would pick instead, on one
loopback origin pinned to its own core.

usage: suite.py SUITE --fetchbench PATH --out DIR [--original PATH]
                [--wrk-script PATH] [--multi-poll PATH]

  seed        the original experiment: its ten pages at 70 ms, fresh
              connections, workers 1/2/4/8/16, with its published figures
              beside ours; then 64 pages at 100 ms and the goal: efficiency
              >= 0.95 for threads and processes at 16 workers
  scale       10,000 URLs at 100 ms: workers 16/64/256/1024 (processes to
              256, async also 5,000): where each model starts to cost
  throughput  the Django mix, no delay, 64 in flight, keep-alive: pages/s
              and CPU per page of every engine and every peer, in one run
  peers       the seed workload at 70 ms and the throughput workload through
              curl --parallel, xargs -P curl, wrk, multi-poll and the Python
              original, beside the engines

Environment: FB_BENCH_QUICK=1 runs a short variant of each suite (fewer
URLs and repeats: for checking that a suite works, not for figures);
FB_BENCH_REPEAT=K sets the repeats (rounds) of every sweep.

Output: one JSON object per cell on stdout (and goal lines), the human table
on stderr; DIR/SUITE/ holds results.jsonl, table.txt and the plots (SVG and
PNG). Exit status: 0, or 1 when an engine cell had errors or the machinery
failed. Missing optional tools (gnuplot, wrk, curl) print "skipped: ..."
and leave their part out.
"""

import argparse
import os
import sys
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import suite_peers as peers  # noqa: E402
from suite_common import (Suite, log, med, merge_rounds, stat,  # noqa: E402
                          STAT_KEYS)
from suite_plot import plot_sweep  # noqa: E402
from suite_table import (LATENCY_COLUMNS, THROUGHPUT_COLUMNS,  # noqa: E402
                         render, timing_note)

ENGINES = ("sequential", "threads", "processes", "async")
SEED_WORKERS = (1, 2, 4, 8, 16)

# The original experiment's published wall times (i7-7700k, real internet):
# (model, workers) -> seconds. It had no one-worker pool rows.
ORIGINAL = {("sequential", 1): 0.71,
            ("threads", 2): 0.60, ("threads", 4): 0.28,
            ("threads", 8): 0.19, ("threads", 16): 0.11,
            ("processes", 2): 0.76, ("processes", 4): 0.44,
            ("processes", 8): 0.43, ("processes", 16): 0.53}
ORIGINAL_NOTE = ("original: i7-7700k over the real internet; its CPU column "
                 "showed ~0 s for processes because it counted the parent "
                 "only")


def repeats(default, quick):
    env = os.environ.get("FB_BENCH_REPEAT")
    if env:
        return max(1, int(env))
    return quick if os.environ.get("FB_BENCH_QUICK") == "1" else default


def ideal_of(n, workers, delay_ms):
    return -(-n // workers) * delay_ms / 1000


# --- rounds of engines and peers, interleaved --------------------------------

def run_rounds(s, rounds, contenders):
    """Each round runs every contender once, starting one further along the
    list each round, so that drift of a shared machine spreads over all of
    them. A contender returns [(key, figures)]: a key ("engine", name,
    workers) with a compare cell, or ("peer", name, workers) with a peer
    measurement. Returns {key: [figures per round]} in first-seen order.
    """
    got = {}
    for r in range(rounds):
        k = r % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            for key, value in c():
                if value is not None:
                    got.setdefault(key, []).append(value)
        log("  round %d of %d done" % (r + 1, rounds))
    return got


def peer_row(s, sweep, key, measures, n, connection, delay_ms):
    _, client, workers = key
    row = {"suite": s.name, "sweep": sweep, "kind": "cell", "type": "peer",
           "client": client, "workers": workers, "urls": n,
           "connection": connection, "delay_ms": delay_ms,
           "repeats": len(measures), "runs": len(measures),
           "errors": sum(m["errors"] for m in measures),
           "timing": measures[0]["timing"],
           "command": measures[0].get("command")}
    for k in STAT_KEYS + ("external_wall_s", "external_cpu_s",
                          "cpu_self_s"):
        if any(m.get(k) is not None for m in measures):
            row[k] = stat(m.get(k) for m in measures)
    row["runs_wall_s"] = [m["wall_s"] for m in measures]
    notes = [m["note"] for m in measures if m.get("note")]
    if notes:
        row["note"] = notes[0]
    if delay_ms is not None:
        row["ideal_s"] = ideal_of(n, workers, delay_ms)
        row["efficiency"] = row["ideal_s"] / med(row, "wall_s")
    row.update(s.context())
    return row


def rows_of(s, sweep, got, n, connection, delay_ms):
    """Rows from run_rounds' results: engines first, in registry order."""
    engines = sorted((k for k in got if k[0] == "engine"),
                     key=lambda k: (ENGINES.index(k[1])
                                    if k[1] in ENGINES else 99, k[2]))
    rows = [s.engine_row(sweep, merge_rounds(got[k])) for k in engines]
    rows += [peer_row(s, sweep, k, got[k], n, connection, delay_ms)
             for k in got if k[0] == "peer"]
    for r in rows:
        s.add(r)
    return rows


def compare_contender(s, origin, args):
    def run():
        cells, _, _ = s.compare(args + ["--repeat", "1"], origin)
        return [(("engine", c["engine"], c["workers"]), c) for c in cells]
    return run


def peer_contender(key, fn, *args):
    return lambda: [(key, fn(*args))]


def parent_cpu(row):
    """CPU of the parent process alone: what the original's CPU column
    showed (its process pool's work happened in the children).
    """
    if row.get("cpu_self_s"):
        return "%.3f" % med(row, "cpu_self_s")
    if row["type"] != "engine" or med(row, "cpu_s") is None:
        return "-"
    return "%.3f" % (med(row, "cpu_s") - (med(row, "child_cpu_s") or 0))


def ratio_lines(rows, key, better, what):
    """"X / async" for every row, at the same workers where async has them."""
    asyncs = {r["workers"]: r for r in rows if r["client"] == "async"}
    top = max(asyncs) if asyncs else None
    out = []
    for r in rows:
        a = asyncs.get(r["workers"], asyncs.get(top))
        if r["client"] == "async" or a is None or not med(r, key) or \
                not med(a, key):
            continue
        out.append("  %-22s %6.2fx async's %s (async at %d)" % (
            "%s %d:" % (r["client"], r["workers"]),
            med(r, key) / med(a, key), what, a["workers"]))
    return ["%s, relative to async (%s is better):" % (what, better)] + out


# --- seed --------------------------------------------------------------------

def seed(s, args):
    quick = os.environ.get("FB_BENCH_QUICK") == "1"
    s.header("the original experiment, then 64 pages at 100 ms")
    origin = s.start_origin(70)
    cells, _, table = s.compare(
        ["--seed-pages", "--delay", "70", "--connection", "fresh",
         "--workers", ",".join(map(str, SEED_WORKERS)),
         "--repeat", str(repeats(5, 2))], origin)
    rows = [s.engine_row("seed", c) for c in cells]
    seq = next((r for r in rows if r["client"] == "sequential"), None)
    for r in rows:
        orig = ORIGINAL.get((r["client"], r["workers"]))
        r["original_wall_s"] = orig
        r["speedup"] = med(seq, "wall_s") / med(r, "wall_s") if seq else None
        r["original_speedup"] = ORIGINAL[("sequential", 1)] / orig \
            if orig else None
        s.add(r)
    s.say()
    s.say(table.rstrip())
    s.say()
    s.say("The original's table beside ours (speed-up: sequential wall / "
          "wall, the ratio that travels between machines):")
    extra = (
        ("speed-up", 8, lambda r: "%.2fx" % r["speedup"]),
        ("parent CPU s", 12, parent_cpu),
        ("original s", 10, lambda r: "%.2f" % r["original_wall_s"]
         if r["original_wall_s"] else "-"),
        ("orig speed-up", 13, lambda r: "%.2fx" % r["original_speedup"]
         if r["original_speedup"] else "-"))
    for line in render(rows, LATENCY_COLUMNS, extra):
        s.say(line)
    s.say("note: " + ORIGINAL_NOTE + "; \"parent CPU s\" is what it would "
          "have shown for ours")
    series = []
    for model in ("sequential", "threads", "processes"):
        pts = sorted((w, v) for (m, w), v in ORIGINAL.items() if m == model)
        series.append(("original %s (i7-7700k, internet)" % model, pts))
    plot_sweep(s, "seed", "seed: the original's ten pages at 70 ms, fresh "
               "connections", s.cores_line(), rows,
               ideal={"urls": 10, "delay_ms": 70}, extra=series)

    # 64 pages at 100 ms, and issue 3's goal.
    origin = s.start_origin(100)
    # The one-worker pool rows are left out (the ten-page sweep has them):
    # at 100 ms each would take 6.4 s a run.
    pages = 16 if quick else 64
    cells, _, table = s.compare(
        ["--pages", str(pages), "--delay", "100", "--connection", "fresh",
         "--workers", "2,4,8,16",
         "--repeat", str(repeats(3, 1))], origin)
    rows = [s.engine_row("seed-64", c) for c in cells]
    for r in rows:
        s.add(r)
    s.say()
    s.say(table.rstrip())
    s.say()
    goal = []
    for r in rows:
        if r["workers"] != 16 or r["client"] not in ("threads", "processes",
                                                      "async"):
            continue
        eff = r.get("efficiency")
        if eff is not None and eff < 0:
            eff = None
        runs = r.get("run_efficiency") or {"min": None, "max": None}
        judged = r["client"] != "async"
        result = "MISS (errors)" if r["errors"] else (
            "PASS" if eff is not None and eff >= 0.95 else "MISS")
        goal.append("%s %s [runs %s-%s]%s" % (
            r["client"], *("-" if x is None else "%.3f" % x
                           for x in (eff, runs["min"], runs["max"])),
            " " + result if judged else " (reference)"))
        s.add_extra({"kind": "goal", "sweep": "seed-64", "engine": r["client"],
                     "workers": 16, "pages": pages, "delay_ms": 100,
                     "efficiency": eff, "goal": 0.95 if judged else None,
                     "result": result if judged else "reference"})
    s.say("goal: efficiency = ideal / median wall >= 0.95 at 16 workers on "
          "%d pages at 100 ms: %s" % (pages, "; ".join(goal)))
    plot_sweep(s, "seed-64", "%d pages at 100 ms, fresh connections" % pages,
               s.cores_line(), rows, ideal={"urls": pages, "delay_ms": 100})


# --- scale -------------------------------------------------------------------

def scale(s, args):
    quick = os.environ.get("FB_BENCH_QUICK") == "1"
    n = 1000 if quick else 10000
    s.header("%d URLs (the Django mix) at 100 ms, keep-alive, up to "
             "thousands in flight" % n)
    # Bounded run time: the slow low-worker cells (16 and 64 workers take
    # 62 and 16 s each) run once; 256 and up run three times.
    if quick:
        groups = [("threads,processes,async", "16,64,256", 1),
                  ("threads,async", "1024", 1)]
    else:
        groups = [("threads,processes,async", "16,64", repeats(1, 1)),
                  ("threads,processes,async", "256", repeats(3, 1)),
                  ("threads,async", "1024", repeats(3, 1)),
                  ("async", "5000", repeats(3, 1))]
    origin = s.start_origin(100)
    rows = []
    for engines, workers, k in groups:
        log("scale: %s at %s workers, %d repeat%s" % (
            engines, workers, k, "s" if k > 1 else ""))
        cells, _, table = s.compare(
            ["--pages", str(n), "--delay", "100", "--connection", "reuse",
             "--engines", engines, "--workers", workers, "--repeat", str(k)],
            origin)
        rows += [s.engine_row("scale", c) for c in cells]
    rows.sort(key=lambda r: (ENGINES.index(r["client"]), r["workers"]))
    for r in rows:
        r["rss_per_worker_kib"] = (med(r, "rss_sum_kib") or 0) / r["workers"]
        # What the client must fetch per second to keep every round on time.
        r["demand_pages_per_s"] = min(r["workers"], n) / 0.1
        s.add(r)
    s.say()
    s.say("scale: %d URLs at 100 ms, keep-alive (repeats per cell in the "
          "runs column of results.jsonl):" % n)
    extra = (("runs", 4, lambda r: str(r["runs"])),
             ("demand/s", 8, lambda r: "%.0f" % r["demand_pages_per_s"]),
             ("KiB/worker", 10, lambda r: "%.0f" % r["rss_per_worker_kib"]))
    for line in render(rows, LATENCY_COLUMNS, extra):
        s.say(line)
    s.say("RSS: peak of the largest process; sum: the client plus every "
          "child's peak (shared pages count in each)")
    s.say("demand/s: the pages per second a cell must fetch to stay on the "
          "ideal (workers / 100 ms); the mix averages ~42 KB a page, so "
          "from ~1024 workers the client core's throughput, not the delay, "
          "bounds the wall time (compare the throughput suite's pages/s)")
    s.say()
    s.say("where each model starts to cost (computed from the rows above):")
    for e in ("threads", "processes", "async"):
        mine = [r for r in rows if r["client"] == e and not r["errors"]]
        if len(mine) < 2:
            continue
        lo, hi = mine[0], mine[-1]
        slip = next((r for r in mine if (r.get("efficiency") or 0) < 0.9),
                    None)
        s.say("- %s: efficiency %.0f%% at %d workers, %.0f%% at %d; %s; "
              "CPU per request %.2f -> %.2f ms (%.1fx); memory %.0f -> %.0f "
              "MiB, %.0f KiB per added worker" % (
                  e, lo["efficiency"] * 100, lo["workers"],
                  hi["efficiency"] * 100, hi["workers"],
                  "first below 90%% at %d workers" % slip["workers"] if slip
                  else "never below 90%",
                  med(lo, "cpu_per_req_ms"), med(hi, "cpu_per_req_ms"),
                  med(hi, "cpu_per_req_ms") / med(lo, "cpu_per_req_ms"),
                  med(lo, "rss_sum_kib") / 1024, med(hi, "rss_sum_kib") / 1024,
                  (med(hi, "rss_sum_kib") - med(lo, "rss_sum_kib")) /
                  (hi["workers"] - lo["workers"])))
    plot_sweep(s, "scale", "scale: %d URLs at 100 ms, keep-alive" % n,
               s.cores_line(), rows, ideal={"urls": n, "delay_ms": 100})


# --- throughput --------------------------------------------------------------

def throughput(s, args, with_header=True):
    """The Django mix with no delay, 64 in flight, keep-alive: the engines
    and every peer, interleaved in rounds.
    """
    quick = os.environ.get("FB_BENCH_QUICK") == "1"
    if with_header:
        s.header("the Django mix, no delay, 64 in flight, keep-alive")
    origin = s.start_origin(0)
    pages = s.corpus_pages(origin)
    n = pages if quick else pages * -(-5000 // pages)
    url_file, urls = s.url_list(origin, "urls-throughput", n)
    paths = os.path.join(s.work, "paths-throughput.txt")
    with open(paths, "w") as f:
        f.write("\n".join(u[len(origin):] for u in urls) + "\n")
    w = 64
    engines = ["--pages", str(n), "--connection", "reuse", "--workers",
               str(w)]
    contenders = [compare_contender(s, origin, engines)]
    contenders += [
        peer_contender(("peer", "curl --parallel", w), peers.curl_parallel,
                       urls, w, False, s.work),
        peer_contender(("peer", "xargs curl -n 20", w), peers.xargs_curl,
                       url_file, n, w, 20, s.work),
        peer_contender(("peer", "multi-poll", w), peers.multi_poll,
                       args.multi_poll, url_file, n, w, False)]
    for mode in ("threads", "processes"):
        contenders.append(peer_contender(
            ("peer", "python %s" % mode, w), peers.python_original,
            args.original, sys.executable, url_file, mode, w, "reuse", None))
    if args.wrk_script:
        contenders.append(peer_contender(
            ("peer", "wrk", w), peers.wrk, args.wrk_script, origin, paths, w,
            1 if quick else 3))
    log("throughput: %d pages, warm-up, then %d rounds" % (
        n, repeats(3, 1)))
    s.compare(["--pages", str(n), "--connection", "reuse", "--engines",
               "async", "--workers", str(w), "--repeat", "1"], origin)
    got = run_rounds(s, repeats(3, 1), contenders)
    rows = rows_of(s, "throughput", got, n, "reuse", None)
    s.say()
    s.say("throughput: %d pages of the mix (%d-page corpus), no delay, %d in "
          "flight, keep-alive; median of %d rounds:" % (n, pages, w,
                                                       repeats(3, 1)))
    for line in render(rows, THROUGHPUT_COLUMNS):
        s.say(line)
    for line in timing_note(rows):
        s.say(line)
    s.say("note: wrk runs for a fixed time over the same paths (its pages/s "
          "is its request rate); python: http.client keep-alive per thread "
          "or process")
    for line in ratio_lines(rows, "req_per_s", "higher", "pages/s"):
        s.say(line)
    for line in ratio_lines(rows, "cpu_per_req_ms", "lower", "CPU per page"):
        s.say(line)
    for r in rows:
        if r.get("note"):
            s.say("  %s: %s" % (r["client"], r["note"]))
    plot_sweep(s, "throughput", "throughput: %d pages, no delay, keep-alive"
               % n, s.cores_line(), [dict(r, label="%s (%d)" % (
                   r["client"], r["workers"])) for r in rows], bars=True)
    return rows


# --- peers -------------------------------------------------------------------

def peers_suite(s, args):
    quick = os.environ.get("FB_BENCH_QUICK") == "1"
    s.header("the seed workload at 70 ms and the throughput workload, "
             "engines beside the programs users would pick instead")
    origin = s.start_origin(70)
    url_file, urls = s.url_list(origin, "urls-seed")
    n = len(urls)
    workers = (1, 4, 16) if quick else SEED_WORKERS
    contenders = [compare_contender(
        s, origin, ["--seed-pages", "--delay", "70", "--connection", "fresh",
                    "--workers", ",".join(map(str, workers))])]
    contenders.append(peer_contender(
        ("peer", "python sequential", 1), peers.python_original,
        args.original, sys.executable, url_file, "sequential", 1, "fresh",
        70))
    for w in workers:
        contenders += [
            peer_contender(("peer", "curl --parallel", w),
                           peers.curl_parallel, urls, w, True, s.work),
            peer_contender(("peer", "xargs curl", w), peers.xargs_curl,
                           url_file, n, w, 1, s.work)]
        for mode in ("threads", "processes"):
            contenders.append(peer_contender(
                ("peer", "python %s" % mode, w), peers.python_original,
                args.original, sys.executable, url_file, mode, w, "fresh",
                70))
    k = repeats(5, 2)
    log("peers: seed workload, %d rounds" % k)
    got = run_rounds(s, k, contenders)
    rows = rows_of(s, "peers-seed", got, n, "fresh", 70)
    s.say()
    s.say("seed workload: the original's %d pages at 70 ms, fresh "
          "connections, workers %s; median of %d rounds:" % (
              n, "/".join(map(str, workers)), k))
    asyncs = {r["workers"]: r for r in rows if r["client"] == "async"}
    extra = (("x async", 7, lambda r: "%.2fx" % (
        med(r, "wall_s") / med(asyncs[r["workers"]], "wall_s"))
        if r["workers"] in asyncs else "-"),
        ("parent CPU s", 12, parent_cpu))
    rows.sort(key=lambda r: (r["workers"], r["type"], ENGINES.index(
        r["client"]) if r["client"] in ENGINES else 0, r["client"]))
    for line in render(rows, LATENCY_COLUMNS, extra):
        s.say(line)
    for line in timing_note(rows):
        s.say(line)
    s.say("note: \"x async\" is the wall time over async's at the same "
          "workers; \"parent CPU s\" leaves the children out, as the "
          "original's CPU column did; python: urllib, a connection per "
          "request")
    for r in rows:
        if r.get("note"):
            s.say("  %s %d: %s" % (r["client"], r["workers"], r["note"]))
    plot_sweep(s, "peers-seed", "peers on the seed workload: %d pages at "
               "70 ms, fresh connections" % n, s.cores_line(), rows,
               ideal={"urls": n, "delay_ms": 70})
    s.say()
    throughput(s, args, with_header=False)


SUITES = {"seed": seed, "scale": scale, "throughput": throughput,
          "peers": peers_suite}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", choices=sorted(SUITES))
    ap.add_argument("--fetchbench", required=True)
    ap.add_argument("--out", required=True,
                    help="results root: DIR/SUITE/ is (re)written")
    ap.add_argument("--original", help="bench/peers/original.py")
    ap.add_argument("--wrk-script", help="a wrk Lua script walking a path "
                    "list (bench/bench-origin.lua)")
    ap.add_argument("--multi-poll", help="the multi-poll bench program")
    args = ap.parse_args()
    quick = os.environ.get("FB_BENCH_QUICK") == "1"
    s = Suite(args.suite, args.fetchbench, args.out, quick)
    if args.original is not None and not os.path.exists(args.original):
        args.original = None
    peers.CLIENT_CPU = s.client_cpu
    try:
        SUITES[args.suite](s, args)
    except Exception as exc:  # the machinery broke: say what, fail
        log(traceback.format_exc().rstrip())
        log("%s: %s: %s" % (args.suite, type(exc).__name__, exc))
        s.failed = True
    finally:
        s.stop_origins()
    return s.finish()


if __name__ == "__main__":
    sys.exit(main())
