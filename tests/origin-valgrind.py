# SPDX-License-Identifier: MIT
"""The origin under valgrind, over TCP and over TLS: a short mixed load
(pages, pipelining, malformed requests, faults, client resets, hostile TLS
clients, connections still busy at the end), then SIGTERM: it must stop
cleanly with no leak and no error."""

import importlib.util
import os
import shutil
import socket
import ssl
import struct
import sys
import time

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

VALGRIND = ["valgrind", "--quiet", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--error-exitcode=1"]


def load(o):
    linger = struct.pack("ii", 1, 0)
    s = o.connect(timeout=30)
    rd = oc.Reader(s)
    for path in ["/", "/intro/tutorial01.html", "/__index", "/__stats",
                 "/missing", "/__bytes/70000", "/index.html?delay=20",
                 "/index.html?rate=500000", "/x?fault=http503",
                 "/index.html?fault=huge_header",
                 "/index.html?fault=many_headers"]:
        s.sendall(oc.get_request(path))
        assert rd.response().status in (200, 404, 503), path
    s.sendall(b"".join(oc.get_request("/__bytes/%d" % i) for i in range(1, 30)))
    for i in range(1, 30):
        assert len(rd.response().body) == i
    for data in [b"GET / HTTP/1.1\r\nX : y\r\n\r\n", b"\x00\x01garbage\r\n\r\n",
                 b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n",
                 b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\n"]:
        out, closed = oc.exchange(o, data, timeout=20)
        assert oc.status_of(out) in (400, 431) and closed
    for f in ["reset", "reset_body", "short", "close", "malformed", "http09",
              "chunked_cut", "bad_chunk", "bad_length", "redirect_loop",
              "gzip_bomb", "close_idle"]:
        oc.exchange(o, oc.get_request("/index.html?fault=" + f,
                                      "Connection: close\r\n"), timeout=20)
    for data in [b"GET /index", oc.get_request("/__bytes/30000000")]:
        c = o.connect()
        c.sendall(data)
        time.sleep(0.1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        c.close()
    # Left busy for the shutdown: a stall, a delay, a trickle, an endless
    # body, a huge body nobody reads, a half-sent head.
    busy = []
    for path in ["/?fault=stall", "/?delay=60000", "/?fault=trickle",
                 "/?fault=endless", "/?fault=huge_body", "/?fault=continue"]:
        c = o.connect()
        c.sendall(oc.get_request(path))
        busy.append(c)
    c = o.connect()
    c.sendall(b"GET / HTTP/1.1\r\nHost")
    busy.append(c)
    time.sleep(0.5)
    s.close()
    return busy



def load_tls(o):
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    linger = struct.pack("ii", 1, 0)
    for v in (v12, v13):
        ctx = o.tls_context(v)
        s = o.connect_tls(ctx, timeout=30)
        rd = oc.Reader(s)
        for path in ["/intro/tutorial01.html", "/__bytes/200000", "/__stats",
                     "/index.html?delay=20&rtt=10", "/x?fault=http503"]:
            s.sendall(oc.get_request(path))
            assert rd.response().status in (200, 404), path
        s.sendall(b"".join(oc.get_request("/__bytes/%d" % i)
                           for i in range(1, 20)))
        for i in range(1, 20):
            assert len(rd.response().body) == i
        sess = s.session
        s.close()
        s = o.connect_tls(ctx, session=sess, timeout=30)
        s.sendall(oc.get_request("/__bytes/5", "Connection: close\r\n"))
        assert oc.Reader(s).response().body == b"abcde"
        s.close()
        for f in ["tls_cut", "reset_body", "short", "reset"]:
            s = o.connect_tls(ctx, timeout=30)
            s.sendall(oc.get_request("/index.html?fault=" + f))
            try:
                while s.recv(1 << 16):
                    pass
            except (ConnectionResetError, ssl.SSLError):
                pass
            s.close()
        for fault in ["garbage", "reset", "wrong-name", "expired"]:
            try:
                o.connect_tls(o.tls_context(v, verify=False), timeout=30,
                              name="tls-%s.localhost" % fault).close()
            except (ConnectionResetError, ssl.SSLError):
                pass
    for data in [b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x10" +
                 b"\x01" * 16, b"\x80\x2e\x01\x03\x03" + b"\x00" * 45]:
        oc.exchange(o, data, timeout=20)
    # A body cut by the client's RST.
    s = o.connect_tls(timeout=30)
    s.sendall(oc.get_request("/__bytes/30000000"))
    time.sleep(0.1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    s.close()
    # Left busy for the shutdown: half-open handshakes, a stalled one, one
    # waiting for a slot, a TLS body nobody reads, a handshake done and no
    # request.
    c = o.connect_tls(timeout=30)
    c.sendall(oc.get_request("/?fault=huge_body"))
    busy = [c, o.connect_tls(timeout=30)]
    for name in ["localhost", "tls-stall.localhost", "localhost", "localhost"]:
        c = o.connect()
        c.sendall(oc.client_hello(name))
        busy.append(c)
    busy.append(o.connect())
    time.sleep(0.5)
    return busy


def run_under_valgrind(load_fn, tls):
    if not shutil.which("valgrind"):
        raise oc.Skip("valgrind not installed")
    with open(oc.HELPER, "rb") as f:
        image = f.read()
    if b"__asan_init" in image or b"__tsan_init" in image:
        raise oc.Skip("sanitizer build: valgrind cannot run it")
    args = ["--corpus", "synthetic"]
    if tls:
        args += ["--max-handshakes", "2"]
    o = oc.Origin(*args, valgrind=VALGRIND, tls=tls)
    try:
        busy = load_fn(o)
        err = o.stop(timeout=120)
    except BaseException:
        o.kill()
        raise
    for c in busy:
        c.close()
    print(err)


def test_valgrind_clean_stop():
    run_under_valgrind(load, False)


def test_valgrind_tls_clean_stop():
    run_under_valgrind(load_tls, True)


oc.run([test_valgrind_clean_stop, test_valgrind_tls_clean_stop])
