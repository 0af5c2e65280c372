# SPDX-License-Identifier: MIT
"""The origin over TLS: every page byte-exact over TLS 1.2 and 1.3 (python's
ssl module, curl with the --cert-out PEM), keep-alive and pipelining,
resumption on and off, ALPN, emulated round trips (--rtt, ?rtt=) as a
client sees them, the handshake bounds (timeout, slots), memory per
connection, and bad certificate options refused by the command."""

import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3
# Lower bounds are the emulation's own (the origin never answers early);
# upper bounds are generous: a shared 2-core machine.
SLACK = 0.06


def corpus_files(tmp):
    """{path: bytes} of the synthetic corpus, as the helper dumps it."""
    root = os.path.join(tmp, "corpus")
    subprocess.run([oc.HELPER, "--corpus", "synthetic", "dump", root],
                   check=True)
    pages = {}
    for d, _, files in os.walk(root):
        for f in files:
            full = os.path.join(d, f)
            with open(full, "rb") as fh:
                pages[os.path.relpath(full, root)] = fh.read()
    return pages


def stats(o, **kw):
    s = o.connect_tls(**kw) if o.cafile else o.connect()
    rd = oc.Reader(s)
    s.sendall(oc.get_request("/__stats"))
    r = rd.response()
    s.close()
    return json.loads(r.body)


def test_every_page_both_versions():
    """Each page of the corpus, byte for byte, on one keep-alive
    connection per TLS version; ALPN says http/1.1."""
    tmp = tempfile.mkdtemp(prefix="fb-tls-pages-")
    try:
        pages = corpus_files(tmp)
    finally:
        shutil.rmtree(tmp)
    assert len(pages) > 600, len(pages)
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        for version, name in [(TLS12, "TLSv1.2"), (TLS13, "TLSv1.3")]:
            s = o.connect_tls(o.tls_context(version))
            assert s.version() == name, s.version()
            assert s.selected_alpn_protocol() == "http/1.1"
            rd = oc.Reader(s)
            for path, body in sorted(pages.items()):
                s.sendall(oc.get_request("/" + path))
                r = rd.response()
                assert r.status == 200, (path, r.status)
                assert r.body == body, path
            s.close()
        st = stats(o)
        assert st["tls"]["tls12"] >= 1 and st["tls"]["tls13"] >= 1, st
        assert st["tls"]["body_path"] == "SSL_write"
        assert st["body_ssl_write"] > sum(len(b) for b in pages.values())
        assert st["body_sendfile"] == 0, st


def test_curl_cacert():
    """curl trusting only the --cert-out PEM fetches pages over one
    connection, byte-exact, over TLS 1.2 and 1.3; without it, it refuses."""
    if not shutil.which("curl"):
        raise oc.Skip("curl not installed")
    tmp = tempfile.mkdtemp(prefix="fb-tls-curl-")
    try:
        pages = corpus_files(tmp)
        want = sorted(pages)[:40] + ["intro/tutorial01.html"]
        with oc.Origin("--corpus", "synthetic", tls=True) as o:
            for flag in ["--tlsv1.2 --tls-max 1.2", "--tlsv1.3"]:
                cfg = os.path.join(tmp, "curl.cfg")
                with open(cfg, "w") as f:
                    for i, p in enumerate(want):
                        f.write('url = "%s/%s"\noutput = "%s/out%d"\n'
                                % (o.url, p, tmp, i))
                p = subprocess.run(
                    ["curl", "-sS", "--fail", "--cacert", o.cafile,
                     "-w", "%{num_connects}\n", "-K", cfg] + flag.split(),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    timeout=60)
                assert p.returncode == 0, p.stderr
                connects = [int(x) for x in p.stdout.split()]
                assert sum(connects) == 1, connects  # kept alive
                for i, path in enumerate(want):
                    with open("%s/out%d" % (tmp, i), "rb") as f:
                        assert f.read() == pages[path], path
            p = subprocess.run(["curl", "-sS", "-o", "/dev/null",
                                o.url + "/index.html"],
                               stderr=subprocess.PIPE, timeout=30)
            assert p.returncode == 60, (p.returncode, p.stderr)
    finally:
        shutil.rmtree(tmp)


