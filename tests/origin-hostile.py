# SPDX-License-Identifier: MIT
"""The origin under hostile clients: each malformed or smuggling request is
answered 400/431/505 and closed while another client keeps being served;
slowloris heads are closed at the header timeout; idle connections at the
idle timeout; a client that never reads has a bounded write queue; resets
mid-request do no harm; 1,000 connections are held at once."""

import importlib.util
import json
import os
import socket
import struct
import sys
import time
import urllib.request

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

H = b"GET / HTTP/1.1\r\nHost: x\r\n"

MALFORMED = [
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400),
    ("not http", b"HELLO WORLD\r\n\r\n", 400),
    ("lowercase method", b"get / HTTP/1.1\r\n\r\n", 400),
    ("no version", b"GET /\r\n\r\n", 400),
    ("bad version", b"GET / HTTP/1.2\r\n\r\n", 505),
    ("http/2.0", b"GET / HTTP/2.0\r\n\r\n", 505),
    ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("space in target", b"GET /a b HTTP/1.1\r\n\r\n", 400),
    ("tab in target", b"GET /a\tb HTTP/1.1\r\n\r\n", 400),
    ("non-ascii target", b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
    ("space before colon", H + b"X-A : b\r\n\r\n", 400),
    ("tab before colon", H + b"X-A\t: b\r\n\r\n", 400),
    ("obs-fold", H + b"X-A: b\r\n c\r\n\r\n", 400),
    ("empty field name", H + b": b\r\n\r\n", 400),
    ("bare CR in value", H + b"X-A: b\rX-B: c\r\n\r\n", 400),
    ("bare CR at end", H + b"\r\r\n", 400),
    ("bare LF", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    ("bare LF at end", H + b"\n", 400),
    ("NUL in value", H + b"X-A: b\x00c\r\n\r\n", 400),
    ("control in value", H + b"X-A: b\x01c\r\n\r\n", 400),
    ("CL and TE", b"POST / HTTP/1.1\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("TE and CL", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400),
    ("duplicate CL", b"POST / HTTP/1.1\r\nContent-Length: 5\r\n"
     b"Content-Length: 5\r\n\r\nhello", 400),
    ("CL list", b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
    ("CL overflow", b"POST / HTTP/1.1\r\nContent-Length: "
     b"184467440737095516160\r\n\r\n", 400),
    ("CL negative", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    ("CL plus", b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", 400),
    ("CL hex", b"POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\nhello", 400),
    ("TE not chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    ("TE chunked twice", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad chunk size", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size overflow", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\nfffffffffffffffffff\r\nx\r\n0\r\n\r\n", 400),
    ("chunk without CRLF", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
    ("chunk extension", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size LF", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
    ("chunk trailer", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", 400),
    ("body too large", b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413),
    ("header over 8 KiB", H + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("head over 8 KiB", H + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 90)
                                    for i in range(90)) + b"\r\n", 431),
    ("too many headers", H + b"".join(b"X-%d: v\r\n" % i
                                      for i in range(101)) + b"\r\n", 431),
    ("target over 8 KiB", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    # RFC 9112, 3.2: Host is required in HTTP/1.1, and never twice.
    ("no Host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    ("Hostx, no Host", b"GET / HTTP/1.1\r\nHostx: y\r\n\r\n", 400),
    ("Hos, no Host", b"GET / HTTP/1.1\r\nHos: y\r\n\r\n", 400),
    ("two Hosts", H + b"hOST: y\r\n\r\n", 400),
    ("two Hosts, HTTP/1.0", b"GET / HTTP/1.0\r\nHost: x\r\nHost: x\r\n\r\n",
     400),
]


def test_malformed_requests():
    """Each answered with its status, then closed; a keep-alive client
    opened before keeps being served between them."""
    with oc.Origin("--corpus", "synthetic") as o:
        good = o.connect()
        rd = oc.Reader(good)
        for name, data, want in MALFORMED:
            out, closed = oc.exchange(o, data, timeout=5)
            assert oc.status_of(out) == want, (name, out[:80])
            assert b"Connection: close\r\n" in out, name
            assert closed, "%s: connection left open" % name
            good.sendall(oc.get_request("/__bytes/7"))
            assert rd.response().body == b"abcdefg", name
        good.close()


def test_host_header():
    """Host in any case, its name split across reads, is found; HTTP/1.0
    needs none."""
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        rd = oc.Reader(s)
        for piece in [b"GET /__bytes/2 HTTP/1.1\r\nX-A: 1\r\nhO", b"s",
                      b"T: x\r\n\r\n"]:
            s.sendall(piece)
            time.sleep(0.05)
        r = rd.response()
        assert r.status == 200 and r.body == b"ab", r.status
        s.close()
        out, closed = oc.exchange(o, b"GET /__bytes/3 HTTP/1.0\r\n\r\n")
        assert oc.status_of(out) == 200 and out.endswith(b"abc"), out[-80:]


def test_malformed_after_pipelined():
    """Good requests before the bad one are answered first, in order."""
    with oc.Origin("--corpus", "synthetic") as o:
        data = (oc.get_request("/__bytes/1") + oc.get_request("/__bytes/2") +
                b"GET / HTTP/1.1\r\nX : y\r\n\r\n" + oc.get_request("/__bytes/3"))
        out, closed = oc.exchange(o, data)
        assert out.count(b"HTTP/1.1 ") == 3, out
        assert out.index(b"\r\n\r\na") < out.index(b"\r\n\r\nab")
        assert out.rstrip().endswith(b"400 Bad Request"), out[-100:]
        assert closed


def test_header_limit_configurable():
    with oc.Origin("--corpus", "synthetic", "--max-header-bytes", "1024") as o:
        out, closed = oc.exchange(o, H + b"X: " + b"a" * 1100 + b"\r\n\r\n")
        assert oc.status_of(out) == 431 and closed
        out, _ = oc.exchange(o, H + b"X: " + b"a" * 900 + b"\r\nConnection: close\r\n\r\n")
        assert oc.status_of(out) == 200


def test_slowloris():
    """A head trickling in is closed at the header timeout, counted from its
    first byte, whatever the trickle."""
    with oc.Origin("--corpus", "synthetic", "--header-timeout", "400") as o:
        s = o.connect()
        t0 = time.monotonic()
        s.settimeout(0.05)
        closed_at = None
        for b in (H + b"X-Slow: " + b"a" * 200):
            try:
                s.sendall(bytes([b]))
                data = s.recv(100)
                if data == b"":
                    closed_at = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - t0
                break
        assert closed_at is not None, "slowloris never closed"
        assert 0.35 <= closed_at < 2.0, closed_at
        s.close()
        # A connection that sends nothing at all goes at the same timeout.
        s = o.connect()
        s.settimeout(3)
        t0 = time.monotonic()
        assert s.recv(10) == b""
        assert 0.35 <= time.monotonic() - t0 < 2.0
        s.close()


def test_idle_timeout():
    with oc.Origin("--corpus", "synthetic", "--idle-timeout", "300") as o:
        s = o.connect()
        rd = oc.Reader(s)
        s.sendall(oc.get_request("/__bytes/1"))
        rd.response()
        t0 = time.monotonic()
        assert rd.at_eof(timeout=3)
        assert 0.25 <= time.monotonic() - t0 < 2.0
        s.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stats(o):
    return json.loads(urllib.request.urlopen(o.url + "/__stats").read())


def test_client_never_reads():
    """Huge bodies to clients that never read: the origin's queue stays at
    most max_write_queue per connection, its memory flat, others served."""
    with oc.Origin("--corpus", "synthetic", "--max-write-queue", "65536") as o:
        rss0 = rss_kib(o.proc.pid)
        stuck = []
        for i in range(20):
            s = o.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            path = "/__bytes/500000000" if i % 2 else "/x?fault=huge_body"
            s.sendall(oc.get_request(path))
            stuck.append(s)
        time.sleep(0.5)
        st = stats(o)
        assert st["queued_bytes"] <= 20 * 65536, st
        for i in range(50):
            body = urllib.request.urlopen(o.url + "/intro/tutorial01.html").read()
            assert len(body) > 1000
        assert rss_kib(o.proc.pid) - rss0 < 20 * 1024, "memory grew"
        for s in stuck:
            s.close()


def test_client_resets():
    """Resets mid-request, mid-pipeline and mid-response: no crash, the
    origin serves on (and stops cleanly, checked by stop())."""
    linger = struct.pack("ii", 1, 0)
    with oc.Origin("--corpus", "synthetic") as o:
        for data in [b"GET /index.ht", H, H + b"\r\n" + b"GET /", b"POST / HTTP/1.1\r\n"
                     b"Content-Length: 100\r\n\r\nabc",
                     oc.get_request("/__bytes/50000000"),
                     oc.get_request("/index.html?delay=200"),
                     oc.get_request("/index.html?rate=1000")]:
            s = o.connect()
            s.sendall(data)
            time.sleep(0.02)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            s.close()
        time.sleep(0.3)
        body = urllib.request.urlopen(o.url + "/__bytes/10").read()
        assert body == b"abcdefghij"
        assert stats(o)["connections"] == 1


def test_max_connections():
    with oc.Origin("--corpus", "synthetic", "--max-connections", "10") as o:
        held = [o.connect() for _ in range(10)]
        time.sleep(0.2)
        extra = o.connect()
        extra.settimeout(3)
        try:
            extra.sendall(oc.get_request("/"))
            assert extra.recv(100) == b""
        except ConnectionResetError:
            pass
        extra.close()
        rd = oc.Reader(held[0])
        held[0].sendall(oc.get_request("/__bytes/2"))
        assert rd.response().body == b"ab"
        for s in held:
            s.close()


def test_thousand_connections():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1200:
        raise oc.Skip("open files limit %d" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with oc.Origin("--corpus", "synthetic") as o:
        socks = [o.connect() for _ in range(1000)]
        for s in socks:
            s.sendall(oc.get_request("/__bytes/100"))
        for s in socks:
            r = oc.Reader(s).response()
            assert r.status == 200 and len(r.body) == 100
        assert stats(o)["connections"] >= 1000
        for s in socks:
            s.close()


oc.run([test_malformed_requests, test_host_header, test_malformed_after_pipelined,
        test_header_limit_configurable, test_slowloris, test_idle_timeout,
        test_client_never_reads, test_client_resets, test_max_connections,
        test_thousand_connections])
