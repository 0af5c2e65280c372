# SPDX-License-Identifier: MIT
"""The https suites (issue 13): what TLS costs each model, fetchbench's TLS
clients beside curl and openssl, and the origin over TLS beside nginx.

  https-seed     the seed workload (the original's ten pages at 70 ms,
                 fresh connections) at 1/2/4/8/16 workers, every engine,
                 over https with the CA store shared, read per connection
                 (off) and per multi handle (curl), and over http, the
                 configurations taking turns round by round: wall,
                 efficiency, CPU per request, handshakes full and resumed
                 (FB_BENCH_RTT gives both origins a round trip)
  https-clients  keep-alive: async (and raw, uring) beside `curl --parallel`
                 on the same list, goal async >= 1.5x curl's pages/s; fresh
                 connections, full handshakes: async's CPU per request
                 beside `openssl s_time -new` fetching the same page from
                 the same origin, goal within 1.2x; both with multi-poll
                 beside, libcurl's floor
  https-origin   the origin over TLS under wrk beside nginx with the same
                 certificate and key: keep-alive requests/s on the Django
                 mix (goal >= 0.8x nginx) and full handshakes per second
                 with a new connection per request (goal >= 0.8x), the
                 servers' CPU per request; memory per idle TLS connection;
                 the path bodies took (SSL_write or kTLS)
"""

import os
import re
import socket
import ssl
import subprocess
import time
import urllib.parse

import peer
from harness import (QUICK, Workload, corpus_urls, med, proc_cpu_s,
                     proc_rss_kib, repeats, skipped, spawn, stat, suite,
                     tool)
from rounds import engine_order, merge_rounds, run_rounds
from suite_async import judged, span
from suite_latency import SEED_WORKERS
from suite_origin import django_root, start_nginx
from table import LATENCY_COLUMNS, render

WORKERS = 64


def checked(s, m, what):
    """A measurement; one with errors fails the suite (a goal rests on
    it)."""
    if m is not None and m.get("errors"):
        s.fail("%s: %d of its requests failed (%s)" % (
            what, m["errors"], m.get("note", "")))
    return m


def ktls_note():
    """Why kTLS can or cannot run here, from the kernel's list of upper
    layer protocols."""
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            ulps = f.read().split()
    except OSError as exc:
        return "the kernel's ULP list is unreadable (%s)" % exc
    if "tls" in ulps:
        return "this kernel offers the tls ULP"
    return ("this kernel has no tls ULP (tcp_available_ulp: %s), so kTLS "
            "cannot run" % (" ".join(ulps) or "empty"))


# --- https-seed --------------------------------------------------------------

# (key, label, https, run/compare options)
SEED_CONFIGS = (
    ("https-shared", "https, CA store shared", True, ["--ca-cache", "shared"]),
    ("https-off", "https, CA read per connection", True,
     ["--ca-cache", "off"]),
    ("https-curl", "https, CA per multi handle", True, ["--ca-cache", "curl"]),
    ("http", "http", False, []),
)


SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"


def trust_store(s, o):
    """The CA file of a user who added the origin's certificate to the
    system's trust (update-ca-certificates): Debian's bundle and the
    origin's certificate, so that reading it per connection costs what it
    costs there. Returns its path and how many certificates it holds; the
    origin's alone where the system has no bundle."""
    with open(o.cafile, "rb") as f:
        mine = f.read()
    try:
        with open(SYSTEM_CA, "rb") as f:
            system = f.read()
    except OSError:
        return o.cafile, mine.count(b"BEGIN CERTIFICATE")
    path = os.path.join(s.work, "trust-store.pem")
    with open(path, "wb") as f:
        f.write(system.rstrip(b"\n") + b"\n" + mine)
    return path, (system + mine).count(b"BEGIN CERTIFICATE")


