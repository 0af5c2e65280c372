# SPDX-License-Identifier: MIT
"""The open-loop suites (issue 16): requests that arrive on a schedule,
whether or not the client is ready for them, and the latency counted from
when each was due (corrected), so that a model's queue shows.

  rate           the origin at 100 ms (http, keep-alive, the Django mix); a
                 geometric ladder of rates from 100/s (x sqrt 2 a step) for
                 threads (16, 256), processes (16, 64), async (1,000) and
                 raw and uring (1,000): each model's knee, the highest rate
                 whose corrected p99 stays within 200 ms, from the verdicts
                 of `fetchbench compare --rate LIST --slo-ms 200`; a model
                 climbs until a rate goes over
  rate-schedule  schedule accuracy: at 1,000/s on a fast origin (issue 16's
                 goals: the rate within 1 %, |start - due| p99 <= 1 ms for
                 async, 2 ms for threads); at 10,000/s and 100 ms, async's
                 rate asked and achieved, how late requests started (queue
                 p99 = |start - due| p99) and how many were late, beside
                 artillery (npm registry), an open-model load generator, on
                 the same origin and pages, or the reason it could not run
"""

import json
import math
import os
import shutil
import subprocess
import urllib.parse

from harness import (QUICK, Workload, corpus_urls, log, med, repeats,
                     skipped, spawn, suite, tool)
from rounds import engine_order

DELAY = 100
SLO_MS = 200
LOOP_WORKERS = 1000
# The models and their worker counts: (engine, workers).
MODELS = (("threads", (16, 256)), ("processes", (16, 64)),
          ("async", (LOOP_WORKERS,)), ("raw", (LOOP_WORKERS,)),
          ("uring", (LOOP_WORKERS,)))


def ladder(quick):
    """Rates from 100/s up to 12,800/s, x sqrt(2) a step, in bands of four:
    a band is one compare run per engine, its URL count set by its highest
    rate. Quick: one band of two rates."""
    if quick:
        return [[100, 800]]
    rates = [round(100 * math.sqrt(2) ** i) for i in range(15)]
    return [rates[i:i + 4] for i in range(0, len(rates), 4)]


def fmt_rate(r):
    return "%g" % r


