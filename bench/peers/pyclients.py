#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python clients the original's readers would name, as peers for
fetchbench:

  asyncio   aiohttp (Debian python3-aiohttp): one ClientSession, a task per
            URL, at most WORKERS in flight (an asyncio.Semaphore), the
            connector's pool as large
  requests  requests (Debian python3-requests): a thread pool of WORKERS
            threads, a requests.Session per thread

Connections: "reuse" keeps them alive; "fresh" asks for a new connection
per request (Connection: close), as the engines' fresh mode does. https
URLs are verified against --cacert FILE when given (the origin's own CA),
else the system's store.

Prints one JSON object on stdout: the URL count, how many came back 200,
each body's size in URL order (null where it failed: fetchbench's bench
harness checks them against the engines'), the first error, and the wall
time from creating the session or pool to closing it (the harness times
the whole process from outside). Exit status 0 when every URL came back
200, 1 when some did not, 2 for a usage error, 77 when the package is
missing (named on stderr).
"""

import argparse
import concurrent.futures
import json
import resource
import sys
import threading
import time

TIMEOUT_S = 30


def run_asyncio(urls, workers, fresh, cacert):
    import asyncio
    import ssl

    import aiohttp

    async def fetch(session, sem, url):
        async with sem:
            try:
                async with session.get(url) as r:
                    body = await r.read()
                    return (len(body), None) if r.status == 200 else \
                        (None, "HTTP %d: %s" % (r.status, url))
            except Exception as exc:  # a failed request is data
                return None, "%s: %s: %s" % (type(exc).__name__, exc, url)

    async def main():
        sem = asyncio.Semaphore(workers)
        ctx = ssl.create_default_context(cafile=cacert) if cacert else None
        conn = aiohttp.TCPConnector(limit=workers, force_close=fresh,
                                    ssl=ctx)
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with aiohttp.ClientSession(connector=conn,
                                         timeout=timeout) as session:
            return await asyncio.gather(*(fetch(session, sem, u)
                                          for u in urls))

    return asyncio.run(main()), aiohttp.__version__


def run_requests(urls, workers, fresh, cacert):
    import requests

    local = threading.local()
    headers = {"Connection": "close"} if fresh else {}

    def fetch(url):
        s = getattr(local, "session", None)
        if s is None:
            s = local.session = requests.Session()
        try:
            r = s.get(url, headers=headers, timeout=TIMEOUT_S,
                      verify=cacert or True)
            return (len(r.content), None) if r.status_code == 200 else \
                (None, "HTTP %d: %s" % (r.status_code, url))
        except Exception as exc:  # a failed request is data
            return None, "%s: %s: %s" % (type(exc).__name__, exc, url)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fetch, urls)), requests.__version__


MODELS = {"asyncio": (run_asyncio, "aiohttp", "python3-aiohttp"),
          "requests": (run_requests, "requests", "python3-requests")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", required=True, help="file with one URL a line")
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--connection", choices=("fresh", "reuse"),
                    default="reuse")
    ap.add_argument("--cacert", help="CA file for https URLs")
    args = ap.parse_args()
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    with open(args.urls) as f:
        urls = [line.strip() for line in f if line.strip()]
    if not urls:
        ap.error("%s: no URLs" % args.urls)
    run, module, package = MODELS[args.model]
    try:
        __import__(module)
    except ImportError:
        print("pyclients.py: %s is not installed (Debian %s)" % (
            module, package), file=sys.stderr)
        return 77
    # Timed as the original timed its pools: the run itself, without the
    # interpreter's start and the imports (the harness times those too,
    # from outside).
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    results, version = run(urls, args.workers, args.connection == "fresh",
                           args.cacert)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    errors = [err for _, err in results if err is not None]
    print(json.dumps({
        "model": args.model, "workers": args.workers,
        "connection": args.connection, "urls": len(urls),
        "ok": len(urls) - len(errors), "first_error": errors[0] if errors
        else None, "wall_s": wall,
        "cpu_user_s": r1.ru_utime - r0.ru_utime,
        "cpu_sys_s": r1.ru_stime - r0.ru_stime,
        "sizes": [n for n, _ in results],
        "python": sys.version.split()[0], "version": version}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
