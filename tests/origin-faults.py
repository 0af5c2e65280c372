# SPDX-License-Identifier: MIT
"""Every fault mode of the origin, observed on the wire as specified (raw
sockets), a few through curl, and fault selection by seeded probability:
the same seed gives the same fault for the same URL."""

import importlib.util
import os
import select
import shutil
import socket
import subprocess
import sys
import time
import zlib

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

PAGE = "/intro/tutorial01.html"
_page = None


def page_body(o):
    global _page
    if _page is None:
        out, _ = oc.exchange(o, oc.get_request(PAGE, "Connection: close\r\n"))
        _page = out.split(b"\r\n\r\n", 1)[1]
    return _page


def read_for(s, seconds, limit=1 << 30):
    """Reads for up to seconds; returns (bytes, how it ended): 'eof',
    'reset' or 'open'."""
    out = b""
    deadline = time.monotonic() + seconds
    while len(out) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return out, "open"
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return out, "open"
        try:
            chunk = s.recv(1 << 16)
        except ConnectionResetError:
            return out, "reset"
        if not chunk:
            return out, "eof"
        out += chunk
    return out, "open"


def fault(o, name, seconds=3, path=PAGE, extra="", limit=1 << 30, close=True):
    """The response to path?fault=name; with close, the request asks for
    Connection: close, so a complete answer ends with EOF at once."""
    s = o.connect()
    s.sendall(oc.get_request("%s?fault=%s%s" % (path, name, extra),
                             "Connection: close\r\n" if close else ""))
    out, end = read_for(s, seconds, limit)
    s.close()
    return out, end


def split(out):
    head, _, body = out.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def header(head, name):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.lower() == name.lower():
            return v.strip()
    return None


def test_reset_and_close():
    with oc.Origin("--corpus", "synthetic") as o:
        out, end = fault(o, "reset")
        assert out == b"" and end == "reset", (out[:50], end)
        out, end = fault(o, "close")
        assert out == b"" and end == "eof", (out[:50], end)


def test_reset_body_and_short():
    with oc.Origin("--corpus", "synthetic") as o:
        body = page_body(o)
        out, end = fault(o, "reset_body")
        head, got = split(out)
        assert head.startswith("HTTP/1.1 200 OK")
        assert int(header(head, "Content-Length")) == len(body)
        assert end == "reset" and 0 < len(got) < len(body), (end, len(got))
        assert body.startswith(got)
        out, end = fault(o, "short")
        head, got = split(out)
        assert int(header(head, "Content-Length")) == len(body)
        assert end == "eof" and len(got) == len(body) // 2, (end, len(got))
        assert body.startswith(got)


def test_stall_and_continue():
    with oc.Origin("--corpus", "synthetic") as o:
        out, end = fault(o, "stall", seconds=1, close=False)
        assert out == b"" and end == "open"
        out, end = fault(o, "continue", seconds=1, close=False)
        assert out == b"HTTP/1.1 100 Continue\r\n\r\n" and end == "open", out
    with oc.Origin("--corpus", "synthetic", "--idle-timeout", "300") as o:
        # A stall is bounded by the idle timeout.
        out, end = fault(o, "stall", seconds=3, close=False)
        assert out == b"" and end == "eof", end


def test_slow_headers_and_trickle():
    with oc.Origin("--corpus", "synthetic") as o:
        body = page_body(o)
        s = o.connect()
        t0 = time.monotonic()
        s.sendall(oc.get_request(PAGE + "?fault=slow_headers&rate=200",
                                 "Connection: close\r\n"))
        first, _ = read_for(s, 0.3)
        rest, end = read_for(s, 5, limit=10 ** 9)
        elapsed = time.monotonic() - t0
        s.close()
        head, got = split(first + rest)
        # About 110 head bytes at 200 B/s: over 0.4 s, in pieces.
        assert 0 < len(first) < len(head), len(first)
        assert elapsed >= 0.4, elapsed
        assert got == body
        out, end = fault(o, "trickle", seconds=2.5, close=False)
        head, got = split(out)
        assert int(header(head, "Content-Length")) == len(body)
        assert 2 <= len(got) <= 4 and end == "open", len(got)