@suite("rate")
def rate(s):
    s.header("open loop, the origin at %d ms (http, keep-alive, the Django "
             "mix): each model's knee at corrected p99 <= %d ms" % (DELAY,
                                                                  SLO_MS))
    o = s.start_origin("--delay", str(DELAY))
    seconds = 0.25 if QUICK else 4
    bands = ladder(QUICK)
    climbing = {(e, w) for e, ws in MODELS if s.has_engine(e) for w in ws
                if not QUICK or w in (16, LOOP_WORKERS)}
    knees = {}   # (engine, workers) -> (rate, corrected p99) within the SLO
    over = {}    # (engine, workers) -> the first rate over it
    rows = []
    k = repeats(1, 1)
    s.say("ladder: %s requests/s; each band's URL count is its highest rate "
          "x %g s (at least 200), so that a rate the model cannot keep "
          "builds a queue; %d run%s per cell" % (
              ", ".join(fmt_rate(r) for b in bands for r in b), seconds, k,
              "s" if k > 1 else ""))
    for band in bands:
        if not climbing:
            break
        n = max(200, int(band[-1] * seconds))
        for engine in sorted({e for e, _ in climbing}, key=engine_order):
            workers = sorted(w for e, w in climbing if e == engine)
            log("rate: %s at %s workers, rates %s, %d URLs" % (
                engine, ",".join(map(str, workers)),
                ",".join(map(fmt_rate, band)), n))
            cells, verdict, _ = s.compare(
                ["--pages", str(n), "--delay", str(DELAY), "--connection",
                 "reuse", "--engines", engine, "--workers",
                 ",".join(map(str, workers)), "--rate",
                 ",".join(map(fmt_rate, band)), "--slo-ms", str(SLO_MS),
                 "--repeat", str(k)], o.url)
            for c in cells:
                r = s.engine_row("rate", c)
                r["slo_ms"] = SLO_MS
                r["within_slo"] = (med(r, "corrected_p99_ms") or math.inf) \
                    <= SLO_MS
                rows.append(r)
                s.add(r)
            for knee in (verdict or {}).get("knees", []):
                key = (knee["engine"], knee["workers"])
                if knee.get("rate") is not None:
                    knees[key] = (knee["rate"], knee["corrected_p99_ms"])
                if knee.get("over_at_rate") is not None:
                    over[key] = knee["over_at_rate"]
                    climbing.discard(key)
    rows.sort(key=lambda r: (engine_order(r["client"]), r["workers"],
                             r["rate"]))
    s.say()
    s.say("%-10s %7s %8s %5s %9s %9s %14s %10s %8s %6s  %s" % (
        "engine", "workers", "rate/s", "runs", "p50 ms", "p99 ms",
        "p99 corr ms", "CPU/req ms", "req/s", "errors", "within"))
    for r in rows:
        s.say("%-10s %7d %8s %5d %9.1f %9.1f %14.1f %10.3f %8.0f %6d  %s" % (
            r["client"], r["workers"], fmt_rate(r["rate"]), r["runs"],
            med(r, "latency_p50_ms") or math.nan,
            med(r, "latency_p99_ms") or math.nan,
            med(r, "corrected_p99_ms") or math.nan,
            med(r, "cpu_per_req_ms") or math.nan,
            med(r, "req_per_s") or math.nan, r["errors"],
            "yes" if r["within_slo"] else "NO"))
    s.say()
    s.say("knees (the highest rate whose corrected p99 stayed within %d ms, "
          "from compare's verdicts):" % SLO_MS)
    for e, ws in MODELS:
        for w in ws:
            key = (e, w)
            if not any(r["client"] == e and r["workers"] == w for r in rows):
                continue
            knee = knees.get(key)
            line = {"bench": "rate-knee", "engine": e, "workers": w,
                    "slo_ms": SLO_MS, "delay_ms": DELAY,
                    "knee_rate": knee[0] if knee else None,
                    "knee_corrected_p99_ms": knee[1] if knee else None,
                    "over_at_rate": over.get(key),
                    "capacity": w * 1000 / DELAY}
            if knee is None:
                text = "over %d ms at every rate tried (from %s/s)" % (
                    SLO_MS, fmt_rate(bands[0][0]))
            else:
                text = "%s/s (corrected p99 %.1f ms)" % (
                    fmt_rate(knee[0]), knee[1])
                text += "; over at %s/s" % fmt_rate(over[key]) \
                    if key in over else "; within at every rate tried " \
                    "(the ladder's top is not its limit)"
            s.say("  %-10s %5d in flight (at most %.0f/s at %d ms): %s" % (
                e, w, line["capacity"], DELAY, text))
            s.add_extra(line)
    # fetchbench's one plot generator draws an open-loop sweep against the
    # rate asked: corrected p99, a line per engine and workers.
    drawn = s.plot("rate", "open loop, origin at %d ms; corrected p99 within "
                   "%d ms is the knee" % (DELAY, SLO_MS), rows,
                   names=("p99", "cpu", "rss"))
    if drawn:
        s.say()
        s.say("plots: %s" % ", ".join(os.path.basename(f) for f in drawn))


# --- schedule accuracy -------------------------------------------------------

RATE = 10000
ARTILLERY = "artillery@2.0.21"


