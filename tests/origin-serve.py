# SPDX-License-Identifier: MIT
"""The origin serves its corpus to real clients: every page byte-identical to
the file (curl, python urllib, raw sockets), keep-alive, pipelining, HEAD,
404, 405, directory indexes, path traversal in every encoding."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

SEED_PAGES = ["intro/tutorial0%d.html" % i for i in range(1, 8)] + [
    "topics/db/models.html", "topics/http/urls.html", "ref/forms/api.html"]

_tmp = tempfile.mkdtemp(prefix="fb-origin-serve-")
_synthetic_dir = None


def synthetic_dir():
    """The synthetic corpus (seed 1) written out by the helper."""
    global _synthetic_dir
    if _synthetic_dir is None:
        d = os.path.join(_tmp, "synthetic")
        subprocess.run([oc.HELPER, "--corpus", "synthetic", "dump", d],
                       check=True)
        _synthetic_dir = d
    return _synthetic_dir


def corpora():
    """(corpus argument, directory with the expected files) pairs."""
    out = [("synthetic", synthetic_dir())]
    if oc.django_dir():
        out.append((oc.django_dir(), oc.django_dir()))
    else:
        print("  (Django docs not installed: synthetic corpus only)")
    return out


def corpus_files(root):
    files = []
    for dirpath, dirnames, names in os.walk(root):
        for n in names:
            full = os.path.join(dirpath, n)
            if os.path.islink(full):
                real = os.path.realpath(full)
                if not real.startswith(os.path.realpath(root) + os.sep):
                    continue
            files.append(os.path.relpath(full, root))
    return sorted(files)


def read(root, rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()


def test_seed_pages_curl():
    if not shutil.which("curl"):
        raise oc.Skip("curl not installed")
    for corpus, root in corpora():
        with oc.Origin("--corpus", corpus) as o:
            out = os.path.join(_tmp, "curl.out")
            for page in SEED_PAGES:
                subprocess.run(["curl", "-sS", "--fail", "-o", out,
                                "%s/%s" % (o.url, page)], check=True)
                with open(out, "rb") as f:
                    assert f.read() == read(root, page), (corpus, page)


def test_whole_corpus_urllib():
    for corpus, root in corpora():
        files = corpus_files(root)
        with oc.Origin("--corpus", corpus) as o:
            index = urllib.request.urlopen(o.url + "/__index").read()
            assert index.decode().splitlines() == files, corpus
            for rel in files:
                url = "%s/%s" % (o.url, urllib.request.quote(rel))
                with urllib.request.urlopen(url) as r:
                    body = r.read()
                    assert r.status == 200
                    assert int(r.headers["Content-Length"]) == len(body)
                assert body == read(root, rel), (corpus, rel)


def test_whole_corpus_curl_keepalive():
    """curl fetches every page over one reused connection."""
    if not shutil.which("curl"):
        raise oc.Skip("curl not installed")
    root = synthetic_dir()
    files = corpus_files(root)
    with oc.Origin("--corpus", "synthetic") as o:
        outdir = os.path.join(_tmp, "curl-all")
        cmd = ["curl", "-sS", "--fail", "--create-dirs",
               "-w", "%{num_connects}\n"]
        for rel in files:
            cmd += ["-o", os.path.join(outdir, rel), "%s/%s" % (o.url, rel)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
        connects = [int(x) for x in out.split()]
        assert connects[0] == 1 and sum(connects) == 1, "connections not reused"
        for rel in files:
            assert read(outdir, rel) == read(root, rel), rel


def test_keepalive_raw():
    root = synthetic_dir()
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        rd = oc.Reader(s)
        for page in SEED_PAGES * 3:
            s.sendall(oc.get_request("/" + page))
            r = rd.response()
            assert r.status == 200
            assert r.header("Connection") is None
            assert r.header("Content-Type") == "text/html; charset=utf-8"
            assert r.header("Date") is None
            assert r.body == read(root, page)
        s.close()


def test_deterministic_headers():
    """The same request gets the very same bytes every time."""
    with oc.Origin("--corpus", "synthetic") as o:
        a, _ = oc.exchange(o, oc.get_request("/index.html", "Connection: close\r\n"))
        b, _ = oc.exchange(o, oc.get_request("/index.html", "Connection: close\r\n"))
        assert a == b and a.startswith(b"HTTP/1.1 200 OK\r\n")


def test_pipelining():
    """100 requests in one write, answered in order."""
    root = synthetic_dir()
    pages = (SEED_PAGES * 10)[:90]
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        reqs = b""
        expect = []
        for i in range(100):
            if i % 10 == 9:
                reqs += oc.get_request("/__bytes/%d" % (1000 + i))
                expect.append(("bytes", 1000 + i))
            else:
                page = pages.pop()
                reqs += oc.get_request("/" + page)
                expect.append(("page", page))
        s.sendall(reqs)
        rd = oc.Reader(s)
        alphabet = (b"abcdefghijklmnopqrstuvwxyz0123456789"
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ-_")
        for kind, what in expect:
            r = rd.response()
            assert r.status == 200
            if kind == "page":
                assert r.body == read(root, what), what
            else:
                assert r.body == (alphabet * (what // 64 + 1))[:what]
        s.close()


def test_pipelining_split_and_mixed():
    """Pipelined requests cut at every byte boundary still parse, and a
    pipeline of HEAD, 404 and GET keeps its order."""
    with oc.Origin("--corpus", "synthetic") as o:
        data = (oc.get_request("/index.html", method="HEAD") +
                oc.get_request("/missing") +
                oc.get_request("/__bytes/10"))
        s = o.connect()
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
        rd = oc.Reader(s)
        r = rd.response(head_only=True)
        assert r.status == 200 and int(r.header("Content-Length")) > 0
        r = rd.response()
        assert r.status == 404 and r.body == b"404 Not Found\n"
        r = rd.response()
        assert r.status == 200 and r.body == b"abcdefghij"
        s.close()


def test_head():
    root = synthetic_dir()
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        rd = oc.Reader(s)
        s.sendall(oc.get_request("/intro/tutorial02.html", method="HEAD"))
        r = rd.response(head_only=True)
        assert r.status == 200
        assert int(r.header("Content-Length")) == len(
            read(root, "intro/tutorial02.html"))
        # No body followed: the next answer starts right away.
        s.sendall(oc.get_request("/__bytes/3"))
        r = rd.response()
        assert r.status == 200 and r.body == b"abc"
        s.sendall(oc.get_request("/nope", method="HEAD"))
        r = rd.response(head_only=True)
        assert r.status == 404
        s.sendall(oc.get_request("/__bytes/2"))
        assert rd.response().body == b"ab"
        s.close()


def test_404_405():
    with oc.Origin("--corpus", "synthetic") as o:
        s = o.connect()
        rd = oc.Reader(s)
        s.sendall(oc.get_request("/no/such/page.html"))
        r = rd.response()
        assert r.status == 404 and r.reason == "Not Found"
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]:
            extra = "Content-Length: 5\r\n" if method in ("POST", "PUT") else ""
            req = oc.get_request("/index.html", extra, method=method)
            if extra:
                req += b"hello"
            s.sendall(req)
            r = rd.response()
            assert r.status == 405, method
            assert r.header("Allow") == "GET, HEAD"
        # A chunked body is read, then the connection serves on.
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                  b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        assert rd.response().status == 405
        s.sendall(oc.get_request("/__bytes/1"))
        assert rd.response().body == b"a"
        s.close()
        try:
            urllib.request.urlopen(o.url + "/missing.html")
            raise AssertionError("no 404")
        except urllib.error.HTTPError as e:
            assert e.code == 404


def test_directory_index():
    root = synthetic_dir()
    with oc.Origin("--corpus", "synthetic") as o:
        for path, rel in [("/", "index.html"), ("/intro/", "intro/index.html"),
                          ("/intro", "intro/index.html"),
                          ("/intro/tutorial01/", "intro/tutorial01.html"),
                          ("/intro/tutorial01", "intro/tutorial01.html"),
                          ("/intro/../index.html", "index.html"),
                          ("/%69ntro/tutorial03.html", "intro/tutorial03.html"),
                          ("http://x/index.html", "index.html")]:
            data, _ = oc.exchange(o, oc.get_request(path, "Connection: close\r\n"))
            assert oc.status_of(data) == 200, (path, data[:60])
            assert data.split(b"\r\n\r\n", 1)[1] == read(root, rel), path


def test_http10_and_close():
    with oc.Origin("--corpus", "synthetic") as o:
        data, closed = oc.exchange(o, oc.get_request("/__bytes/5",
                                                     version="HTTP/1.0"))
        assert oc.status_of(data) == 200 and closed
        assert b"Connection: close\r\n" in data
        s = o.connect()
        rd = oc.Reader(s)
        s.sendall(oc.get_request("/__bytes/5", "Connection: keep-alive\r\n",
                                 version="HTTP/1.0"))
        r = rd.response()
        assert r.header("Connection") == "keep-alive"
        s.sendall(oc.get_request("/__bytes/5", "Connection: close\r\n"))
        r = rd.response()
        assert r.header("Connection") == "close" and r.body == b"abcde"
        assert rd.at_eof()
        s.close()
        data, closed = oc.exchange(o, oc.get_request("/__bytes/5?close=1"))
        assert b"Connection: close\r\n" in data and closed


def test_path_traversal():
    """Every encoding of an escape: 400 or 404, never a file outside."""
    secret = "root:"
    targets = [
        "/../../../../etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd",
        "/.%2e/.%2e/etc/passwd", "/%2e./%2e./etc/passwd",
        "/%252e%252e/%252e%252e/etc/passwd", "/%25%32%65%25%32%65/etc/passwd",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/%c0%af..%c0%afetc/passwd",
        "/%e0%80%ae%e0%80%ae/etc/passwd", "/..%5c..%5cetc%5cpasswd",
        "/..\\..\\etc\\passwd", "/intro/../../etc/passwd",
        "/intro/%2e%2e/%2e%2e/etc/passwd", "/./../etc/passwd",
        "/%2e%2e%00/etc/passwd", "/etc/passwd%00.html", "//etc/passwd",
        "/%2fetc%2fpasswd", "/....//....//etc/passwd", "/..;/etc/passwd",
        "http://x/../etc/passwd", "/%u002e%u002e/etc/passwd",
        "/\xc0\xae\xc0\xae/etc/passwd",
    ]
    with oc.Origin("--corpus", "synthetic") as o:
        for t in targets:
            req = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   % t).encode("latin-1")
            data, _ = oc.exchange(o, req)
            st = oc.status_of(data)
            assert st in (400, 404), (t, data[:80])
            assert secret.encode() not in data, t
        if shutil.which("curl"):
            for t in targets[:12]:
                out = subprocess.run(
                    ["curl", "-s", "--path-as-is", "-o", "/dev/null", "-w",
                     "%{http_code}", o.url + t], stdout=subprocess.PIPE).stdout
                assert out in (b"400", b"404"), (t, out)


def test_special_endpoints():
    with oc.Origin("--corpus", "synthetic") as o:
        body = urllib.request.urlopen(o.url + "/__bytes/100000").read()
        assert len(body) == 100000 and body[64:70] == b"abcdef"
        r = urllib.request.urlopen(o.url + "/__stats")
        assert r.headers["Content-Type"] == "application/json"
        import json
        stats = json.loads(r.read())
        assert stats["requests"] >= 2 and stats["connections"] >= 1
        try:
            urllib.request.urlopen(o.url + "/index.html?status=503")
            raise AssertionError("no 503")
        except urllib.error.HTTPError as e:
            assert e.code == 503 and e.read() == b"503 Service Unavailable\n"
        try:
            urllib.request.urlopen(o.url + "/index.html?delay=abc")
            raise AssertionError("no 400")
        except urllib.error.HTTPError as e:
            assert e.code == 400


def test_django_content_types():
    d = oc.django_dir()
    if not d:
        raise oc.Skip("Django docs not installed")
    with oc.Origin("--corpus", d) as o:
        for path, ctype in [("/_static/pygments.css", "text/css; charset=utf-8"),
                            ("/objects.inv", "application/octet-stream"),
                            ("/searchindex.js", "text/javascript; charset=utf-8"),
                            ("/index.html", "text/html; charset=utf-8")]:
            if not os.path.exists(d + path):
                continue
            r = urllib.request.urlopen(o.url + path)
            assert r.headers["Content-Type"] == ctype, path
            r.read()
        # Links out of the tree are not served.
        for link in ["_static/jquery.js", "_static/underscore.js"]:
            if os.path.islink(os.path.join(d, link)):
                try:
                    urllib.request.urlopen(o.url + "/" + link)
                    raise AssertionError("served %s" % link)
                except urllib.error.HTTPError as e:
                    assert e.code == 404


try:
    oc.run([test_seed_pages_curl, test_whole_corpus_urllib,
            test_whole_corpus_curl_keepalive, test_keepalive_raw,
            test_deterministic_headers, test_pipelining,
            test_pipelining_split_and_mixed, test_head, test_404_405,
            test_directory_index, test_http10_and_close, test_path_traversal,
            test_special_endpoints, test_django_content_types])
finally:
    shutil.rmtree(_tmp, ignore_errors=True)