def test_pipelining_and_keepalive():
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        s = o.connect_tls()
        rd = oc.Reader(s)
        reqs = b"".join(oc.get_request("/__bytes/%d" % n)
                        for n in (1, 100000, 2, 70000, 3))
        s.sendall(reqs)
        bodies = [rd.response().body for _ in range(5)]
        assert [len(b) for b in bodies] == [1, 100000, 2, 70000, 3]
        alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
        assert bodies[1] == (alphabet * 1600)[:100000]
        # Split across records and reads, then HEAD and close.
        for piece in [b"GET /__bytes/5 HT", b"TP/1.1\r\nHo", b"st: x\r\n\r\n"]:
            s.sendall(piece)
            time.sleep(0.02)
        assert rd.response().body == b"abcde"
        s.sendall(oc.get_request("/__bytes/9", "Connection: close\r\n",
                                 method="HEAD"))
        r = rd.response(head_only=True)
        assert r.status == 200 and r.header("Content-Length") == "9"
        assert rd.at_eof(), "not closed after Connection: close"
        s.close()


def resumed_pair(o, version):
    """Two connections, the second offering the first's session; returns
    whether it was resumed. TLS 1.3 sends its ticket after the handshake,
    so a request is made on the first connection before it closes."""
    ctx = o.tls_context(version)
    s = o.connect_tls(ctx)
    rd = oc.Reader(s)
    s.sendall(oc.get_request("/__bytes/10"))
    assert rd.response().body == b"abcdefghij"
    sess = s.session
    s.close()
    s2 = o.connect_tls(ctx, session=sess)
    rd = oc.Reader(s2)
    s2.sendall(oc.get_request("/__bytes/3"))
    assert rd.response().body == b"abc"
    reused = s2.session_reused
    s2.close()
    return reused


def test_resumption_on_and_off():
    with oc.Origin("--corpus", "synthetic", tls=True) as o:
        assert resumed_pair(o, TLS12)
        assert resumed_pair(o, TLS13)
        assert stats(o)["tls"]["resumed"] == 2
    with oc.Origin("--corpus", "synthetic", "--tls-resume", "0",
                   tls=True) as o:
        assert not resumed_pair(o, TLS12)
        assert not resumed_pair(o, TLS13)
        assert stats(o)["tls"]["resumed"] == 0


