# SPDX-License-Identifier: MIT
"""The loop engines on the client core (issue 14): raw (libuv + the HTTP/1.1
client core) and uring (io_uring + the same core) beside async, the
plainest clients and wrk, over http. An engine this fetchbench does not
have (uring before it lands, or where the system refuses io_uring) is left
out with one line.

  loops-throughput  the Django mix, no delay, 64 in flight, keep-alive:
                    pages/s of raw, uring, async, multi-poll and wrk in the
                    same rounds; goals raw >= 0.9x wrk, uring >= 1.0x wrk
                    (ratios per round)
  loops-latency     10,000 small pages at 100 ms, 1,000 in flight: raw,
                    uring and async beside raw-client (the raw-socket
                    floor); goal efficiency >= 0.97 for raw and uring
  loops-memory      peak RSS per in-flight transfer at 5,000 in flight (as
                    async-memory measures it): goal <= 8 KiB for raw and
                    uring, async beside (its own goal, 32)
  loops-scale       100,000 small pages at 100 ms with 10,000 in flight:
                    goal efficiency >= 0.9 for raw and uring; async,
                    threads and processes on the same work at the most they
                    take
  loops-syscalls    system calls per request at steady keep-alive state
                    (strace -f -c; a run of N URLs subtracted from one of
                    2N): raw, uring (io_uring_enter) and async
"""

import peer
from harness import (QUICK, Workload, corpus_urls, ideal_of, open_files,
                     proc_cpu_s, repeats, stat, suite, tool)
from rounds import peer_contender, peer_row, run_rounds
from suite_async import calls_n_2n, judged, memory_per_transfer, span
from table import THROUGHPUT_COLUMNS, render

LOOPS = ("raw", "uring")


def loops(s):
    """The loop engines this fetchbench has (saying which it has not)."""
    return [e for e in LOOPS if s.has_engine(e)]


def features(s, engine, doc):
    """Says once what the engine ran with (the JSON's engine_features, for
    uring: which io_uring features, and any fallback)."""
    f = doc.get("engine_features") if doc else None
    key = "features " + engine
    if f and key not in getattr(s, "said_features", set()):
        s.said_features = getattr(s, "said_features", set()) | {key}
        s.say("  %s ran with: %s" % (engine, f))
        s.add_extra({"bench": "engine-features", "engine": engine,
                     "engine_features": f})


def small_paths(s, o, limit=4096):
    """The corpus pages of at most limit bytes (sizes from one pass)."""
    return [p for p, n in s.page_sizes(o) if n <= limit]


# --- throughput --------------------------------------------------------------

def engine_in_process(s, w, engine, workers):
    """An engine as a peer (`fetchbench run`, CPU and RSS from wait4), its
    pages/s from the run's own wall time, as wrk's rate is its own."""
    m = peer.fetchbench_run(s, w, engine, workers)
    m["external_req_per_s"] = m["req_per_s"]
    m["req_per_s"] = w.n / m["run_s"]
    features(s, engine, m)
    return m