def test_status_faults():
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        rd = oc.Reader(s)
        for name, status in [("http500", 500), ("http503", 503)]:
            s.sendall(oc.get_request(PAGE + "?fault=" + name))
            r = rd.response()
            assert r.status == status
        s.close()
        body = page_body(o)
        out, end = fault(o, "malformed")
        assert out.startswith(b"HTTP/1.1 2OO OK\r\n") and end == "eof"
        out, end = fault(o, "http09")
        assert out == body and end == "eof"


def test_chunked_faults():
    with oc.Origin("--corpus", "synthetic") as o:
        body = page_body(o)
        out, end = fault(o, "chunked_cut")
        head, rest = split(out)
        assert header(head, "Transfer-Encoding") == "chunked"
        size, _, data = rest.partition(b"\r\n")
        n = int(size, 16)
        assert 0 < n < len(body) and data == body[:n] + b"\r\n", n
        assert not rest.endswith(b"0\r\n\r\n") and end == "eof"
        out, end = fault(o, "bad_chunk")
        head, rest = split(out)
        assert header(head, "Transfer-Encoding") == "chunked"
        assert rest.startswith(b"zz\r\n") and end == "eof"
        out, end = fault(o, "endless", seconds=1, limit=4 << 20, close=False)
        head, rest = split(out)
        assert header(head, "Transfer-Encoding") == "chunked"
        assert len(rest) >= (4 << 20) - len(head) - 4 and end == "open"
        assert rest.startswith(b"4000\r\nabcd")


def test_length_faults():
    with oc.Origin("--corpus", "synthetic") as o:
        body = page_body(o)
        out, end = fault(o, "bad_length")
        head, got = split(out)
        assert header(head, "Content-Length") == "x%d" % len(body)
        assert got == body and end == "eof"
        out, end = fault(o, "negative_length")
        head, got = split(out)
        assert header(head, "Content-Length") == "-%d" % len(body)
        assert got == body and end == "eof"


def test_header_faults():
    with oc.Origin("--corpus", "synthetic") as o:
        body = page_body(o)
        out, end = fault(o, "huge_header", seconds=2)
        head, got = split(out)
        huge = header(head, "X-Huge")
        assert huge is not None and len(huge) == 100 * 1024
        assert got == body and end == "eof"
        out, end = fault(o, "many_headers", seconds=2)
        head, got = split(out)
        assert sum(1 for l in head.split("\r\n") if l.startswith("X-Header-")) == 5000
        assert got == body


def test_redirect_faults():
    with oc.Origin("--corpus", "synthetic") as o:
        out, _ = fault(o, "redirect_loop", seconds=1)
        head, _ = split(out)
        assert head.startswith("HTTP/1.1 302 Found")
        assert header(head, "Location") == PAGE + "?fault=redirect_loop"
        out, _ = fault(o, "redirect_file", seconds=1)
        head, _ = split(out)
        assert header(head, "Location") == "file:///etc/passwd"


def test_big_bodies():
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        s.sendall(oc.get_request(PAGE + "?fault=gzip_bomb"))
        rd = oc.Reader(s)
        r = rd.response()
        assert r.header("Content-Encoding") == "gzip"
        assert len(r.body) < 2 << 20
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        total = 0
        data = r.body
        while data:
            chunk = d.decompress(data, 64 << 20)
            total += len(chunk)
            assert chunk.count(0) == len(chunk)
            data = d.unconsumed_tail
        total += len(d.flush())
        assert d.eof and total == 1 << 30, total
        s.close()
        out, end = fault(o, "huge_body", seconds=2, limit=8 << 20, close=False)
        head, got = split(out)
        assert header(head, "Content-Length") == str(1 << 30)
        assert end == "open" and got.startswith(b"abcdefgh")


def test_close_idle():
    with oc.Origin("--corpus", "synthetic") as o:
        body = page_body(o)
        s = o.connect()
        s.sendall(oc.get_request(PAGE + "?fault=close_idle"))
        rd = oc.Reader(s)
        r = rd.response()
        assert r.status == 200 and r.body == body
        assert r.header("Connection") is None  # looks reusable...
        assert rd.at_eof()                     # ...but is closed
        s.close()