def test_openssl_sess_out_in():
    """openssl s_client's -sess_out/-sess_in over TLS 1.2: Reused with
    resumption; without, the server gives no session ID or ticket, so
    s_client has nothing to write (or, if it did, gets a New session)."""
    if not shutil.which("openssl"):
        raise oc.Skip("openssl not installed")
    for resume, want in [("1", b"Reused,"), ("0", b"New,")]:
        with oc.Origin("--corpus", "synthetic", "--tls-resume", resume,
                       tls=True) as o:
            sess = os.path.join(o.tmp, "sess.pem")
            base = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % o.port,
                    "-CAfile", o.cafile, "-tls1_2", "-ign_eof"]
            req = b"GET /__bytes/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            p = subprocess.run(base + ["-sess_out", sess], input=req,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            assert b"\r\n\r\nabcd" in p.stdout, p.stdout[-300:]
            if resume == "0" and not os.path.exists(sess):
                continue
            p = subprocess.run(base + ["-sess_in", sess], input=req,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            assert want in p.stdout, (resume, p.stdout[:400])


def ttfb(s, path):
    t0 = time.monotonic()
    s.sendall(oc.get_request(path))
    rd = oc.Reader(s)
    r = rd.response()
    return time.monotonic() - t0, r


def test_rtt_as_clients_see_it():
    """--rtt 50: a page on a new plain connection ~100 ms (TCP + request),
    on a new TLS 1.3 one ~150 (+ handshake), TLS 1.2 ~200, on a kept-alive
    one ~50, each measured from connect() to the last byte."""
    rtt = 0.05
    with oc.Origin("--corpus", "synthetic", "--rtt", "50") as o:
        t0 = time.monotonic()
        s = o.connect()
        t, r = ttfb(s, "/__bytes/100")
        fresh = time.monotonic() - t0
        assert r.body[:3] == b"abc"
        again, _ = ttfb(s, "/__bytes/100")
        s.close()
        assert 2 * rtt <= fresh < 2 * rtt + SLACK * 2, fresh
        assert rtt <= again < rtt + SLACK * 2, again
    with oc.Origin("--corpus", "synthetic", "--rtt", "50", tls=True) as o:
        for version, rtts in [(TLS13, 3), (TLS12, 4)]:
            ctx = o.tls_context(version)
            t0 = time.monotonic()
            s = o.connect_tls(ctx)
            _, r = ttfb(s, "/__bytes/100")
            fresh = time.monotonic() - t0
            again, _ = ttfb(s, "/__bytes/100")
            s.close()
            assert rtts * rtt <= fresh < rtts * rtt + SLACK * 2, (version,
                                                                  fresh)
            assert rtt <= again < rtt + SLACK * 2, (version, again)


def test_rtt_query_and_delay():
    """?rtt= from its own response on, on that connection; --delay adds to
    the round trip; a client that waits before sending pays no TCP round
    trip."""
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        t, _ = ttfb(s, "/__bytes/5")
        assert t < 0.04, t
        t, _ = ttfb(s, "/__bytes/5?rtt=80")
        assert 0.08 <= t < 0.08 + SLACK * 2, t
        t, _ = ttfb(s, "/__bytes/5")  # the round trip stays
        assert 0.08 <= t < 0.08 + SLACK * 2, t
        s.close()
        s = o.connect()
        t, _ = ttfb(s, "/__bytes/5?rtt=60&delay=30")
        assert 0.15 <= t < 0.15 + SLACK * 2, t  # TCP + request + delay
        s.close()
        s = o.connect()
        time.sleep(0.1)
        t, _ = ttfb(s, "/__bytes/5?rtt=60")
        assert 0.06 <= t < 0.06 + SLACK * 2, t
        s.close()


def test_curl_rtt():
    if not shutil.which("curl"):
        raise oc.Skip("curl not installed")
    with oc.Origin("--corpus", "synthetic", "--rtt", "50", tls=True) as o:
        out = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "--cacert", o.cafile, "-w",
             "%{time_appconnect} %{time_starttransfer} %{time_total}",
             o.url + "/intro/tutorial01.html"],
            stdout=subprocess.PIPE, check=True, timeout=30).stdout.split()
        app, first, total = (float(x) for x in out)
        assert 0.1 <= app < 0.1 + SLACK * 2, app
        assert 0.15 <= first < 0.15 + SLACK * 2, first



def first_bytes(s, timeout):
    s.settimeout(timeout)
    try:
        return s.recv(1 << 16)
    except socket.timeout:
        return None


def wait_closed(s, timeout):
    """Seconds until the peer closes s (reading what comes), or None."""
    t0 = time.monotonic()
    s.settimeout(timeout)
    try:
        while s.recv(1 << 16):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return None
    return time.monotonic() - t0


def test_handshake_timeout_and_slots():
    """A ClientHello then silence is closed at the handshake timeout, counted
    from the accept; beyond --max-handshakes, a new connection waits, unread,
    until a slot frees."""
    with oc.Origin("--corpus", "synthetic", "--handshake-timeout", "1000",
                   "--max-handshakes", "2", tls=True) as o:
        hello = oc.client_hello()
        t0 = time.monotonic()
        a, b, c = o.connect(), o.connect(), o.connect()
        for s in (a, b):
            s.sendall(hello)
            assert first_bytes(s, 2)[:1] == b"\x16"  # a ServerHello record
        c.sendall(hello)
        assert first_bytes(c, 0.3) is None  # waiting for a slot
        a.close()
        assert first_bytes(c, 0.5)[:1] == b"\x16"
        for s in (b, c):
            t = wait_closed(s, 5)
            assert t is not None, "still open after 5 s"
            assert 0.9 <= time.monotonic() - t0 < 2.5
            s.close()
        st = stats(o)["tls"]
        assert st["timeouts"] == 2, st
        assert st["in_handshake"] == 0 and st["waiting"] == 0, st


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_memory_per_connection():
    """OpenSSL's heap per idle established connection (after a request)
    and per connection in the middle of a large body: bounded."""
    n = 200
    with oc.Origin("--corpus", "synthetic", "--max-write-queue", "65536",
                   tls=True) as o:
        base = stats(o)["tls"]["heap_bytes"]
        if base == 0:
            raise oc.Skip("the helper does not count OpenSSL's heap")
        conns = []
        for _ in range(n):
            s = o.connect_tls()
            rd = oc.Reader(s)
            s.sendall(oc.get_request("/__bytes/100"))
            assert len(rd.response().body) == 100
            conns.append(s)
        idle = (stats(o)["tls"]["heap_bytes"] - base) / n
        # In flight: a body larger than the socket buffers, not read.
        for s in conns:
            s.sendall(oc.get_request("/__bytes/4000000"))
        time.sleep(0.5)
        busy = (stats(o)["tls"]["heap_bytes"] - base) / n
        for s in conns:
            s.close()
        print("heap per TLS connection: idle %.0f B, in flight %.0f B"
              % (idle, busy))
        assert 1000 < idle < 40 << 10, idle
        assert idle < busy < 200 << 10, busy


