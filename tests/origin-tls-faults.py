# SPDX-License-Identifier: MIT
"""The TLS faults of the origin as a client sees them: those of the handshake
asked for by server name (tls-stall.localhost...), tls_cut by ?fault= and
by spec; python's ssl module on raw sockets, and curl's exit codes. Each
ends: with an error the client can name, or at the client's own timeout
(tls_stall), never with a page that looks whole."""

import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

PAGE = "/intro/tutorial01.html"
VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]



def after_hello(o, name, version=None, timeout=3):
    """Sends a ClientHello for name on a raw socket; returns (bytes back,
    how it ended: 'eof', 'reset' or 'open')."""
    s = o.connect()
    s.sendall(oc.client_hello(name, version))
    s.settimeout(timeout)
    out = b""
    end = "open"
    try:
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                end = "eof"
                break
            out += chunk
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        pass
    s.close()
    return out, end


def host(o, fault):
    return "tls-%s.localhost" % fault


def page(o, **kw):
    s = o.connect_tls(**kw)
    rd = oc.Reader(s)
    s.sendall(oc.get_request(PAGE, "Connection: close\r\n"))
    r = rd.response()
    s.close()
    return r


def stats(o):
    s = o.connect_tls()
    s.sendall(oc.get_request("/__stats"))
    st = json.loads(oc.Reader(s).response().body)
    s.close()
    return st


def test_stall():
    """The ClientHello is read and never answered; the idle timeout ends
    it on the server's side, the client's own timeout before that."""
    with oc.Origin("--corpus", "synthetic", "--idle-timeout", "1500",
                   tls=True) as o:
        t0 = time.monotonic()
        out, end = after_hello(o, host(o, "stall"), timeout=1)
        assert out == b"" and end == "open", (out[:20], end)
        out, end = after_hello(o, host(o, "stall"), timeout=4)
        assert out == b"" and end in ("eof", "reset"), end
        assert time.monotonic() - t0 >= 1.4
        try:
            o.connect_tls(name=host(o, "stall"), timeout=0.5)
            raise AssertionError("a handshake completed")
        except socket.timeout:
            pass
        # Names are compared without case; other names are served.
        out, end = after_hello(o, "TLS-Stall.LOCALHOST", timeout=0.5)
        assert out == b"" and end == "open"
        assert page(o, name="localhost").status == 200


def test_garbage():
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        for v in VERSIONS:
            out, end = after_hello(o, host(o, "garbage"), v)
            assert end == "eof", end
            assert out.startswith(b"this is no ServerHello"), out[:40]
        try:
            o.connect_tls(name=host(o, "garbage"))
            raise AssertionError("a handshake completed")
        except ssl.SSLError as e:
            assert "WRONG_VERSION_NUMBER" in str(e) or "record" in str(e), e


def test_reset():
    """Part of the server's first flight, then an RST."""
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        for v in VERSIONS:
            whole, end = after_hello(o, "localhost", v, timeout=0.5)
            assert end == "open" and whole[:1] == b"\x16"
            out, end = after_hello(o, host(o, "reset"), v)
            assert end == "reset", end
            # What arrived before the RST is a prefix of a handshake record.
            assert len(out) < len(whole), (len(out), len(whole))
            assert out == b"" or out[:3] in (b"\x16\x03\x03", b"\x16\x03\x01")
        try:
            o.connect_tls(name=host(o, "reset"))
            raise AssertionError("a handshake completed")
        except (ConnectionResetError, ssl.SSLError):
            pass


def test_wrong_name_and_expired():
    """Both certificates are in the --cert-out PEM, so what a verifying
    client refuses is the name, or the date; one that does not verify gets
    the page."""
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        for fault, why in [("wrong-name", "Hostname mismatch"),
                           ("expired", "certificate has expired")]:
            for v in VERSIONS:
                try:
                    o.connect_tls(o.tls_context(v), name=host(o, fault))
                    raise AssertionError("%s: verified" % fault)
                except ssl.SSLCertVerificationError as e:
                    assert why in e.verify_message, e.verify_message
                s = o.connect_tls(o.tls_context(v, verify=False),
                                  name=host(o, fault))
                der = s.getpeercert(binary_form=True)
                if fault == "wrong-name":
                    assert b"other.invalid" in der
                    assert b"127.0.0.1" not in der and b"localhost" not in der
                else:
                    assert b"tls-expired.localhost" in der
                rd = oc.Reader(s)
                s.sendall(oc.get_request(PAGE))
                r = rd.response()
                assert r.status == 200 and len(r.body) > 1000
                s.close()
        st = stats(o)["tls"]
        assert st["faults"] == 8, st