def seed_handshakes(s, o, cafile, extra, row):
    """One `fetchbench run` of a cell (untimed): its handshakes full and
    resumed and its TLS set-up p50, which compare's cells do not carry."""
    _, doc = s.run(["--origin", o.url, "--cacert", cafile, "--seed-pages",
                    "--delay", "70", "--connection", "fresh", "--engine",
                    row["client"], "--workers", str(row["workers"])] + extra)
    row["handshakes_full"] = doc.get("handshakes_full")
    row["handshakes_resumed"] = doc.get("handshakes_resumed")
    row["tls_p50_ms"] = (doc.get("tls_ms") or {}).get("p50")


def seed_table(s, rows):
    """One line per engine and workers: each configuration's wall, CPU per
    request and the handshakes, and what https costs over http."""
    by = {}
    for r in rows:
        by.setdefault((r["client"], r["workers"]), {})[r["config"]] = r
    keys = sorted(by, key=lambda k: (engine_order(k[0]), k[1]))

    def fig(cfg, key, fmt, scale=1.0):
        def get(k):
            v = med(by[k].get(cfg), key)
            return "-" if v is None else fmt % (v * scale)
        return get

    def eff(cfg):
        def get(k):
            e = (by[k].get(cfg) or {}).get("efficiency")
            return "-" if e is None or e < 0 else "%.0f%%" % (e * 100)
        return get

    def cost(k):
        a, b = med(by[k].get("https-shared"), "cpu_per_req_ms"), \
            med(by[k].get("http"), "cpu_per_req_ms")
        return "%.2fx" % (a / b) if a and b else "-"

    def hs(k):
        r = by[k].get("https-shared") or {}
        if r.get("handshakes_full") is None:
            return "-"
        return "%d/%d" % (r["handshakes_full"], r["handshakes_resumed"])

    cols = [("engine", -10, lambda k: k[0]),
            ("workers", 7, lambda k: str(k[1])),
            ("http s", 7, fig("http", "wall_s", "%.3f")),
            ("https s", 7, fig("https-shared", "wall_s", "%.3f")),
            ("http eff", 8, eff("http")),
            ("https eff", 9, eff("https-shared")),
            ("CPU/req ms: http", 16, fig("http", "cpu_per_req_ms", "%.2f")),
            ("https", 6, fig("https-shared", "cpu_per_req_ms", "%.2f")),
            ("CA off", 6, fig("https-off", "cpu_per_req_ms", "%.2f")),
            ("CA curl", 7, fig("https-curl", "cpu_per_req_ms", "%.2f")),
            ("https/http CPU", 14, cost),
            ("full/resumed", 12, hs)]
    out = ["  ".join(("%-*s" if w < 0 else "%*s") % (abs(w), h)
                     for h, w, _ in cols)]
    for k in keys:
        out.append("  ".join(("%-*s" if w < 0 else "%*s") % (abs(w), fn(k))
                             for _, w, fn in cols))
    return out, by


