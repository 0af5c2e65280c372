# SPDX-License-Identifier: MIT
"""The TLS origin under hostile clients: garbage instead of a ClientHello,
an SSLv2-style hello, a 16 KiB server name, a handshake then silence, a
TLS 1.2 renegotiation, and 2,000 half-open handshakes. Each is answered
with an alert or a close, the origin never crashes, keeps serving others,
and its memory stays bounded."""

import importlib.util
import json
import os
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)



def records(msg_type, body, version=b"\x03\x01"):
    """A handshake message in records of at most 16 KiB."""
    hs = bytes([msg_type]) + struct.pack("!I", len(body))[1:] + body
    out = b""
    for i in range(0, len(hs), 16384):
        frag = hs[i:i + 16384]
        out += b"\x16" + version + struct.pack("!H", len(frag)) + frag
    return out


def hello_with_sni(name):
    """A TLS 1.2 ClientHello whose server name is name (any length)."""
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    exts = struct.pack("!HH", 0, len(sni)) + sni
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" +
            struct.pack("!H", 4) + b"\xc0\x2b\xc0\x2f" + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    return records(1, body)


def sslv2_hello():
    """An SSLv2-format ClientHello (two-byte header, MSB set) asking for
    TLS 1.2, as very old clients sent for compatibility."""
    specs = b"\x00\xc0\x2b\x00\x00\x2f\x01\x00\x80"
    challenge = os.urandom(16)
    body = (b"\x01\x03\x03" + struct.pack("!HHH", len(specs), 0,
                                          len(challenge)) +
            specs + challenge)
    return struct.pack("!H", 0x8000 | len(body)) + body


def answer(o, data, timeout=5):
    """Sends data on a new connection; returns (bytes back, closed)."""
    s = o.connect()
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        s.close()
        return b"", True
    out = b""
    s.settimeout(timeout)
    closed = False
    try:
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                closed = True
                break
            out += chunk
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    s.close()
    return out, closed


def serves(o):
    s = o.connect_tls()
    s.sendall(oc.get_request("/__bytes/6"))
    r = oc.Reader(s).response()
    s.close()
    return r.body == b"abcdef"


def stats(o):
    s = o.connect_tls()
    s.sendall(oc.get_request("/__stats"))
    st = json.loads(oc.Reader(s).response().body)
    s.close()
    return st


def alert_or_close(out, closed, what):
    assert closed, "%s: left open" % what
    # Nothing, or TLS alert records only (content type 21).
    i = 0
    while i < len(out):
        assert out[i] == 0x15, "%s: %r" % (what, out[:40])
        i += 5 + struct.unpack("!H", out[i + 3:i + 5])[0]


def test_not_a_client_hello():
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        cases = [
            ("plain HTTP", oc.get_request("/index.html")),
            ("random bytes", os.urandom(3000)),
            ("handshake record of garbage",
             b"\x16\x03\x01\x00\x40" + os.urandom(64)),
            ("record over 16 KiB + 2048", b"\x16\x03\x01\xff\xff" +
             b"\x00" * 100),
            ("server hello to a server", records(2, b"\x03\x03" + b"\x00" * 38)),
            ("SSLv2-style hello", sslv2_hello()),
            ("16 KiB server name", hello_with_sni(b"a" * (16 << 10))),
            ("alert first", b"\x15\x03\x03\x00\x02\x02\x28"),
            ("ChangeCipherSpec first", b"\x14\x03\x03\x00\x01\x01"),
        ]
        for what, data in cases:
            out, closed = answer(o, data)
            alert_or_close(out, closed, what)
            assert serves(o), what
        st = stats(o)["tls"]
        assert st["failed"] >= len(cases) - 1, st
        assert st["in_handshake"] == 0, st


def test_handshake_then_silence():
    """A finished handshake and no request: closed at the header timeout;
    a ClientHello and no more: at the handshake timeout."""
    with oc.Origin("--corpus", "synthetic", "--header-timeout", "500",
                   "--handshake-timeout", "700", tls=True) as o:
        t0 = time.monotonic()
        s = o.connect_tls()
        s.settimeout(5)
        try:
            assert s.recv(100) == b""
        except (ConnectionResetError, ssl.SSLError):
            pass
        assert 0.45 <= time.monotonic() - t0 < 2.5
        s.close()
        t0 = time.monotonic()
        out, closed = answer(o, oc.client_hello())
        assert closed and out[:1] == b"\x16"
        assert 0.65 <= time.monotonic() - t0 < 3
        assert serves(o)


def test_renegotiation_refused():
    """A TLS 1.2 client asking to renegotiate gets the no_renegotiation
    alert; no second handshake happens, and the origin serves on."""
    if not shutil.which("openssl"):
        raise oc.Skip("openssl not installed")
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        p = subprocess.Popen(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % o.port,
             "-CAfile", o.cafile, "-tls1_2"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        p.stdin.write(b"GET /__bytes/4 HTTP/1.1\r\nHost: x\r\n\r\n")
        p.stdin.flush()
        time.sleep(0.5)
        p.stdin.write(b"R\n")  # s_client: renegotiate
        p.stdin.flush()
        time.sleep(0.5)
        try:
            out = p.communicate(oc.get_request("/__bytes/5"), timeout=20)[0]
        except BrokenPipeError:
            out = p.stdout.read()
            p.wait(timeout=20)
        p.stdout.close()
        assert b"\r\n\r\nabcd" in out, out[-400:]
        assert b"RENEGOTIATING" in out
        assert b"no renegotiation" in out, out[-400:]
        st = stats(o)["tls"]
        assert st["handshakes"] == 2, st  # s_client's and ours, no third


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_two_thousand_half_open():
    """2,000 connections each send a ClientHello and stop: at most
    --max-handshakes hold a handshake, the rest wait unread; the origin's
    memory stays bounded; once they go, it serves as before."""
    n = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 100:
        raise oc.Skip("open-files limit %d is too low" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 100), hard))
    with oc.Origin("--corpus", "synthetic", "--handshake-timeout", "30000",
                   tls=True) as o:
        assert serves(o)
        before = rss_kib(o.proc.pid)
        hello = oc.client_hello("localhost")
        socks = []
        for _ in range(n):
            s = o.connect()
            s.sendall(hello)
            socks.append(s)
        time.sleep(1)
        during = rss_kib(o.proc.pid)
        grown = during - before
        print("RSS %d KiB before, %d KiB with %d half-open handshakes "
              "(+%.1f KiB each)" % (before, during, n, grown / n))
        # 256 handshakes of ~45 KiB (OpenSSL's) and 1,744 waiting
        # connections of a few hundred bytes, with generous room; ASan's
        # redzones and quarantine make RSS say nothing.
        with open(oc.HELPER, "rb") as f:
            sanitized = b"__asan_init" in f.read()
        assert sanitized or grown < 48 << 10, grown
        for s in socks:
            s.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                st = stats(o)
                break
            except (socket.timeout, ssl.SSLError, ConnectionError):
                assert time.monotonic() < deadline
        assert st["tls"]["in_handshake"] == 0 and st["tls"]["waiting"] == 0
        assert serves(o)


oc.run([test_not_a_client_hello, test_handshake_then_silence,
        test_renegotiation_refused, test_two_thousand_half_open])