def artillery_bin(s):
    """artillery from the npm registry, installed once below the results
    root (.tools/artillery): (its path, Node's version); the path None
    after one line saying why not."""
    npm = tool("npm")
    if npm is None:
        return None, None
    node = subprocess.run(["node", "--version"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT).stdout.decode().strip()
    where = os.path.join(s.tools_dir, "artillery")
    exe = os.path.join(where, "node_modules", ".bin", "artillery")
    if os.access(exe, os.X_OK):
        return exe, node
    os.makedirs(where, exist_ok=True)
    log("rate-schedule: npm install %s (once, into %s)" % (ARTILLERY, where))
    # Its browser engine's Chromium comes from a CDN, not the npm registry:
    # not needed for HTTP, and not downloaded.
    env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    try:
        p = subprocess.run([npm, "install", "--no-audit", "--no-fund",
                            "--prefix", where, ARTILLERY],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=900, env=env)
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired:
        out, rc = "npm install took over 900 s", None
    if rc != 0 or not os.access(exe, os.X_OK):
        errs = [x for x in out.splitlines() if "ERR" in x] or \
            out.strip().splitlines()[-1:]
        skipped("artillery could not be installed (npm install %s, Node %s, "
                "exit %s): %s" % (ARTILLERY, node, rc,
                                  (errs[-1] if errs else "?")[:300]),
                "artillery")
        shutil.rmtree(where, ignore_errors=True)
        return None, node
    return exe, node


ARTILLERY_CONF = """config:
  target: "%(target)s"
  phases:
    - duration: %(seconds)d
      arrivalRate: %(rate)d
  http:
    timeout: 30
    pool: %(pool)d
  payload:
    path: "%(paths)s"
    fields: ["path"]
    order: sequence
scenarios:
  - flow:
      - get:
          url: "{{ path }}"
"""


def artillery_run(s, exe, o, paths, seconds, pool):
    """artillery at RATE arrivals a second for seconds against o, each
    arrival one GET of the next path, over a pool of connections: its
    figures, or None after saying why."""
    csv = s.write_list("artillery-paths", paths)
    conf = os.path.join(s.work, "artillery.yml")
    with open(conf, "w") as f:
        f.write(ARTILLERY_CONF % {"target": o.url, "seconds": seconds,
                                  "rate": RATE, "pool": pool, "paths": csv})
    report = os.path.join(s.work, "artillery.json")
    limit = 120 if QUICK else 600
    t = spawn([exe, "run", "--quiet", "--output", report, conf],
              s.client_cpu, timeout=limit)
    if t.timed_out or t.status != 0 or not os.path.exists(report):
        skipped("artillery ran but gave no report (%s): %s" % (
            "killed after %d s" % limit if t.timed_out else
            "exit %s" % t.status, t.last_line()), "artillery-run")
        return None
    with open(report) as f:
        agg = json.load(f)["aggregate"]
    c, rt = agg["counters"], agg["summaries"].get("http.response_time", {})
    span_s = (agg["lastCounterAt"] - agg["firstCounterAt"]) / 1000
    return {"requests": c.get("http.requests", 0),
            "ok": c.get("http.codes.200", 0),
            "failed": c.get("vusers.failed", 0),
            "request_rate": agg.get("rates", {}).get("http.request_rate"),
            "span_s": span_s, "wall_s": t.wall_s, "cpu_s": t.cpu_s,
            "p50_ms": rt.get("p50"), "p99_ms": rt.get("p99"),
            "version": ARTILLERY}


# Issue 16's schedule on a fast origin: (engine, goal for the p99 of
# start - due in ms, None: reported only).
ON_TIME = (("async", 1.0), ("threads", 2.0), ("raw", None), ("uring", None))


def on_time(s):
    """1,000 requests/s for 2 s against the origin with no delay, 64 in
    flight: the rate achieved within 1 % of the rate asked, and |start -
    due| p99 within 1 ms for async, 2 ms for threads (issue 16)."""
    o = s.start_origin()
    n, rate, workers = 2000, 1000, 64
    w = Workload(s, "on-time", o.url, corpus_urls(o, n), "reuse")
    s.say("the schedule on a fast origin: %d requests due at %d/s (every "
          "page of the corpus, no delay), %d in flight, keep-alive" % (
              n, rate, workers))
    for engine, goal in ON_TIME:
        if not s.has_engine(engine):
            continue
        _, doc = s.run(w.args(engine, workers) + ["--rate", str(rate)])
        if doc["ok"] != n:
            s.fail("%s: %d of %d requests failed" % (engine, n - doc["ok"],
                                                      n))
        q = doc["queue_ms"]
        off = doc["rate_achieved"] / doc["rate_asked"] - 1
        line = {"bench": "rate-on-time", "engine": engine,
                "workers": workers, "urls": n, "rate_asked":
                doc["rate_asked"], "rate_achieved": doc["rate_achieved"],
                "rate_off": off, "queue_p50_ms": q["p50"],
                "queue_p99_ms": q["p99"], "queue_max_ms": q["max"],
                "late": doc["late"], "rate_goal": 0.01,
                "rate_result": "met" if abs(off) <= 0.01 else "MISSED"}
        text = "  %-8s achieved %.1f/s (%+.2f %%: %s), |start - due| p50 " \
            "%.3f ms, p99 %.3f ms" % (engine, doc["rate_achieved"],
                                      off * 100, line["rate_result"],
                                      q["p50"], q["p99"])
        if goal is not None:
            line.update(queue_p99_goal_ms=goal, queue_p99_result="met"
                        if q["p99"] <= goal else "MISSED")
            text += " (goal <= %g ms: %s)" % (goal, line["queue_p99_result"])
        s.say(text + "; %d started over 1 ms late" % doc["late"])
        s.add_extra(line)
    s.say()


@suite("rate-schedule")
def rate_schedule(s):
    workers = 2 * LOOP_WORKERS
    seconds = 1 if QUICK else 3
    n = RATE * seconds
    s.header("schedule accuracy: 1,000/s on a fast origin, then %d/s at "
             "%d ms, async (%d in flight) beside artillery" % (
                 RATE, DELAY, workers))
    on_time(s)
    o = s.start_origin("--delay", str(DELAY))
    small = [p for p, size in s.page_sizes(o) if size <= 4096]
    w = Workload(s, "schedule", o.url, corpus_urls(o, n, "?delay=%d" % DELAY,
                                                   small), "reuse", DELAY)
    s.say("%d small pages (<= 4 KiB) at %d ms, due uniformly at %d/s (%d s), "
          "keep-alive; %d in flight, twice what %d/s needs at %d ms, so "
          "that a late start is the schedule's and not a lack of slots" % (
              n, DELAY, RATE, seconds, workers, RATE, DELAY))
    _, doc = s.run(w.args("async", workers) + ["--rate", str(RATE)])
    if doc["ok"] != n:
        s.fail("async: %d of %d requests failed" % (n - doc["ok"], n))
    q, c, lat = doc["queue_ms"], doc["corrected_ms"], doc["latency_ms"]
    achieved = doc["rate_achieved"]
    s.say("  async: asked %.0f/s, achieved %.0f/s (%.3f); |start - due| "
          "p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d of %d started more "
          "than 1 ms late; latency p99 %.1f ms from the start, %.1f ms from "
          "the due time" % (doc["rate_asked"], achieved,
                            achieved / doc["rate_asked"], q["p50"], q["p99"],
                            q["max"], doc["late"], n, lat["p99"], c["p99"]))
    s.add_extra({"bench": "rate-schedule", "client": "async",
                 "workers": workers, "urls": n, "rate_asked":
                 doc["rate_asked"], "rate_achieved": achieved,
                 "achieved_fraction": achieved / doc["rate_asked"],
                 "queue_p50_ms": q["p50"], "queue_p99_ms": q["p99"],
                 "queue_max_ms": q["max"], "late": doc["late"],
                 "latency_p99_ms": lat["p99"], "corrected_p99_ms": c["p99"],
                 "ok": doc["ok"], "cpu_per_req_ms": doc["cpu_per_req_ms"]})
    exe, node = artillery_bin(s)
    if exe is None:
        return
    paths = [urllib.parse.urlsplit(u).path + "?delay=%d" % DELAY
             for u in w.urls[:len(small)]]
    m = artillery_run(s, exe, o, paths, seconds, workers)
    if m is None:
        return
    stretch = m["span_s"] / (seconds + DELAY / 1000)
    s.say("  artillery (%s, Node %s, pool of %d connections): %d arrivals "
          "asked in %d s; %d requests, %d answered 200, %d failed; its "
          "request rate %s/s; first to last event %.2f s (%.1fx the "
          "schedule's); response time p50 %s ms, p99 %s ms (from when it "
          "sent, not from when due: artillery does not report lateness); "
          "%.2f s CPU" % (
              m["version"], node, workers, n, seconds, m["requests"],
              m["ok"], m["failed"], m["request_rate"], m["span_s"], stretch,
              m["p50_ms"], m["p99_ms"], m["cpu_s"]))
    achieved_art = m["requests"] / m["span_s"] if m["span_s"] else None
    s.add_extra({"bench": "rate-schedule", "client": "artillery",
                 "version": m["version"], "node": node,
                 "pool": workers, "urls": n,
                 "rate_asked": RATE, "rate_achieved": achieved_art,
                 "artillery_request_rate": m["request_rate"],
                 "span_s": m["span_s"], "stretch": stretch,
                 "requests": m["requests"], "ok": m["ok"],
                 "failed": m["failed"], "latency_p50_ms": m["p50_ms"],
                 "latency_p99_ms": m["p99_ms"], "cpu_s": m["cpu_s"],
                 "wall_s": m["wall_s"]})
    if achieved_art:
        s.say("  achieved rate (requests over first to last event): async "
              "%.0f/s, artillery %.0f/s, %.2f of the %d/s asked" % (
                  achieved, achieved_art, achieved_art / RATE, RATE))