@suite("https-seed")
def https_seed(s):
    rtt = s.rtt_args()
    s.header("the seed workload (ten pages at 70 ms, fresh connections) "
             "over https and http, every engine%s" % (
                 ", round trip %d ms" % s.rtt_ms if s.rtt_ms else ""))
    tls = s.tls_origin("--delay", "70", *rtt)
    plain = s.server([s.fetchbench, "origin", "--delay", "70", *rtt])
    cafile, ncerts = trust_store(s, tls)
    s.say("# CA file: %d certificates, the system's with the origin's added "
          "(as update-ca-certificates leaves them)" % ncerts)
    configs = [c for c in SEED_CONFIGS if not (QUICK and c[0] == "https-curl")]
    workers = (1, 4, 16) if QUICK else SEED_WORKERS
    base = ["--seed-pages", "--delay", "70", "--connection", "fresh",
            "--workers", ",".join(map(str, workers))]

    def contender(key, https, extra):
        o = tls if https else plain
        args = base + extra + (["--cacert", cafile] if https else [])

        def run():
            cells, _, _ = s.compare(args + ["--repeat", "1"], o.url)
            return [((key, c["engine"], c["workers"]), c) for c in cells]
        return run

    rounds = repeats(5, 1)
    got = run_rounds(rounds, [contender(k, h, x) for k, _, h, x in configs])
    rows = []
    for key, label, https, extra in configs:
        for (k, engine, w), cells in got.items():
            if k != key:
                continue
            r = s.engine_row("https-seed-" + key, merge_rounds(cells))
            r.update(config=key, config_label=label, ca_cache=(
                extra[1] if extra else None), rtt_ms=s.rtt_ms,
                ca_certs=ncerts if https else None)
            if https:
                seed_handshakes(s, tls, cafile, extra, r)
            rows.append(r)
            s.add(r)
    for key, label, _, _ in configs:
        mine = sorted((r for r in rows if r["config"] == key),
                      key=lambda r: (engine_order(r["client"]), r["workers"]))
        s.say()
        s.say("%s: the original's ten pages at 70 ms, fresh connections; "
              "median of %d rounds:" % (label, rounds))
        for line in render(mine, LATENCY_COLUMNS, (
                ("full/resumed", 12, lambda r: "%s/%s" % (
                    r["handshakes_full"], r["handshakes_resumed"])
                 if r.get("handshakes_full") is not None else "-"),)):
            s.say(line)
    s.say()
    s.say("What TLS costs each model (https with the CA store shared beside "
          "http; CPU per request with the CA store read per connection "
          "(off) and per multi handle (curl) beside):")
    lines, by = seed_table(s, rows)
    for line in lines:
        s.say(line)
    s.say("note: handshakes full/resumed from one untimed run of each cell "
          "(compare's cells do not carry them); a new connection per "
          "request, so every request is a handshake: resumed where the "
          "model shares its sessions")
    if s.rtt_ms:
        s.say("note: with a %d ms round trip a fresh http request waits two "
              "round trips and a fresh https one three, besides the 70 ms; "
              "the efficiency's ideal counts the 70 ms only" % s.rtt_ms)
    for (engine, w), cfgs in sorted(by.items(), key=lambda kv: (
            engine_order(kv[0][0]), kv[0][1])):
        a, b = cfgs.get("https-shared"), cfgs.get("http")
        if a is None or b is None:
            continue
        line = {"bench": "https-seed-cost", "engine": engine, "workers": w,
                "rtt_ms": s.rtt_ms,
                "http_wall_s": med(b, "wall_s"),
                "https_wall_s": med(a, "wall_s"),
                "http_cpu_per_req_ms": med(b, "cpu_per_req_ms"),
                "https_cpu_per_req_ms": med(a, "cpu_per_req_ms"),
                "handshakes_full": a.get("handshakes_full"),
                "handshakes_resumed": a.get("handshakes_resumed")}
        for key in ("https-off", "https-curl"):
            if cfgs.get(key):
                line[key.replace("-", "_") + "_cpu_per_req_ms"] = med(
                    cfgs[key], "cpu_per_req_ms")
        if line["http_cpu_per_req_ms"]:
            line["https_over_http_cpu"] = (line["https_cpu_per_req_ms"] /
                                           line["http_cpu_per_req_ms"])
        s.add_extra(line)
    s.plot("https-seed", "the seed workload over https (CA shared) and "
           "http", [dict(r, sweep="https-seed", engine="%s %s" % (
               r["client"], "http" if r["config"] == "http" else "https"))
               for r in rows if r["config"] in ("http", "https-shared")])


# --- https-clients -----------------------------------------------------------