def read_tls_until_end(s):
    """Reads all of s (suppress_ragged_eofs off); returns (bytes, end):
    'close_notify' or 'no close_notify'."""
    out = b""
    try:
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                return out, "close_notify"
            out += chunk
    except ssl.SSLEOFError:
        return out, "no close_notify"


def test_cut():
    """tls_cut: half a Content-Length body, then a FIN without close_notify;
    short, for comparison, ends with close_notify."""
    with oc.Origin("--corpus", "synthetic", "--faults", "tls_cut=1",
                   tls=True) as o:
        for v in VERSIONS:
            for fault, want in [("", "no close_notify"),
                                ("?fault=tls_cut", "no close_notify"),
                                ("?fault=short", "close_notify"),
                                ("?fault=none&close=1", "close_notify")]:
                s = o.connect_tls(o.tls_context(v),
                                  suppress_ragged_eofs=False)
                s.sendall(oc.get_request(PAGE + fault))
                out, end = read_tls_until_end(s)
                s.close()
                head, _, body = out.partition(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ")[1].split(b"\r")[0])
                assert end == want, (fault, end)
                if fault.endswith("close=1"):
                    assert len(body) == length
                else:
                    assert len(body) == length // 2, (fault, len(body))
    # Over plain HTTP it is short.
    with oc.Origin("--corpus", "synthetic") as o:
        out, closed = oc.exchange(o, oc.get_request(PAGE + "?fault=tls_cut"))
        head, _, body = out.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r")[0])
        assert closed and len(body) == length // 2


def test_asked_for_wrongly():
    """A handshake's fault cannot ride on a request (400) nor be drawn by
    probability (refused, saying how to ask for it)."""
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        s = o.connect_tls()
        s.sendall(oc.get_request(PAGE + "?fault=tls_stall"))
        assert oc.Reader(s).response().status == 400
        s.close()
    p = subprocess.run([oc.HELPER, "check-faults", "reset=0.1,tls_reset=0.1"],
                       stdout=subprocess.PIPE, timeout=10)
    assert p.returncode == 1
    assert b"server name tls-reset.localhost" in p.stdout, p.stdout


def test_curl_sees_them():
    """curl's view, trusting the --cert-out PEM: each fault its own error,
    within the time it allows (tls_stall: its timeout)."""
    if not shutil.which("curl"):
        raise oc.Skip("curl not installed")
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        cases = [("https://tls-stall.localhost:%d" % o.port, 28),
                 ("https://tls-garbage.localhost:%d" % o.port, 35),
                 ("https://tls-reset.localhost:%d" % o.port, 35),
                 ("https://tls-wrong-name.localhost:%d" % o.port, 60),
                 ("https://tls-expired.localhost:%d" % o.port, 60),
                 (o.url + PAGE + "?fault=tls_cut&x=", 18),
                 (o.url, 0)]
        for base, code in cases:
            t0 = time.monotonic()
            p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time",
                                "1", "--cacert", o.cafile, base + PAGE],
                               stderr=subprocess.PIPE, timeout=30)
            assert p.returncode == code, (base, p.returncode, p.stderr)
            assert time.monotonic() - t0 < 3
        p = subprocess.run(["curl", "-sS", "-k", "-o", "/dev/null", "-w",
                            "%{http_code}",
                            "https://tls-expired.localhost:%d%s" % (o.port,
                                                                    PAGE)],
                           stdout=subprocess.PIPE, timeout=30)
        assert p.stdout == b"200"


oc.run([test_stall, test_garbage, test_reset, test_wrong_name_and_expired,
        test_cut, test_asked_for_wrongly, test_curl_sees_them])
