# SPDX-License-Identifier: MIT
"""The origin suite: requests/s of `fetchbench origin` under wrk on the
Django mix (64 keep-alive connections, the server pinned to one core and
wrk to the other), beside nginx serving the same files, taking turns; the
ratio per run pair and its goal (>= 0.8).

A server is a name and a function that starts it (returning an
fbtest.Origin); PAIRS says which ratios to take. Another transport (TLS)
adds its servers and its pair.
"""

import os
import shutil
import socket
import urllib.parse

import peer
from harness import QUICK, repeats, stat, suite, tool

CONNECTIONS = 64
PAIRS = (("origin", "nginx"),)

NGINX_CONF = """
worker_processes 1;
master_process off;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    open_file_cache max=4096 inactive=120s;
    open_file_cache_valid 120s;
    client_body_temp_path %(tmp)s/body;
    proxy_temp_path %(tmp)s/proxy;
    fastcgi_temp_path %(tmp)s/fastcgi;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    types {
        text/html html;
        text/css css;
        text/javascript js;
        image/png png;
        image/svg+xml svg;
    }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:%(port)d%(ssl)s;
        root %(root)s;
%(tls)s    }
}
"""


def free_port():
    """A loopback port nothing listens on: nginx cannot say which it got."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dump(o, root):
    """Writes every page the origin serves below root (for nginx, when the
    corpus is the synthetic one, which exists only in memory)."""
    for path in o.index():
        dest = os.path.join(root, path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(o.get("/" + urllib.parse.quote(path)))


# nginx over TLS: the same protocols as the origin (TLS 1.2 and 1.3), the
# same OpenSSL, the certificate and key given; resumption on or off like the
# origin's --tls-resume.
NGINX_TLS = """        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache %(cache)s;
        ssl_session_tickets %(tickets)s;
"""


def start_nginx(s, root, cert=None, key=None, resume=True):
    """nginx serving root, pinned to the origin core; over TLS with cert
    and key when given."""
    nginx = tool("nginx")
    if nginx is None:
        return None
    tmp = os.path.join(s.work, "nginx")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    tls = NGINX_TLS % {"cert": cert, "key": key,
                       "cache": "shared:SSL:16m" if resume else "off",
                       "tickets": "on" if resume else "off"} if cert else ""
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"tmp": tmp, "port": port, "root": root,
                              "ssl": " ssl" if cert else "", "tls": tls})
    return s.server([nginx, "-p", tmp, "-e", os.path.join(tmp, "error.log"),
                     "-c", conf], url="%s://127.0.0.1:%d" % (
                         "https" if cert else "http", port))


def django_root(s, o):
    """The corpus both servers serve: (the --corpus argument, the directory
    nginx serves). The Django docs when installed, else the synthetic
    corpus, written out from origin o (started with it) below the suite's
    work directory."""
    django = os.environ.get("FB_DJANGO_DOCS",
                            "/usr/share/doc/python-django-doc/html")
    if os.path.isdir(django):
        return django, django
    root = os.path.join(s.work, "synthetic")
    if o is not None and not os.path.isdir(root):
        dump(o, root)
    return "synthetic", root


@suite("origin")
def origin(s):
    s.header("requests/s under wrk, %d keep-alive connections, on the "
             "Django mix, beside nginx" % CONNECTIONS)
    if tool("wrk") is None:
        return
    corpus, _ = django_root(s, None)
    servers = {"origin": s.start_origin("--corpus", corpus)}
    _, root = django_root(s, servers["origin"])
    nginx = start_nginx(s, root)
    if nginx is not None:
        servers["nginx"] = nginx
    paths = ["/" + urllib.parse.quote(p) for p in servers["origin"].index()
             if p.endswith(".html")]
    paths_file = s.write_list("paths", paths)
    duration, runs = (1 if QUICK else 5), repeats(3, 1)
    s.say("the Django mix: %d HTML pages from %s, %d connections, %d s x %d "
          "runs, servers taking turns" % (len(paths), corpus, CONNECTIONS,
                                          duration, runs))
    # Every server stays up, idle but for its turn, and the runs alternate:
    # a load that drifts on a shared machine hits them all.
    got = {name: [] for name in servers}
    for r in range(-1, runs):  # -1: a warm-up each
        for name, o in servers.items():
            m = peer.wrk(s, o.url, paths_file, CONNECTIONS, duration)
            if m is None or m["errors"]:
                s.fail("wrk against %s: %s" % (name, m and m.get("note")))
            elif r >= 0:
                got[name].append(m["req_per_s"])
    s.say("%-8s %12s %12s %12s" % ("server", "req/s med", "min", "max"))
    for name, rps in got.items():
        st = stat(rps)
        if st is None:
            continue
        s.say("%-8s %12.0f %12.0f %12.0f" % (name, st["median"], st["min"],
                                             st["max"]))
        s.add_extra({"bench": "origin", "server": name, "corpus": corpus,
                     "connections": CONNECTIONS, "duration_s": duration,
                     "req_per_s": st["median"], "min": st["min"],
                     "max": st["max"], "runs": rps,
                     "server_cpu": s.origin_cpu})
    for a, b in PAIRS:
        if not got.get(a) or not got.get(b):
            continue
        pairs = stat(x / y for x, y in zip(got[a], got[b]))
        result = "met" if pairs["median"] >= 0.8 else "MISSED"
        s.say("%s/%s: %.2f per run pair, min %.2f max %.2f (goal >= 0.8: "
              "%s)" % (a, b, pairs["median"], pairs["min"], pairs["max"],
                       result))
        s.add_extra({"bench": "origin", "ratio_%s_%s" % (a, b):
                     pairs["median"], "ratio_min": pairs["min"],
                     "ratio_max": pairs["max"], "goal": 0.8,
                     "result": result})