def keepalive(s, o):
    """async (raw, uring) and curl --parallel over https keep-alive on the
    same list, in rotating rounds after a warm-up; the pages/s ratio per
    round."""
    w = Workload(s, "mix", o.url, corpus_urls(o), "reuse", cacert=o.cafile)
    engines = ["async"] + [e for e in ("raw", "uring") if s.has_engine(e)]
    clients = [(e, lambda e=e: peer.fetchbench_run(s, w, e, WORKERS))
               for e in engines]
    clients.append(("curl --parallel",
                    lambda: peer.curl_parallel(s, w, WORKERS)))
    if s.multi_poll:
        # The plainest loop over libcurl's multi interface: what async
        # could reach were its own loop free.
        clients.append(("multi-poll",
                        lambda: peer.multi_poll(s, w, WORKERS)))
    contenders = [lambda n=n, fn=fn: [(n, checked(s, fn(), n))]
                  for n, fn in clients]
    for c in contenders:  # a warm-up each
        c()
    rounds = repeats(5, 1)
    got = run_rounds(rounds, contenders)
    s.say("keep-alive over https: %d URLs (every page of the corpus), %d in "
          "flight, median of %d rounds [min-max]; clients timed from spawn "
          "to exit" % (w.n, WORKERS, rounds))
    s.say("  %-16s %22s %24s  %s" % ("client", "pages/s", "CPU us/page",
                                     "handshakes full/resumed"))
    pps = {}
    for name, ms in got.items():
        pps[name] = [w.n / m["wall_s"] for m in ms]
        sp = stat(pps[name])
        sc = stat(m["cpu_s"] / w.n * 1e6 for m in ms)
        hs = ms[-1].get("handshakes_full")
        s.say("  %-16s %s %s  %s" % (
            name, span(sp, "%8.0f", "%6.0f"), span(sc, "%8.1f", "%6.1f"),
            "-" if hs is None else "%d/%d" % (
                hs, ms[-1].get("handshakes_resumed") or 0)))
        s.add_extra({"bench": "https-keepalive", "client": name,
                     "pages": w.n, "workers": WORKERS, "rounds": rounds,
                     "pages_per_s": sp["median"], "pages_per_s_min": sp["min"],
                     "pages_per_s_max": sp["max"],
                     "cpu_us_per_page": sc["median"],
                     "cpu_us_per_page_min": sc["min"],
                     "cpu_us_per_page_max": sc["max"],
                     "handshakes_full": hs,
                     "handshakes_resumed": ms[-1].get("handshakes_resumed"),
                     "errors": sum(m["errors"] for m in ms)})
    if "async" in pps and "curl --parallel" in pps:
        r = stat(a / c for a, c in zip(pps["async"], pps["curl --parallel"]))
        res = judged(r["median"], 1.5, True)
        s.say("  async / curl --parallel pages/s: %s per round (goal >= 1.5: "
              "%s)" % (span(r, "%.2f", unit="x"), res))
        s.add_extra({"bench": "https-keepalive-ratio",
                     "async_over_curl_pages_per_s": r["median"],
                     "min": r["min"], "max": r["max"], "goal": 1.5,
                     "result": res})
    if "multi-poll" in pps and "curl --parallel" in pps:
        r = stat(a / c for a, c in zip(pps["multi-poll"],
                                       pps["curl --parallel"]))
        f = stat(a / c for a, c in zip(pps["async"], pps["multi-poll"]))
        s.say("  multi-poll / curl --parallel pages/s: %s per round (the "
              "plainest libcurl multi loop: what the libcurl engines can "
              "reach); async / multi-poll: %s" % (
                  span(r, "%.2f", unit="x"), span(f, "%.2f", unit="x")))
        s.add_extra({"bench": "https-keepalive-floor",
                     "multi_poll_over_curl_pages_per_s": r["median"],
                     "min": r["min"], "max": r["max"],
                     "async_over_multi_poll": f["median"],
                     "async_over_multi_poll_min": f["min"],
                     "async_over_multi_poll_max": f["max"]})


S_TIME = re.compile(r"(\d+) connections in ([\d.]+)s;")