def test_curl_sees_faults():
    if not shutil.which("curl"):
        raise oc.Skip("curl not installed")
    # curl 7.88 exit codes: 56 recv failure, 18 partial file, 8 weird reply,
    # 47 too many redirects, 1 unsupported protocol (or response code, or
    # HTTP/0.9), 28 timeout, 52 empty reply, 27 header too large.
    cases = [("reset", 56), ("reset_body", 56), ("short", 18), ("malformed", 1),
             ("redirect_loop", 47), ("redirect_file", 1), ("stall", 28),
             ("close", 52), ("http09", 1), ("bad_length", 8),
             ("negative_length", 8), ("bad_chunk", 56), ("chunked_cut", 18),
             ("huge_header", 27), ("continue", 28), ("trickle", 28)]
    with oc.Origin("--corpus", "synthetic") as o:
        for name, want in cases:
            rc = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-L", "--max-redirs", "5",
                 "-m", "1", "%s%s?fault=%s" % (o.url, PAGE, name)]).returncode
            assert rc == want, (name, rc)


def test_seeded_faults():
    """--faults picks by a hash of (seed, target): what the helper's pick
    predicts is what the wire shows, in any order; another seed differs."""
    targets = ["/__bytes/%d" % i for i in range(1, 41)]
    spec = "reset=0.3,http503=0.2"
    pick = subprocess.run([oc.HELPER, "pick", spec, "7"] + targets,
                          stdout=subprocess.PIPE, check=True).stdout.split()
    other = subprocess.run([oc.HELPER, "pick", spec, "8"] + targets,
                           stdout=subprocess.PIPE, check=True).stdout.split()
    assert pick != other
    assert 3 < pick.count(b"reset") < 25 and 1 < pick.count(b"http503") < 20
    for order in (targets, list(reversed(targets))):
        with oc.Origin("--corpus", "synthetic", "--faults", spec, "--seed", "7") as o:
            for t in order:
                s = o.connect()
                s.sendall(oc.get_request(t, "Connection: close\r\n"))
                out, end = read_for(s, 2)
                s.close()
                want = pick[targets.index(t)]
                if want == b"reset":
                    assert out == b"" and end == "reset", t
                elif want == b"http503":
                    assert oc.status_of(out) == 503, t
                else:
                    assert oc.status_of(out) == 200, t
                # fault=none in the query overrides the spec.
                s = o.connect()
                s.sendall(oc.get_request(t + "?fault=none",
                                         "Connection: close\r\n"))
                out, _ = read_for(s, 2)
                s.close()
                assert oc.status_of(out) == 200


def test_bad_spec_rejected():
    for spec, reason in [("reset=2", "not in [0, 1]"),
                         ("boom=0.1", "unknown fault 'boom'"),
                         ("reset=0.7,stall=0.7", "more than 1")]:
        p = subprocess.run([oc.HELPER, "--corpus", "synthetic", "--faults", spec],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        assert p.returncode != 0 and p.stdout == b""
        assert reason in p.stderr.decode(), p.stderr


def test_help_lists_faults():
    """`fetchbench origin --help` names every fault the origin knows (the
    list check-faults gives for a bad name)."""
    fb = os.environ.get("FB_BIN")
    if not fb:
        raise oc.Skip("FB_BIN not set")
    p = subprocess.run([oc.HELPER, "check-faults", "nope=1"],
                       stdout=subprocess.PIPE, timeout=10)
    names = p.stdout.decode().split("(valid: ", 1)[1].rstrip(")\n")
    names = names.split(", ")
    assert len(names) >= 24, names
    out = subprocess.run([fb, "origin", "--help"], stdout=subprocess.PIPE,
                         check=True, timeout=10).stdout.decode()
    for name in names:
        assert "\n  %s: " % name in out, name


oc.run([test_reset_and_close, test_reset_body_and_short, test_stall_and_continue,
        test_slow_headers_and_trickle, test_status_faults, test_chunked_faults,
        test_length_faults, test_header_faults, test_redirect_faults,
        test_big_bodies, test_close_idle, test_curl_sees_faults,
        test_seeded_faults, test_bad_spec_rejected, test_help_lists_faults])
