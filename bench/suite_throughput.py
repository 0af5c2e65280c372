# SPDX-License-Identifier: MIT
"""The suites that put the engines beside the programs users would pick
instead, in interleaved rounds on the same URL list:

  throughput  the Django mix, no delay, 64 in flight, keep-alive: pages/s
              and CPU per page of every engine and every peer
  peers       the seed workload at 70 ms (fresh connections, workers
              1/2/4/8/16), then the throughput workload
"""

import peer
from harness import QUICK, log, med, repeats, suite
from rounds import (compare_contender, engine_order, parent_cpu,
                    peer_contender, ratio_lines, rows_of, run_rounds)
from suite_latency import SEED_WORKERS
from table import LATENCY_COLUMNS, THROUGHPUT_COLUMNS, render, timing_note


def python_peers(s, w, workers):
    """The Python contenders at this concurrency: the original's two pools,
    asyncio with aiohttp, threads with requests."""
    out = [peer_contender("python %s" % m, workers, peer.python_original,
                          s, w, m, workers) for m in ("threads", "processes")]
    return out + [
        peer_contender("python asyncio", workers, peer.python_asyncio, s, w,
                       workers),
        peer_contender("python requests", workers, peer.python_requests, s,
                       w, workers)]


@suite("throughput")
def throughput(s, with_header=True):
    """The Django mix with no delay, 64 in flight, keep-alive: the engines
    and every peer, interleaved in rounds.
    """
    if with_header:
        s.header("the Django mix, no delay, 64 in flight, keep-alive")
    o = s.start_origin("--delay", "0")
    origin = o.url
    pages = sum(1 for p in o.index() if p.endswith(".html"))
    n = pages if QUICK else pages * -(-5000 // pages)
    w = s.workload("throughput", origin, "reuse", pages=n)
    k = 64
    contenders = [compare_contender(s, origin, [
        "--pages", str(n), "--connection", "reuse", "--workers", str(k)])]
    contenders += [
        peer_contender("curl --parallel", k, peer.curl_parallel, s, w, k),
        peer_contender("xargs curl -n 20", k, peer.xargs_curl, s, w, k, 20),
        peer_contender("multi-poll", k, peer.multi_poll, s, w, k)]
    contenders += python_peers(s, w, k)
    contenders.append(peer_contender(
        "wrk", k, peer.wrk, s, origin, w.paths_file(s), k, 1 if QUICK else 3))
    rounds = repeats(3, 1)
    log("throughput: %d pages, a warm-up (the engines' reference sizes), "
        "then %d rounds" % (n, rounds))
    s.reference(w)
    rows = rows_of(s, "throughput", run_rounds(rounds, contenders), w)
    s.say()
    s.say("throughput: %d pages of the mix (%d-page corpus), no delay, %d in "
          "flight, keep-alive; median of %d rounds:" % (n, pages, k, rounds))
    for line in render(rows, THROUGHPUT_COLUMNS):
        s.say(line)
    for line in timing_note(rows):
        s.say(line)
    s.say("note: wrk runs for a fixed time over the same paths (its pages/s "
          "is its request rate); python threads/processes: http.client "
          "keep-alive per thread or process; body sizes checked against the "
          "engines' where a peer reports them")
    for line in ratio_lines(rows, "req_per_s", "higher", "pages/s"):
        s.say(line)
    for line in ratio_lines(rows, "cpu_per_req_ms", "lower", "CPU per page"):
        s.say(line)
    for r in rows:
        if r.get("note"):
            s.say("  %s: %s" % (r["client"], r["note"]))
    s.plot("throughput", "throughput: %d pages, no delay, keep-alive" % n,
           rows, names=("pages", "cpu", "rss"))
    return rows


@suite("peers")
def peers(s):
    s.header("the seed workload at 70 ms and the throughput workload, "
             "engines beside the programs users would pick instead")
    origin = s.start_origin("--delay", "70").url
    w = s.workload("seed", origin, "fresh", delay_ms=70)
    workers = (1, 4, 16) if QUICK else SEED_WORKERS
    contenders = [compare_contender(
        s, origin, ["--seed-pages", "--delay", "70", "--connection", "fresh",
                    "--workers", ",".join(map(str, workers))])]
    contenders.append(peer_contender(
        "python sequential", 1, peer.python_original, s, w, "sequential", 1))
    for k in workers:
        contenders += [
            peer_contender("curl --parallel", k, peer.curl_parallel, s, w, k),
            peer_contender("xargs curl", k, peer.xargs_curl, s, w, k, 1)]
        contenders += python_peers(s, w, k)
    rounds = repeats(5, 2)
    log("peers: seed workload, %d rounds" % rounds)
    s.reference(w)
    rows = rows_of(s, "peers-seed", run_rounds(rounds, contenders), w)
    s.say()
    s.say("seed workload: the original's %d pages at 70 ms, fresh "
          "connections, workers %s; median of %d rounds:" % (
              w.n, "/".join(map(str, workers)), rounds))
    asyncs = {r["workers"]: r for r in rows if r["client"] == "async"}
    extra = (("x async", 7, lambda r: "%.2fx" % (
        med(r, "wall_s") / med(asyncs[r["workers"]], "wall_s"))
        if r["workers"] in asyncs else "-"),
        ("parent CPU s", 12, parent_cpu))
    rows.sort(key=lambda r: (r["workers"], r["type"],
                             engine_order(r["client"])))
    for line in render(rows, LATENCY_COLUMNS, extra):
        s.say(line)
    for line in timing_note(rows):
        s.say(line)
    s.say("note: \"x async\" is the wall time over async's at the same "
          "workers; \"parent CPU s\" leaves the children out, as the "
          "original's CPU column did; python threads/processes: urllib, a "
          "connection per request")
    for r in rows:
        if r.get("note"):
            s.say("  %s %d: %s" % (r["client"], r["workers"], r["note"]))
    s.plot("peers-seed", "peers on the seed workload: %d pages at 70 ms, "
           "fresh connections" % w.n, rows)
    s.say()
    throughput(s, with_header=False)