@suite("loops-throughput")
def loops_throughput(s):
    k = 64
    s.header("the Django mix, no delay, %d in flight, keep-alive: the loop "
             "engines beside async, multi-poll and wrk" % k)
    o = s.start_origin("--delay", "0")
    pages = sum(1 for p in o.index() if p.endswith(".html"))
    n = pages if QUICK else pages * -(-5000 // pages)
    w = s.workload("throughput", o.url, "reuse", pages=n)
    engines = loops(s) + ["async"]
    contenders = [peer_contender(e, k, engine_in_process, s, w, e, k)
                  for e in engines]
    contenders += [
        peer_contender("multi-poll", k, peer.multi_poll, s, w, k),
        peer_contender("wrk", k, peer.wrk, s, o.url, w.paths_file(s), k,
                       1 if QUICK else 3)]
    rounds = repeats(5, 1)
    s.reference(w)  # a warm-up, and the sizes multi-poll's are checked by
    got = run_rounds(rounds, contenders)
    rows = []
    for key, ms in got.items():
        r = peer_row(s, "loops-throughput", key, ms, w)
        if r["client"] in engines:
            r["type"], r["timing"] = "engine", "in-process wall"
        rows.append(r)
        s.add(r)
    s.say()
    s.say("throughput: %d pages of the mix (%d-page corpus), no delay, %d in "
          "flight, keep-alive; median of %d rounds:" % (n, pages, k, rounds))
    for line in render(rows, THROUGHPUT_COLUMNS):
        s.say(line)
    s.say("note: the engines' pages/s from their own run (fetchbench run's "
          "wall), as wrk's is its own rate over a fixed time; their CPU, "
          "and multi-poll's figures, from wait4 (start-up included); the "
          "engines checksum every body, wrk parses only the heads")
    for r in rows:
        if r.get("note"):
            s.say("  %s: %s" % (r["client"], r["note"]))
        if r["errors"]:
            s.fail("%s: %d errors" % (r["client"], r["errors"]))
    wrk = [m["req_per_s"] for m in got.get(("peer", "wrk", k), [])]
    for e, goal in (("raw", 0.9), ("uring", 1.0), ("async", None)):
        mine = [m["req_per_s"] for m in got.get(("peer", e, k), [])]
        if not mine or len(mine) != len(wrk):
            continue
        r = stat(a / b for a, b in zip(mine, wrk))
        line = {"bench": "loops-throughput-ratio", "engine": e,
                "over_wrk": r["median"], "min": r["min"], "max": r["max"],
                "rounds": rounds}
        text = "%s / wrk pages/s: %s per round" % (e, span(r, "%.2f",
                                                           unit="x"))
        if goal is not None:
            line.update(goal=goal, result=judged(r["median"], goal, True))
            text += " (goal >= %.1f: %s)" % (goal, line["result"])
        s.say(text)
        s.add_extra(line)
    s.plot("loops-throughput", "throughput: %d pages, no delay, keep-alive" %
           n, rows, names=("pages", "cpu", "rss"))


# --- latency -----------------------------------------------------------------

@suite("loops-latency")
def loops_latency(s):
    n, workers, delay = (2000 if QUICK else 10000), 1000, 100
    s.header("%d small pages at %d ms, %d in flight: the loop engines beside "
             "async and raw-client's floor" % (n, delay, workers))
    o = s.start_origin()
    w = Workload(s, "latency", o.url, corpus_urls(
        o, n, "?delay=%d" % delay, small_paths(s, o)), "reuse", delay)
    ideal = ideal_of(n, workers, delay)
    engines = loops(s) + ["async"]

    def engine(e):
        def run():
            _, doc = s.run(w.args(e, workers))
            if doc["ok"] != n:
                s.fail("%s: %d of %d requests failed" % (e, n - doc["ok"], n))
            features(s, e, doc)
            return [(e, {"wall_s": doc["wall_s"],
                         "cpu_per_req_ms": doc["cpu_per_req_ms"]})]
        return run

    def floor():
        m = peer.raw_client(s, w, workers)
        if m is None or not m.get("run_s"):
            return []
        if m["errors"]:
            s.fail("raw-client: %d errors (%s)" % (m["errors"], m.get("note")))
        return [("raw-client", {"wall_s": m["run_s"],
                                "cpu_per_req_ms": m["cpu_per_req_ms"]})]

    rounds = min(repeats(3, 1), 3)
    got = run_rounds(rounds, [engine(e) for e in engines] + [floor])
    s.say("latency-bound: %d small pages (<= 4 KiB) at %d ms, %d in flight, "
          "keep-alive: ideal %.3f s; median of %d rounds [min-max]" % (
              n, delay, workers, ideal, rounds))
    floor_eff = [ideal / m["wall_s"] for m in got.get("raw-client", [])]
    for name, ms in got.items():
        eff = [ideal / m["wall_s"] for m in ms]
        se, sw = stat(eff), stat(m["wall_s"] for m in ms)
        sc = stat(m["cpu_per_req_ms"] for m in ms)
        line = {"bench": "loops-latency", "client": name, "urls": n,
                "workers": workers, "delay_ms": delay, "rounds": rounds,
                "ideal_s": ideal, "wall_s": sw["median"],
                "efficiency": se["median"], "efficiency_min": se["min"],
                "efficiency_max": se["max"],
                "cpu_per_req_ms": sc["median"]}
        text = "  %-11s efficiency %s, wall %s, CPU %s per request" % (
            name, span(se, "%.3f"), span(sw, "%.3f", unit=" s"),
            span(sc, "%.3f", unit=" ms"))
        if name != "raw-client" and len(floor_eff) == len(eff):
            of = stat(a / b for a, b in zip(eff, floor_eff))
            line["of_floor"] = of["median"]
            text += "; %.3f of the floor's" % of["median"]
        if name in LOOPS:
            line.update(goal=0.97, result=judged(se["median"], 0.97, True))
            text += " (goal >= 0.97: %s)" % line["result"]
        s.say(text)
        s.add_extra(line)
    s.say("note: wall times from each run itself (fetchbench's run, "
          "raw-client's from building its requests to the last response)")


# --- memory ------------------------------------------------------------------

@suite("loops-memory")
def loops_memory(s):
    n = 5000
    s.header("peak RSS per in-flight transfer at %d in flight" % n)
    o = s.start_origin()
    for e in loops(s):
        memory_per_transfer(s, o, e, n, 8, "loops-memory")
    memory_per_transfer(s, o, "async", n, 32, "loops-memory")


# --- scale -------------------------------------------------------------------

def tcp_counters():
    """The kernel's TCP counters that say a connection had to be tried
    again: accept-queue overflows and drops (TcpExt) and retransmitted
    segments (Tcp), summed over the machine."""
    got = {}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for names, values in zip(lines[::2], lines[1::2]):
            proto, names = names.split(":", 1)
            for k, v in zip(names.split(), values.split(":", 1)[1].split()):
                got[proto + "." + k] = int(v)
    return {"listen_overflows": got.get("TcpExt.ListenOverflows", 0),
            "listen_drops": got.get("TcpExt.ListenDrops", 0),
            "retrans_segs": got.get("Tcp.RetransSegs", 0)}


def tcp_since(before):
    """tcp_counters() now, less what they were before."""
    return {k: v - before[k] for k, v in tcp_counters().items()}


def kernel_limits():
    """What the kernel allows thousands of loopback connections at once:
    the accept queue (the origin asks for 4096; somaxconn caps it), the SYN
    backlog and the client's local ports."""
    def read(name):
        try:
            with open("/proc/sys/net/" + name) as f:
                return " ".join(f.read().split())
        except OSError:
            return "?"
    return ("net.core.somaxconn %s (caps the origin's accept queue of "
            "4096), net.ipv4.tcp_max_syn_backlog %s, local ports %s" % (
                read("core/somaxconn"), read("ipv4/tcp_max_syn_backlog"),
                read("ipv4/ip_local_port_range")))


def first_starts(rows):
    """When the last slot started its first request, and the mean of the
    slots' first starts (ms from the run's start), from a run's CSV rows.
    No slot works before its first start, so the run needs at least ideal
    + that mean: the fill's bound on efficiency is ideal / (ideal + mean).
    """
    first = {}
    for r in rows:
        if r["start_ms"]:
            w, at = r["worker"], float(r["start_ms"])
            first[w] = min(first.get(w, at), at)
    if not first:
        return 0.0, 0.0
    return max(first.values()), sum(first.values()) / len(first)


@suite("loops-scale")
def loops_scale(s):
    n, k = (5000, 1000) if QUICK else (100000, 10000)
    delay = 100
    s.header("%d small pages at %d ms with %d in flight: the loop engines, "
             "and where async, threads and processes stand" % (n, delay, k))
    # A descriptor per connection on each side, and some to spare.
    need = k + 256
    s.say("client: %s; the origin (started after) inherits it and needs as "
          "many, one per connection, and --max-connections >= %d (its "
          "default is 20000)" % (open_files(need), k))
    s.say("kernel: %s" % kernel_limits())
    o = s.start_origin()
    w = Workload(s, "scale", o.url, corpus_urls(
        o, n, "?delay=%d" % delay, small_paths(s, o)), "reuse", delay)
    most = s.engines()
    cells = [(e, k) for e in loops(s)]
    for e in ("async", "threads", "processes"):
        if s.has_engine(e):
            cells.append((e, min(k, most.get(e) or k)))
    rounds = repeats(3, 1)

    def contender(e, workers):
        def run():
            # What the origin's core and the kernel spent on the run: the
            # best efficiency two cores allow is ideal / the busier core's
            # CPU, and a dropped connection waits a 1 s retransmission.
            cpu0, tcp0 = proc_cpu_s(o.proc.pid), tcp_counters()
            t, doc, rows = s.run_csv(w.args(e, workers), timeout=1800)
            doc["settled_s"] = t.settled_s
            doc["origin_cpu_s"] = proc_cpu_s(o.proc.pid) - cpu0
            doc["tcp"] = tcp_since(tcp0)
            doc["fill_ms"], doc["first_start_ms"] = first_starts(rows)
            if doc["ok"] != n:
                s.fail("%s at %d: %d of %d requests failed" % (
                    e, workers, n - doc["ok"], n))
            features(s, e, doc)
            return [((e, workers), doc)]
        return run

    def floor():
        # The raw-socket floor at the same concurrency: what no client can
        # beat on this machine and origin.
        cpu0, tcp0 = proc_cpu_s(o.proc.pid), tcp_counters()
        m = peer.raw_client(s, w, k)
        if m is None or not m.get("run_s"):
            return []
        if m["errors"]:
            s.fail("raw-client: %d errors (%s)" % (m["errors"], m.get("note")))
        return [(("raw-client", k), {
            "wall_s": m["run_s"], "cpu_per_req_ms": m["cpu_per_req_ms"],
            "max_rss_kib": m["max_rss_kib"], "errors_total": m["errors"],
            "origin_cpu_s": proc_cpu_s(o.proc.pid) - cpu0,
            "tcp": tcp_since(tcp0),
            "fill_ms": None, "first_start_ms": None, "settled_s": 0.0})]

    got = run_rounds(rounds, [contender(e, x) for e, x in cells] + [floor])
    s.say("scale: %d small pages (<= 4 KiB) at %d ms, keep-alive; "
          "median of %d rounds [min-max]; the ideal with %d in flight is "
          "%.1f s" % (n, delay, rounds, k, ideal_of(n, k, delay)))
    s.say("  %-10s %7s %24s %26s %12s %10s %8s %8s %8s %8s %9s" % (
        "engine", "workers", "wall s", "efficiency", "CPU/req ms",
        "RSS MiB", "fill ms", "fill bd", "CPU bd", "retrans", "overflow"))
    floor_docs = got.get(("raw-client", k))
    floor_wall = stat(d["wall_s"] for d in floor_docs)["median"] \
        if floor_docs else None
    for (e, x), docs in got.items():
        ideal = ideal_of(n, x, delay)
        sw = stat(d["wall_s"] for d in docs)
        se = stat(ideal / d["wall_s"] for d in docs)
        sc = stat(d["cpu_per_req_ms"] for d in docs)
        rss = stat(d.get("rss_sum_kib") or d["max_rss_kib"] for d in docs)
        # Neither core can be busier than the run is long.
        bound = stat(ideal / max(d["cpu_per_req_ms"] * n / 1000, ideal,
                                 d["origin_cpu_s"]) for d in docs)
        timed = [d for d in docs if d["fill_ms"] is not None]
        fill = stat(d["fill_ms"] for d in timed) if timed else None
        fill_bound = stat(ideal / (ideal + d["first_start_ms"] / 1000)
                          for d in timed) if timed else None
        settled = stat(d["settled_s"] for d in docs)
        retrans = stat(d["tcp"]["retrans_segs"] for d in docs)
        overflow = stat(d["tcp"]["listen_overflows"] for d in docs)
        line = {"bench": "loops-scale", "engine": e, "workers": x,
                "urls": n, "delay_ms": delay, "rounds": rounds,
                "ideal_s": ideal, "wall_s": sw["median"],
                "wall_min": sw["min"], "wall_max": sw["max"],
                "efficiency": se["median"], "efficiency_min": se["min"],
                "efficiency_max": se["max"], "cpu_per_req_ms": sc["median"],
                "rss_sum_kib": rss["median"],
                "at_its_maximum": x < k,
                "cpu_bound": bound["median"],
                "fill_ms": fill and fill["median"],
                "fill_bound": fill_bound and fill_bound["median"],
                "settled_s": settled["median"],
                "origin_cpu_s": stat(d["origin_cpu_s"] for d in docs)["median"],
                "retrans_segs": retrans["median"],
                "listen_overflows": overflow["median"],
                "errors": sum(d["errors_total"] for d in docs)}
        text = "  %-10s %7d %24s %26s %12.3f %10.1f %8s %8s %8.2f %8d %9d" % (
            e, x, span(sw, "%.2f"), span(se, "%.3f"), sc["median"],
            rss["median"] / 1024,
            "%.0f" % fill["median"] if fill else "-",
            "%.2f" % fill_bound["median"] if fill_bound else "-",
            bound["median"], retrans["median"], overflow["median"])
        if e in LOOPS and floor_wall:
            line["of_floor"] = floor_wall / sw["median"]
            text += "  %.3f of the floor's" % line["of_floor"]
        if e in LOOPS:
            line.update(goal=0.9, result=judged(se["median"], 0.9, True))
            text += "  goal >= 0.9: %s" % line["result"]
        elif e == "raw-client":
            text += "  (the raw-socket floor: sockets only, nothing parsed)"
        elif x < k:
            text += "  (its maximum; %.1fx the %d-in-flight ideal)" % (
                sw["median"] / ideal_of(n, k, delay), k)
        s.say(text)
        s.add_extra(line)
    s.say("note: efficiency = ceil(N / workers) x delay / wall, each at its "
          "own workers; engines that cannot take %d in flight run at the "
          "most they take (`fetchbench --help`)" % k)
    s.say("note: fill ms = when the last slot started its first request; "
          "fill bd = ideal / (ideal + the slots' mean first start): no slot "
          "works before it starts, so no run of that fill does better; "
          "CPU bd = ideal / the busier core's CPU for the run (the "
          "client's, or the origin's): the most efficiency these two cores "
          "allow that engine; retrans and overflow: TCP segments sent again "
          "and accept-queue overflows during the run (machine-wide), each a "
          "connection or request waiting a retransmission timeout (1 s for "
          "a SYN)")
    s.say("note: each run starts once the last run's local ports in "
          "TIME_WAIT may be taken again (net.ipv4.tcp_tw_reuse_delay, "
          "harness.py): back to back, every connect of the next run searches "
          "past them")


# --- system calls ------------------------------------------------------------

@suite("loops-syscalls")
def loops_syscalls(s):
    k = 64
    s.header("system calls per request at steady keep-alive state, %d in "
             "flight" % k)
    strace = tool("strace")
    if strace is None:
        return
    o = s.start_origin()
    n = 500 if QUICK else 2000
    s.say("the Django mix (every page of the corpus), keep-alive, %d in "
          "flight: a run of %d URLs subtracted from one of %d, per "
          "additional request (opening and closing the %d connections, and "
          "start-up, cancel out)" % (k, n, 2 * n, k))
    for e in loops(s) + ["async"]:
        c1, c2 = calls_n_2n(s, strace, o, n, e, k, "reuse")
        per = {name: (c2.get(name, 0) - c1.get(name, 0)) / n
               for name in set(c1) | set(c2)}
        top = sorted(((v, name) for name, v in per.items()
                      if name != "total" and v >= 0.05), reverse=True)
        s.say("  %-6s %6.2f calls per request: %s" % (
            e, per.get("total", 0), ", ".join(
                "%s %.2f" % (name, v) for v, name in top[:6]) or "-"))
        s.add_extra({"bench": "loops-syscalls", "engine": e, "workers": k,
                     "requests": 2 * n, "total_2n": c2.get("total", 0),
                     "per_request": per.get("total", 0),
                     "io_uring_enter_per_request": per.get("io_uring_enter",
                                                           0),
                     "by_call": {name: v for v, name in top}})
