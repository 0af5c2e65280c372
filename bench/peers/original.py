#!/usr/bin/env python3
"""The original experiment, in Python, as a peer for fetchbench.

Fetches a list of URLs with urllib (a new connection per request, as the
original did) sequentially, with a ThreadPoolExecutor and with a
multiprocessing.Pool, and prints one JSON object per cell on stdout.

CPU is reported twice: "cpu_self_*" as the original measured it (the parent
process only, which is why its process pool showed ~0 s) and "cpu_*" with the
children included, as fetchbench does.

Standard library only.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import resource
import statistics
import sys
import time
import urllib.request


def fetch(url):
    """Returns (body bytes, error string or None)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return len(resp.read()), None
    except Exception as exc:  # every failure is data, as in fetchbench
        return 0, f"{type(exc).__name__}: {exc}"


def run_sequential(urls, workers):
    return [fetch(u) for u in urls]


def run_threads(urls, workers):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fetch, urls))


def run_processes(urls, workers):
    with multiprocessing.Pool(processes=workers) as pool:
        return pool.map(fetch, urls)


MODES = {
    "sequential": run_sequential,
    "threads": run_threads,
    "processes": run_processes,
}


def usage_times():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me, kids


def cell(mode, urls, workers, delay_ms):
    me0, kids0 = usage_times()
    t0 = time.perf_counter()
    results = MODES[mode](urls, workers)
    wall = time.perf_counter() - t0
    me1, kids1 = usage_times()
    errors = sum(1 for _, err in results if err is not None)
    user_self = me1.ru_utime - me0.ru_utime
    sys_self = me1.ru_stime - me0.ru_stime
    user = user_self + kids1.ru_utime - kids0.ru_utime
    sys_ = sys_self + kids1.ru_stime - kids0.ru_stime
    out = {
        "peer": "python-urllib",
        "engine": mode,
        "workers": workers,
        "urls": len(urls),
        "errors": errors,
        "wall_s": wall,
        "cpu_self_user_s": user_self,
        "cpu_self_sys_s": sys_self,
        "cpu_user_s": user,
        "cpu_sys_s": sys_,
        "cpu_per_req_ms": (user + sys_) * 1000 / len(urls),
        "max_rss_kib": max(me1.ru_maxrss, kids1.ru_maxrss),
        "req_per_s": len(urls) / wall if wall > 0 else 0,
        "bytes": sum(n for n, _ in results),
    }
    if delay_ms is not None:
        ideal = -(-len(urls) // workers) * delay_ms / 1000
        out["ideal_s"] = ideal
        out["efficiency"] = ideal / wall if wall > 0 else 0
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", required=True, help="file with one URL per line")
    ap.add_argument("--modes", default="sequential,threads,processes")
    ap.add_argument("--workers", default="1,2,4,8,16")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--delay", type=float, default=None,
                    help="the origin's delay in ms, for the ideal wall time")
    args = ap.parse_args()

    with open(args.urls) as f:
        urls = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    if not urls:
        sys.exit(f"{args.urls}: no URLs")
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            sys.exit(f"--modes: unknown mode {m!r} (valid: {', '.join(MODES)})")
    workers = [int(w) for w in args.workers.split(",")]

    for mode in modes:
        counts = [1] if mode == "sequential" else workers
        for w in counts:
            runs = [cell(mode, urls, w, args.delay) for _ in range(args.repeat)]
            best = dict(runs[0])
            walls = [r["wall_s"] for r in runs]
            best["wall_s"] = statistics.median(walls)
            best["wall_min_s"] = min(walls)
            best["wall_max_s"] = max(walls)
            if args.delay is not None:
                best["efficiency"] = best["ideal_s"] / best["wall_s"]
            print(json.dumps(best), flush=True)


if __name__ == "__main__":
    main()