def s_time(s, openssl, o, seconds, page):
    """openssl s_time -new (a full handshake per connection) against o for
    seconds, fetching page on each connection when given: connections, CPU
    per connection (wait4's user + sys) and its own user seconds."""
    argv = [openssl, "s_time", "-new", "-connect",
            "%s:%d" % (o.host, o.port), "-CAfile", o.cafile,
            "-time", str(seconds)] + (["-www", page] if page else [])
    t = spawn(argv, s.client_cpu, timeout=seconds + 60)
    got = S_TIME.search(t.stdout)
    if t.status != 0 or got is None or int(got.group(1)) == 0:
        raise RuntimeError("openssl s_time failed (exit %s): %s" % (
            t.status, (t.stdout + t.stderr).strip()[-200:]))
    n = int(got.group(1))
    return {"connections": n, "cpu_per_conn_us": t.cpu_s / n * 1e6,
            "user_per_conn_us": float(got.group(2)) / n * 1e6,
            "wall_s": t.wall_s, "command": " ".join(
                ["openssl"] + argv[1:3] + ["127.0.0.1:PORT"] + argv[4:])}


def fresh_run(s, w, engine):
    """One `fetchbench run` over fresh connections, one at a time, no
    session resumption: CPU per request from wait4 (as for s_time) and from
    the run itself, and its handshakes."""
    t, doc = s.run(w.args(engine, 1) + ["--tls-resume", "off"])
    if doc["ok"] != w.n:
        s.fail("%s over %s: %d of %d requests failed" % (
            engine, w.name, w.n - doc["ok"], w.n))
    return {"cpu_per_req_us": t.cpu_s / w.n * 1e6,
            "run_cpu_per_req_us": doc["cpu_per_req_ms"] * 1000,
            "handshakes_full": doc.get("handshakes_full"),
            "handshakes_resumed": doc.get("handshakes_resumed")}


def fresh_multi_poll(s, w):
    """multi-poll over fresh connections, one at a time, no session
    resumption: CPU per request from wait4, as fresh_run's."""
    m = peer.multi_poll(s, w, 1, resume=False)
    if m["errors"]:
        s.fail("multi-poll over %s: %d of %d requests failed (%s)" % (
            w.name, m["errors"], w.n, m.get("note")))
    return {"cpu_per_req_us": m["cpu_s"] / w.n * 1e6}


