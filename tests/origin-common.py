# SPDX-License-Identifier: MIT
"""Shared pieces of the origin's python tests: start the helper (through
fbtest.Origin, the one origin starter), talk raw HTTP/1.1 over sockets, run
a list of test functions with unittest.

Loaded by the test scripts with importlib (the file name has a dash)."""

import os
import select
import socket
import shutil
import ssl
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fbtest  # noqa: E402

HELPER = None


def setup(argv):
    """The helper path is the first argument of every origin test script."""
    global HELPER
    if len(argv) < 2:
        sys.exit("usage: %s ORIGIN_HELPER" % argv[0])
    HELPER = argv[1]


class Origin(fbtest.Origin):
    """The helper serving with args; stop() checks a clean exit. With
    tls=True it serves TLS, its certificates' PEM in self.cafile."""

    def __init__(self, *args, valgrind=None, tls=False):
        self.tmp = None
        self.cafile = None
        if tls:
            self.tmp = tempfile.mkdtemp(prefix="fb-origin-tls-")
            self.cafile = os.path.join(self.tmp, "origin.pem")
            args += ("--tls", "--cert-out", self.cafile)
        try:
            super().__init__([HELPER, *args], wrap=valgrind or ())
        except BaseException:
            self._rmtmp()
            raise

    def _rmtmp(self):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def stop(self, timeout=10):
        """SIGTERM; fails unless the helper exits 0. Returns its stderr."""
        rc = super().stop(timeout)
        self._rmtmp()
        assert rc is not None, "origin did not stop on SIGTERM"
        assert rc == 0, "origin exited with %d: %s" % (rc, self.stderr)
        return self.stderr

    def kill(self):
        super().kill()
        self._rmtmp()

    def tls_context(self, version=None, verify=True):
        """A client context trusting the origin's PEM; version pins
        ssl.TLSVersion.TLSv1_2 or TLSv1_3."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            ctx.load_verify_locations(self.cafile)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def connect_tls(self, ctx=None, name="127.0.0.1", session=None,
                    timeout=10, **kw):
        """A TLS connection, handshake done; name is the server name to
        ask for (an IP address sends none)."""
        ctx = ctx or self.tls_context()
        s = ctx.wrap_socket(self.connect(timeout), server_hostname=name,
                            session=session, **kw)
        return s


def get_request(path, extra="", method="GET", version="HTTP/1.1"):
    return ("%s %s %s\r\nHost: origin\r\n%s\r\n" %
            (method, path, version, extra)).encode()


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping extra bytes."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_until(self, sep):
        while sep not in self.buf:
            self._more()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_n(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head_only=False):
        head = self.read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = lines[0].split(" ", 2)
        assert version == "HTTP/1.1", lines[0]
        headers = []
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                headers.append((k, v.strip()))
        r = Response(int(status), reason, headers, b"", head)
        cl = r.header("Content-Length")
        if not head_only and cl is not None:
            r.body = self.read_n(int(cl))
        return r

    def at_eof(self, timeout=5):
        """True when the peer closed (after any buffered bytes)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    return True
                self.buf += data
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def exchange(origin, data, timeout=5):
    """Sends data on a new connection, returns everything read until the
    server closes (or timeout), and whether it closed."""
    s = origin.connect(timeout)
    try:
        s.sendall(data)
        out = b""
        closed = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], deadline - time.monotonic())
            if not r:
                break
            try:
                chunk = s.recv(1 << 16)
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
        return out, closed
    finally:
        s.close()


def client_hello(name=None, version=None):
    """A real ClientHello's bytes for server name `name` (None: no SNI),
    pinned to one TLS version when given, from python's ssl on memory
    BIOs."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def status_of(data):
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data[9:12])


def run(tests):
    """Runs the test functions as unittest cases; exits 1 when one failed,
    77 when every one skipped."""
    def method(fn):
        def call(self):
            fn()
        call.__doc__ = fn.__doc__
        return call

    case = type("Origin", (unittest.TestCase,),
                {t.__name__: method(t) for t in tests})
    fbtest.run(unittest.TestSuite(case(t.__name__) for t in tests))


# A test that cannot run here raises Skip("why").
Skip = unittest.SkipTest


def django_dir():
    d = os.environ.get("FB_DJANGO_DOCS", "/usr/share/doc/python-django-doc/html")
    return d if os.path.isdir(d) else None
