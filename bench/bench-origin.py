"""Benchmark: requests/s of the origin under wrk on the Django mix (64
keep-alive connections, the origin pinned to one core and wrk to another),
and the same run against nginx serving the same files, with the ratio.

usage: bench-origin.py ORIGIN_SERVER WRK_SCRIPT
Environment: FB_BENCH_DURATION (seconds per run, default 5), FB_BENCH_RUNS
(default 3), FB_DJANGO_DOCS (the corpus; synthetic when absent).
Prints one JSON line per result on stdout, the human table on stderr.
A missing wrk (or nginx, for its half) prints "skipped: ..." and exits 0."""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

DURATION = int(os.environ.get("FB_BENCH_DURATION", "5"))
RUNS = int(os.environ.get("FB_BENCH_RUNS", "3"))
CONNECTIONS = 64


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def cpu_plan():
    """(client cpu, origin cpu), or (None, None) with fewer than 2 cores."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[-1]


def pinned(cmd, cpu):
    if cpu is None:
        return cmd
    if shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)] + cmd
    return cmd


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_listening(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def wrk(url, script, paths_file, cpu):
    cmd = pinned(["wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % DURATION,
                  "-s", script, url, "--", paths_file, "0"], cpu)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         check=True).stdout.decode()
    rps = None
    bad = 0
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        if "Non-2xx or 3xx responses:" in line:
            bad = int(line.split()[-1])
        if line.strip().startswith("Socket errors:"):
            bad += sum(int(x.strip(",")) for x in line.split()[3::2])
    if rps is None:
        raise RuntimeError("no Requests/sec in wrk output:\n" + out)
    if bad:
        raise RuntimeError("%d failed requests:\n%s" % (bad, out))
    return rps


def start_origin(server, corpus, cpu):
    cmd = [server, "--corpus", corpus]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    url = proc.stdout.readline().decode().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError("origin did not start")
    return proc, url


def start_nginx(root, tmp, cpu):
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
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
        listen 127.0.0.1:%(port)d;
        root %(root)s;
    }
}
""" % {"tmp": tmp, "port": port, "root": root})
    cmd = pinned(["nginx", "-p", tmp, "-e", os.path.join(tmp, "error.log"),
                  "-c", conf], cpu)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_listening(port)
    except RuntimeError:
        proc.kill()
        err = proc.stderr.read().decode()
        raise RuntimeError("nginx did not start: " + err)
    return proc, "http://127.0.0.1:%d" % port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def result(server, corpus, runs, pinned_to):
    med = statistics.median(runs)
    line = {"bench": "origin", "server": server, "corpus": corpus,
            "connections": CONNECTIONS, "duration_s": DURATION,
            "req_per_s": round(med, 1), "min": round(min(runs), 1),
            "max": round(max(runs), 1), "runs": [round(r, 1) for r in runs],
            "server_cpu": pinned_to[0], "client_cpu": pinned_to[1]}
    print(json.dumps(line))
    sys.stdout.flush()
    return med


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    server, script = sys.argv[1], os.path.abspath(sys.argv[2])
    if not shutil.which("wrk"):
        print("skipped: wrk is not installed (apt-get install wrk)")
        return 0
    client_cpu, origin_cpu = cpu_plan()
    django = os.environ.get("FB_DJANGO_DOCS",
                            "/usr/share/doc/python-django-doc/html")
    tmp = tempfile.mkdtemp(prefix="fb-bench-origin-")
    try:
        if os.path.isdir(django):
            corpus, root = django, django
        else:
            corpus, root = "synthetic", os.path.join(tmp, "synthetic")
            subprocess.run([server, "--corpus", "synthetic", "dump", root],
                           check=True)
        if client_cpu is None:
            log("one core: origin and wrk share it (not pinned)")
        else:
            log("origin/nginx pinned to CPU %d, wrk to CPU %d"
                % (origin_cpu, client_cpu))

        have_nginx = bool(shutil.which("nginx") or
                          os.path.exists("/usr/sbin/nginx"))
        if not have_nginx:
            print("skipped: nginx is not installed (apt-get install "
                  "nginx-light): origin figures only, no ratio")
        os.environ["PATH"] += os.pathsep + "/usr/sbin"
        servers = {}
        try:
            proc, url = start_origin(server, corpus, origin_cpu)
            servers["origin"] = (proc, url)
            index = urllib.request.urlopen(url + "/__index").read().decode()
            paths = ["/" + p for p in index.splitlines() if p.endswith(".html")]
            paths_file = os.path.join(tmp, "paths.txt")
            with open(paths_file, "w") as f:
                f.write("\n".join(paths) + "\n")
            if have_nginx:
                servers["nginx"] = start_nginx(root, tmp, origin_cpu)
            log("the Django mix: %d HTML pages from %s, %d connections, "
                "%d s x %d runs, servers taking turns" %
                (len(paths), corpus, CONNECTIONS, DURATION, RUNS))
            # Both servers stay up, idle but for their turn, and the runs
            # alternate: a load that drifts on a shared machine hits both.
            runs = {name: [] for name in servers}
            for name, (_, url) in servers.items():
                wrk(url, script, paths_file, client_cpu)  # warm-up
            for _ in range(RUNS):
                for name, (_, url) in servers.items():
                    runs[name].append(wrk(url, script, paths_file,
                                          client_cpu))
        finally:
            for proc, _ in servers.values():
                stop(proc)
        rows = []
        meds = {}
        for name in servers:
            meds[name] = result(name, corpus, runs[name],
                                (origin_cpu, client_cpu))
            rows.append((name, runs[name]))
        nginx_rps = meds.get("nginx")
        origin_rps = meds["origin"]
        if nginx_rps:
            pairs = [a / b for a, b in zip(runs["origin"], runs["nginx"])]
            ratio = statistics.median(pairs)
            print(json.dumps({"bench": "origin", "ratio_origin_nginx":
                              round(ratio, 3),
                              "ratio_min": round(min(pairs), 3),
                              "ratio_max": round(max(pairs), 3),
                              "goal": 0.8}))

        log("%-8s %12s %12s %12s" % ("server", "req/s med", "min", "max"))
        for name, runs in rows:
            log("%-8s %12.0f %12.0f %12.0f" % (name, statistics.median(runs),
                                               min(runs), max(runs)))
        if nginx_rps:
            log("origin/nginx: %.2f per run pair, min %.2f max %.2f "
                "(goal >= 0.8)" % (ratio, min(pairs), max(pairs)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