def handshakes(s, o):
    """CPU per new connection with a full handshake: fetchbench's engines
    beside openssl s_time -new, the same small page from the same origin,
    one connection at a time; the same engines over http beside, for the
    part TLS takes."""
    openssl = tool("openssl")
    if openssl is None:
        return
    sizes = s.page_sizes(o)
    path, size = min(((p, n) for p, n in sizes if p.endswith(".html")),
                     key=lambda x: x[1])
    page = "/" + urllib.parse.quote(path)
    plain = s.server([s.fetchbench, "origin"])
    n, secs = (300, 2) if QUICK else (2000, 5)
    engines = ["async"] + [e for e in ("raw", "uring") if s.has_engine(e)]
    w_tls = Workload(s, "fresh-https", o.url, [o.url + page] * n, "fresh",
                     cacert=o.cafile)
    w_http = Workload(s, "fresh-http", plain.url, [plain.url + page] * n,
                      "fresh")
    contenders = []
    for e in engines:
        contenders.append(lambda e=e: [((e, "https"), fresh_run(s, w_tls, e))])
        contenders.append(lambda e=e: [((e, "http"), fresh_run(s, w_http, e))])
    if s.multi_poll:
        contenders.append(lambda: [(("multi-poll", "https"),
                                    fresh_multi_poll(s, w_tls))])
    contenders.append(lambda: [(("s_time", "www"),
                                s_time(s, openssl, o, secs, page))])
    contenders.append(lambda: [(("s_time", "bare"),
                                s_time(s, openssl, o, secs, None))])
    before = o.stats()["tls"]
    rounds = repeats(3, 1)
    got = run_rounds(rounds, contenders)
    after = o.stats()["tls"]
    s.say()
    s.say("fresh connections over https, a full handshake each (clients "
          "without resumption: run --tls-resume off, s_time -new), one at a "
          "time, page %s (%d bytes); CPU per connection (user + sys from "
          "wait4), median of %d rounds [min-max]:" % (path, size, rounds))
    sw = stat(m["cpu_per_conn_us"] for m in got[("s_time", "www")])
    sb = stat(m["cpu_per_conn_us"] for m in got[("s_time", "bare")])
    s.say("  %-34s %s" % ("openssl s_time -new -www PAGE", span(
        sw, "%7.0f", "%.0f", " us")))
    s.say("  %-34s %s" % ("openssl s_time -new (handshake only)", span(
        sb, "%7.0f", "%.0f", " us")))
    for e in engines:
        https = got[(e, "https")]
        http = got[(e, "http")]
        st = stat(m["cpu_per_req_us"] for m in https)
        sh = stat(m["cpu_per_req_us"] for m in http)
        tls_part = stat(a["cpu_per_req_us"] - b["cpu_per_req_us"]
                        for a, b in zip(https, http))
        ratio = stat(a["cpu_per_req_us"] / b["cpu_per_conn_us"]
                     for a, b in zip(https, got[("s_time", "www")]))
        s.say("  %-34s %s; over http %s; TLS's part %s" % (
            "%s over https" % e, span(st, "%7.0f", "%.0f", " us"),
            span(sh, "%.0f", unit=" us"), span(tls_part, "%.0f", unit=" us")))
        line = {"bench": "https-handshake", "engine": e, "page": path,
                "page_bytes": size, "requests": n, "rounds": rounds,
                "cpu_per_req_us": st["median"],
                "http_cpu_per_req_us": sh["median"],
                "tls_part_us": tls_part["median"],
                "run_cpu_per_req_us": stat(m["run_cpu_per_req_us"]
                                           for m in https)["median"],
                "handshakes_full": https[-1]["handshakes_full"],
                "handshakes_resumed": https[-1]["handshakes_resumed"],
                "s_time_www_cpu_per_conn_us": sw["median"],
                "s_time_cpu_per_conn_us": sb["median"],
                "over_s_time": ratio["median"], "over_s_time_min":
                ratio["min"], "over_s_time_max": ratio["max"]}
        if e == "async":
            res = judged(ratio["median"], 1.2, False)
            line.update(goal=1.2, result=res)
            s.say("  async / s_time -new -www CPU per connection: %s per "
                  "round (goal <= 1.2: %s)" % (span(ratio, "%.2f", unit="x"),
                                               res))
        s.add_extra(line)
    mp = got.get(("multi-poll", "https"))
    if mp:
        st = stat(m["cpu_per_req_us"] for m in mp)
        ratio = stat(a["cpu_per_req_us"] / b["cpu_per_conn_us"]
                     for a, b in zip(mp, got[("s_time", "www")]))
        s.say("  %-34s %s; %s s_time -new -www (the plainest libcurl "
              "loop: what the libcurl engines can reach)" % (
                  "multi-poll over https", span(st, "%7.0f", "%.0f", " us"),
                  span(ratio, "%.2f", unit="x")))
        s.add_extra({"bench": "https-handshake", "engine": "multi-poll",
                     "page": path, "requests": n, "rounds": rounds,
                     "cpu_per_req_us": st["median"],
                     "over_s_time": ratio["median"],
                     "over_s_time_min": ratio["min"],
                     "over_s_time_max": ratio["max"]})
    s.say("  the origin saw %d handshakes, %d of them resumed" % (
        after["handshakes"] - before["handshakes"],
        after["resumed"] - before["resumed"]))


@suite("https-clients")
def https_clients(s):
    s.header("fetchbench's TLS clients beside curl --parallel (keep-alive) "
             "and openssl s_time (full handshakes)")
    o = s.tls_origin()
    keepalive(s, o)
    handshakes(s, o)


# --- https-origin ------------------------------------------------------------

