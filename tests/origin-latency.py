# SPDX-License-Identifier: MIT
"""Latency emulation: the delay before the first byte (server-wide and per
request), jitter (bounded, deterministic per URL), and rate pacing."""

import importlib.util
import os
import shutil
import subprocess
import sys
import time

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

# Lower bounds are exact (the origin never answers early); upper bounds are
# generous, for busy machines: the tests check behaviour, not speed.
SLACK = 0.4


def ttfb(o, path, sock=None):
    """Seconds from sending the request to the first response byte, and the
    whole response."""
    s = sock or o.connect()
    rd = oc.Reader(s)
    t0 = time.monotonic()
    s.sendall(oc.get_request(path))
    s.recv(1, 0x2)  # MSG_PEEK: wait for the first byte
    t1 = time.monotonic()
    r = rd.response()
    if sock is None:
        s.close()
    return t1 - t0, r


def test_query_delay():
    with oc.Origin("--corpus", "synthetic") as o:
        t, r = ttfb(o, "/index.html?delay=100")
        assert r.status == 200
        assert 0.1 <= t < 0.1 + SLACK, t
        t, _ = ttfb(o, "/index.html")
        assert t < SLACK, t
        # 404s wait too: the delay is the network's, not the page's.
        t, r = ttfb(o, "/missing?delay=100")
        assert r.status == 404 and 0.1 <= t < 0.1 + SLACK, t


def test_server_delay_and_override():
    with oc.Origin("--corpus", "synthetic", "--delay", "150") as o:
        s = o.connect()
        for _ in range(3):
            t, _ = ttfb(o, "/intro/tutorial01.html", s)
            assert 0.15 <= t < 0.15 + SLACK, t
        t, _ = ttfb(o, "/intro/tutorial01.html?delay=0", s)
        assert t < 0.15, t
        s.close()


def test_delay_pipelined():
    """Pipelined requests are answered in order, each after its delay."""
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        rd = oc.Reader(s)
        t0 = time.monotonic()
        s.sendall(oc.get_request("/__bytes/1?delay=100") +
                  oc.get_request("/__bytes/2?delay=0") +
                  oc.get_request("/__bytes/3?delay=100"))
        bodies = [rd.response().body for _ in range(3)]
        assert bodies == [b"a", b"ab", b"abc"]
        assert 0.2 <= time.monotonic() - t0 < 0.2 + SLACK
        s.close()


def test_jitter():
    with oc.Origin("--corpus", "synthetic", "--seed", "5") as o:
        seen = []
        for i in range(8):
            path = "/__bytes/%d?delay=100&jitter=60" % (i + 1)
            t, _ = ttfb(o, path)
            assert 0.04 <= t < 0.16 + SLACK, (path, t)
            seen.append(t)
        assert max(seen) - min(seen) > 0.02, seen
        # Deterministic per URL: the same target, the same delay.
        path = "/__bytes/1?delay=100&jitter=60"
        a, _ = ttfb(o, path)
        b, _ = ttfb(o, path)
        assert abs(a - b) < 0.04 or max(a, b) > 0.16, (a, b)


def test_delays_across_connections():
    """Responses due at different times on different connections go out in
    due order, none early, whatever order the requests came in."""
    import select
    delays = [250, 50, 200, 100, 150, 50]
    with oc.Origin("--corpus", "synthetic") as o:
        socks = [o.connect() for _ in delays]
        t0 = time.monotonic()
        for s, d in zip(socks, delays):
            s.sendall(oc.get_request("/__bytes/10?delay=%d" % d))
        first = {}  # socket index -> (select round, seconds)
        rounds = 0
        while len(first) < len(socks):
            ready, _, _ = select.select(
                [s for i, s in enumerate(socks) if i not in first], [], [],
                5 + SLACK)
            assert ready, "no response within 5 s"
            rounds += 1
            now = time.monotonic() - t0
            for s in ready:
                first[socks.index(s)] = (rounds, now)
        for i, d in enumerate(delays):
            assert first[i][1] >= d / 1000, (d, first[i])
        by_due = sorted(range(len(delays)), key=lambda i: delays[i])
        seen = [first[i][0] for i in by_due]
        assert seen == sorted(seen), (delays, first)
        for s in socks:
            s.close()


def test_rate():
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        rd = oc.Reader(s)
        t0 = time.monotonic()
        s.sendall(oc.get_request("/__bytes/100000?rate=200000"))
        r = rd.response()
        elapsed = time.monotonic() - t0
        assert len(r.body) == 100000
        assert 0.45 <= elapsed < 0.5 + SLACK + 0.3, elapsed
        s.close()
    with oc.Origin("--corpus", "synthetic", "--rate", "400000") as o:
        t0 = time.monotonic()
        _, r = ttfb(o, "/__bytes/200000")
        elapsed = time.monotonic() - t0
        assert len(r.body) == 200000
        assert 0.45 <= elapsed < 0.5 + SLACK + 0.3, elapsed


def test_curl_sees_delay():
    if not shutil.which("curl"):
        raise oc.Skip("curl not installed")
    with oc.Origin("--corpus", "synthetic") as o:
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{time_starttransfer}",
             o.url + "/intro/tutorial01.html?delay=120"],
            stdout=subprocess.PIPE, check=True).stdout
        t = float(out)
        assert 0.12 <= t < 0.12 + SLACK, t


oc.run([test_query_delay, test_server_delay_and_override, test_delay_pipelined,
        test_delays_across_connections, test_jitter, test_rate,
        test_curl_sees_delay])