def test_bad_cert_options():
    """fetchbench origin refuses bad --cert/--key with exit 2, naming the
    option and the file."""
    fb = os.environ.get("FB_BIN")
    if not fb:
        raise oc.Skip("FB_BIN not set")
    tmp = tempfile.mkdtemp(prefix="fb-tls-bad-")
    try:
        notpem = os.path.join(tmp, "notpem.txt")
        with open(notpem, "w") as f:
            f.write("hello\n")
        good, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        other_key = os.path.join(tmp, "k2.pem")
        subprocess.run([oc.HELPER, "make-cert", good, key], check=True)
        subprocess.run([oc.HELPER, "make-cert", tmp + "/c2.pem", other_key],
                       check=True)
        unreadable = os.path.join(tmp, "unreadable.pem")
        shutil.copy(good, unreadable)
        os.chmod(unreadable, 0)
        cases = [
            (["--cert", tmp + "/missing.pem", "--key", key], "--cert",
             "missing.pem"),
            (["--cert", notpem, "--key", key], "--cert", "notpem.txt"),
            (["--cert", good, "--key", notpem], "--key", "notpem.txt"),
            (["--cert", good, "--key", other_key], "--key", "k2.pem"),
            (["--cert", good, "--key", tmp + "/nokey.pem"], "--key",
             "nokey.pem"),
            (["--cert", tmp, "--key", key], "--cert", tmp),
            (["--cert", good], "--cert and --key", ""),
            (["--cert-out", tmp + "/no/such/dir/x.pem"], "--cert-out",
             "x.pem"),
        ]
        if os.geteuid() != 0:
            cases.append((["--cert", unreadable, "--key", key], "--cert",
                          "unreadable.pem"))
        for args, option, name in cases:
            p = subprocess.run([fb, "origin", "--tls", "--corpus",
                                "synthetic"] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            err = p.stderr.decode()
            assert p.returncode == 2 and p.stdout == b"", (args, err)
            assert option in err and name in err, (args, err)
        p = subprocess.run([fb, "origin", "--cert", good, "--key", key],
                           stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 2 and b"--cert needs --tls" in p.stderr
        p = subprocess.run([fb, "origin", "--tls", "--tls-resume", "maybe"],
                           stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 2 and b"not on or off" in p.stderr
        # A good pair is served, with that certificate.
        p = subprocess.Popen([fb, "origin", "--tls", "--corpus", "synthetic",
                              "--cert", good, "--key", key],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        url = p.stdout.readline().decode().strip()
        try:
            assert url.startswith("https://127.0.0.1:"), url
            ctx = ssl.create_default_context(cafile=good)
            port = int(url.rsplit(":", 1)[1])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                server_hostname="127.0.0.1")
            s.sendall(oc.get_request("/__bytes/2"))
            assert oc.Reader(s).response().body == b"ab"
            s.close()
        finally:
            p.terminate()
            p.wait()
            p.stdout.close()
            p.stderr.close()
    finally:
        shutil.rmtree(tmp)


oc.run([test_every_page_both_versions, test_curl_cacert,
        test_pipelining_and_keepalive, test_resumption_on_and_off,
        test_openssl_sess_out_in, test_rtt_as_clients_see_it,
        test_rtt_query_and_delay, test_curl_rtt,
        test_handshake_timeout_and_slots, test_memory_per_connection,
        test_bad_cert_options])