def cert_pair(s):
    """One certificate and key (EC P-256, for 127.0.0.1, ::1 and localhost,
    as the origin makes its own) that both servers present: from the
    openssl program, else origin-helper make-cert; (cert, key) or None."""
    cert, key = (os.path.join(s.work, n) for n in ("cert.pem", "key.pem"))
    openssl = tool("openssl")
    if openssl:
        argv = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                cert, "-days", "7", "-subj", "/CN=localhost", "-addext",
                "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"]
    elif s.origin_helper:
        argv = [s.origin_helper, "make-cert", cert, key]
    else:
        skipped("neither openssl nor origin-helper to make a certificate "
                "for both servers: nginx is left out")
        return None
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)
    return cert, key


def wrk_turns(s, servers, url_of, paths_file, duration, runs, headers=()):
    """wrk against each server in turn (a warm-up each, then runs), the
    server's CPU per request from /proc beside: {name: [(req/s, CPU us per
    request)]}."""
    got = {name: [] for name in servers}
    for r in range(-1, runs):
        for name, o in servers.items():
            cpu0 = proc_cpu_s(o.proc.pid)
            m = peer.wrk(s, url_of(o), paths_file, WORKERS, duration,
                         headers=headers)
            cpu = proc_cpu_s(o.proc.pid) - cpu0
            if m is None or m["errors"]:
                s.fail("wrk against %s: %s" % (name, m and m.get("note")))
            elif r >= 0:
                got[name].append((m["req_per_s"],
                                  cpu / m["requests"] * 1e6))
    return got


def report_turns(s, what, got, goal_key):
    """The table of wrk_turns' runs and the origin/nginx ratio per run
    pair, judged against 0.8."""
    s.say("  %-8s %24s %26s" % ("server", "%s/s [min-max]" % what,
                                "server CPU us/%s" % what))
    for name, runs in got.items():
        if not runs:
            continue
        st, sc = stat(x for x, _ in runs), stat(c for _, c in runs)
        s.say("  %-8s %s %s" % (name, span(st, "%10.0f", "%.0f"),
                                span(sc, "%10.1f", "%.1f")))
        s.add_extra({"bench": goal_key, "server": name,
                     "per_s": st["median"], "min": st["min"],
                     "max": st["max"], "server_cpu_us": sc["median"],
                     "runs": [x for x, _ in runs],
                     "server_cpu": s.origin_cpu})
    if got.get("origin") and got.get("nginx"):
        r = stat(a[0] / b[0] for a, b in zip(got["origin"], got["nginx"]))
        res = judged(r["median"], 0.8, True)
        s.say("  origin/nginx: %s per run pair (goal >= 0.8: %s)" % (
            span(r, "%.2f", unit="x"), res))
        s.add_extra({"bench": goal_key + "-ratio", "ratio": r["median"],
                     "min": r["min"], "max": r["max"], "goal": 0.8,
                     "result": res})


def open_idle(o, n):
    """n TLS connections to o, handshakes done, no request: the sockets."""
    ctx = ssl.create_default_context(cafile=o.cafile)
    socks = []
    try:
        for _ in range(n):
            raw = socket.create_connection((o.host, o.port), timeout=30)
            socks.append(ctx.wrap_socket(raw, server_hostname=o.host))
    except BaseException:
        for t in socks:
            t.close()
        raise
    return socks


