#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The original experiment, in Python, as a peer for fetchbench.

Fetches a list of URLs sequentially, with a concurrent.futures
ThreadPoolExecutor and with a multiprocessing.Pool (fork, as on Linux when the
original ran), and prints one JSON object per cell on stdout.

Connections: "fresh" (the default) opens a new connection per request with
urllib.request.urlopen, as the original's plain requests.get did; "reuse"
keeps one http.client connection per thread or worker process (keep-alive),
for the throughput workload.

The timed region is what the original timed: from before the pool is created
to after it is shut down (interpreter start-up and imports are outside it).

CPU is reported twice: "cpu_self_*" as the original measured it (this process
only, which is why its process pool showed ~0 s) and "cpu_*" with the reaped
children included, as fetchbench does. Memory: "max_rss_kib" is the peak of
the largest process (this one or a worker), "rss_sum_kib" this process's peak
plus the peak of each worker process that ran a task, as it reported it
with its results. Both are peaks over this interpreter's life: run one cell
per invocation (as the fetchbench bench suites do, repeating the
invocation) for figures that belong to one cell. "sizes" lists each body's
size in URL order (null where the request failed), for the bench harness to
check against the engines'.

Standard library only.
"""

import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import os
import resource
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_S = 30
CONNECTION = "fresh"  # set in main() before any pool starts (forked along)

_local = threading.local()


def _max_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _fetch_fresh(url):
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
        return len(resp.read())


def _fetch_reuse(url):
    """GET over this thread's keep-alive connection to the URL's host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        return _fetch_fresh(url)
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    key = parts.netloc
    conn = conns.get(key)
    if conn is None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                          timeout=TIMEOUT_S)
        conns[key] = conn
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    except Exception:
        conn.close()
        del conns[key]
        raise
    if resp.will_close:
        conn.close()
        del conns[key]
    if resp.status >= 400:
        raise urllib.error.HTTPError(url, resp.status, resp.reason,
                                     resp.headers, None)
    return len(body)


def fetch(url):
    """(body bytes, error string or None, pid, this process's peak RSS)."""
    try:
        get = _fetch_reuse if CONNECTION == "reuse" else _fetch_fresh
        n, err = get(url), None
    except Exception as exc:  # every failure is data, as in fetchbench
        n, err = 0, f"{type(exc).__name__}: {exc}"
    return n, err, os.getpid(), _max_rss_kib()


def run_sequential(urls, workers):
    return [fetch(u) for u in urls]


def run_threads(urls, workers):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fetch, urls))


def run_processes(urls, workers):
    # chunksize 1: a worker asks for one URL at a time, as the processes
    # engine does by default, so that a slow page does not idle the others.
    with multiprocessing.get_context("fork").Pool(processes=workers) as pool:
        results = pool.map(fetch, urls, chunksize=1)
        pool.close()
        pool.join()  # reaped, so RUSAGE_CHILDREN holds their CPU and RSS
    return results


MODES = {
    "sequential": run_sequential,
    "threads": run_threads,
    "processes": run_processes,
}


def cell(mode, urls, workers, delay_ms):
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    results = MODES[mode](urls, workers)
    wall = time.perf_counter() - t0
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    errors = [err for _, err, _, _ in results if err is not None]
    user_self = me1.ru_utime - me0.ru_utime
    sys_self = me1.ru_stime - me0.ru_stime
    user = user_self + kids1.ru_utime - kids0.ru_utime
    sys_ = sys_self + kids1.ru_stime - kids0.ru_stime
    worker_rss = {}
    for _, _, pid, rss in results:
        if pid != os.getpid():
            worker_rss[pid] = max(rss, worker_rss.get(pid, 0))
    out = {
        "peer": "python-urllib" if CONNECTION == "fresh" else "python-http",
        "engine": mode,
        "workers": workers,
        "connection": CONNECTION,
        "urls": len(urls),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": wall,
        "cpu_self_user_s": user_self,
        "cpu_self_sys_s": sys_self,
        "cpu_self_s": user_self + sys_self,
        "cpu_user_s": user,
        "cpu_sys_s": sys_,
        "cpu_s": user + sys_,
        "cpu_per_req_ms": (user + sys_) * 1000 / len(urls),
        "max_rss_kib": max(me1.ru_maxrss, kids1.ru_maxrss),
        "rss_sum_kib": me1.ru_maxrss + sum(worker_rss.values()),
        "worker_processes": len(worker_rss),
        "req_per_s": len(urls) / wall if wall > 0 else 0,
        "bytes": sum(n for n, _, _, _ in results),
        "sizes": [n if err is None else None for n, err, _, _ in results],
        "python": sys.version.split()[0],
    }
    if delay_ms is not None:
        ideal = -(-len(urls) // workers) * delay_ms / 1000
        out["ideal_s"] = ideal
        out["efficiency"] = ideal / wall if wall > 0 else 0
    return out


def main():
    global CONNECTION
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", required=True, help="file with one URL per line")
    ap.add_argument("--modes", default="sequential,threads,processes")
    ap.add_argument("--workers", default="1,2,4,8,16")
    ap.add_argument("--connection", choices=("fresh", "reuse"),
                    default="fresh")
    ap.add_argument("--delay", type=float, default=None,
                    help="the origin's delay in ms, for the ideal wall time")
    args = ap.parse_args()
    CONNECTION = args.connection

    with open(args.urls) as f:
        urls = [line.strip() for line in f
                if line.strip() and not line.startswith("#")]
    if not urls:
        sys.exit(f"{args.urls}: no URLs")
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            sys.exit(f"--modes: unknown mode {m!r} "
                     f"(valid: {', '.join(MODES)})")
    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        sys.exit(f"--workers: not a list of numbers: {args.workers!r}")
    if any(w < 1 for w in workers):
        sys.exit("--workers must be at least 1")

    failed = False
    for mode in modes:
        counts = [1] if mode == "sequential" else workers
        for w in counts:
            out = cell(mode, urls, w, args.delay)
            failed = failed or out["errors"] > 0
            print(json.dumps(out), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