def idle_memory(s, servers, n):
    """Memory per idle TLS connection of each server: its RSS with n open
    (handshake done, no request) minus before; where the server counts
    OpenSSL's heap (/__stats heap_bytes, origin-helper), that too."""
    s.say("memory per idle TLS connection, %d connections open (handshake "
          "done, no request), each server before any load:" % n)
    for name, o in servers.items():
        heap0 = o.stats()["tls"]["heap_bytes"] if name == "origin-helper" \
            else None
        rss0 = proc_rss_kib(o.proc.pid)
        socks = open_idle(o, n)
        try:
            time.sleep(0.5)
            rss1 = proc_rss_kib(o.proc.pid)
            heap1 = o.stats()["tls"]["heap_bytes"] if heap0 is not None \
                else None
        finally:
            for t in socks:
                t.close()
        line = {"bench": "https-idle-memory", "server": name,
                "connections": n, "rss_before_kib": rss0,
                "rss_after_kib": rss1,
                "rss_per_conn_kib": (rss1 - rss0) / n}
        text = "RSS %.1f KiB per connection (%d -> %d KiB)" % (
            line["rss_per_conn_kib"], rss0, rss1)
        if heap0 is not None:
            line["heap_per_conn_bytes"] = (heap1 - heap0) / n
            text += "; OpenSSL heap %.0f bytes per connection (/__stats " \
                "heap_bytes)" % line["heap_per_conn_bytes"]
        s.say("  %-14s %s" % (name, text))
        s.add_extra(line)
    s.say("  (an RSS delta undercounts where the process reuses heap it "
          "freed before, as the origin after loading its corpus; OpenSSL's "
          "heap is counted by origin-helper alone, the test program that "
          "serves the same origin%s)" % (
              "" if "origin-helper" in servers else ", which was not built"))


@suite("https-origin")
def https_origin(s):
    s.header("the origin over TLS under wrk, %d connections, beside nginx "
             "with the same certificate" % WORKERS)
    if tool("wrk") is None:
        return
    pair = cert_pair(s)
    cert, key = pair if pair else (None, None)
    corpus, _ = django_root(s, None)
    # Full handshakes on both sides: no tickets, no session cache.
    o = s.tls_origin("--corpus", corpus, "--tls-resume", "off", cert=cert,
                     key=key)
    servers = {"origin": o}
    if pair:
        _, root = django_root(s, o)
        nginx = start_nginx(s, root, cert, key, resume=False)
        if nginx is not None:
            nginx.cafile = o.cafile
            servers["nginx"] = nginx
    # Memory first, while the servers' heaps have not yet grown under load
    # (a heap that grew and was freed takes new connections without
    # growing the RSS).
    mem = dict(servers)
    if s.origin_helper and os.access(s.origin_helper, os.X_OK):
        mem["origin-helper"] = s.tls_origin("--corpus", corpus, cert=cert,
                                            key=key, program=s.origin_helper)
    idle_memory(s, mem, 200 if QUICK else 2000)
    if "origin-helper" in mem:
        mem["origin-helper"].stop()
    s.say()
    sizes = s.page_sizes(o)
    html = ["/" + urllib.parse.quote(p) for p, _ in sizes
            if p.endswith(".html")]
    small = "/" + urllib.parse.quote(min(
        ((p, n) for p, n in sizes if p.endswith(".html")),
        key=lambda x: x[1])[0])
    paths_file = s.write_list("paths", html)
    duration, runs = (1 if QUICK else 5), repeats(3, 1)
    s.say("keep-alive: the Django mix (%d HTML pages from %s), %d "
          "connections, %d s x %d runs, servers taking turns, resumption "
          "off on both" % (len(html), corpus, WORKERS, duration, runs))
    got = wrk_turns(s, servers, lambda o: o.url, paths_file, duration, runs)
    report_turns(s, "req", got, "https-origin-keepalive")
    s.say()
    s.say("fresh connections (wrk -H 'Connection: close'): a full handshake "
          "per request, page %s" % small)
    got = wrk_turns(s, servers, lambda o: o.url + small, None, duration,
                    runs, headers=("Connection: close",))
    report_turns(s, "handshake", got, "https-origin-handshakes")
    st = o.stats()
    s.say("  the origin: %d handshakes, %d resumed, %d failed" % (
        st["tls"]["handshakes"], st["tls"]["resumed"], st["tls"]["failed"]))
    st = o.stats()["tls"]
    s.say()
    s.say("body path: %s (kTLS %s); %s" % (
        st["body_path"], "used" if st["ktls"] else "not used", ktls_note()))
    s.add_extra({"bench": "https-origin-body-path",
                 "body_path": st["body_path"], "ktls": st["ktls"],
                 "body_ssl_write_bytes": o.stats()["body_ssl_write"],
                 "why": ktls_note()})
