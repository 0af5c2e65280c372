# SPDX-License-Identifier: MIT
"""The peers: programs users would pick instead of fetchbench's engines,
run on a Workload (the very URL list the engines fetch, against the same
origin), each through harness.spawn: pinned to the client core, timed from
spawn to exit, CPU and peak RSS from wait4 (so xargs counts its curls).
That includes each peer's start-up (a few ms for curl, the interpreter and
its imports for Python), which the engines' in-process timing does not.

The Python original also times itself the way the original did (pool
creation to shutdown) and reports CPU with its children; that in-process
figure is the one in its row, the outside one beside it.

Where a peer says what it received, its body sizes are checked against the
engines' (Workload.reference): a size that differs counts as an error.

Every function returns one measurement, a dict of figures for one run, or
None when its tool is missing (after saying "skipped: ...").
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

from harness import HERE, measure, skipped, spawn, tool

ORIGINAL = os.path.join(HERE, "peers", "original.py")
PYCLIENTS = os.path.join(HERE, "peers", "pyclients.py")
WRK_SCRIPT = os.path.join(HERE, "wrk-paths.lua")


def check_sizes(m, w, sizes, by_index=True):
    """Counts the bodies whose size differs from the engines' as errors.
    sizes: one per URL index (None: failed, already counted), or, with
    by_index False, the sizes of the good transfers in any order."""
    m["bytes"] = sum(x for x in sizes if x is not None)
    if w.reference is None:
        return m
    if by_index:
        bad = sum(1 for got, want in zip(sizes, w.reference)
                  if got is not None and want is not None and got != want)
    else:
        want = sorted(x for x in w.reference if x is not None)
        got = sorted(sizes)
        bad = len(want) - sum(1 for a, b in zip(got, want) if a == b) \
            if len(got) == len(want) else 0
    if bad:
        m["errors"] += bad
        m["note"] = "%d bodies differ in size from the engines'" % bad
    m["bytes_checked"] = True
    return m


# --- curl --------------------------------------------------------------------

def _curl_common(w, fresh):
    # The engines' fresh mode forbids reuse; the origin closes on request.
    return ["-s", "-w", "%{stderr}%{http_code} %{size_download}\\n"] + (
        ["-H", "Connection: close"] if fresh else []) + (
        ["--cacert", w.cacert] if w.cacert else [])


def _curl_measure(s, t, w, command, statuses):
    """A measurement of curl transfers from the "STATUS SIZE" lines they
    wrote with -w."""
    got = re.findall(r"^(\d{3}) (\d+)$", statuses, re.M)
    ok = [int(size) for code, size in got if code == "200"]
    m = measure(t, w.n, len(ok), {"command": command})
    if len(ok) < w.n and not t.timed_out:
        bad = {}
        for code, _ in got:
            if code != "200":
                bad[code] = bad.get(code, 0) + 1
        m["note"] = ("%d of %d transfers without a 200 (statuses %s, %d "
                     "missing; exit %s)" % (w.n - len(ok), w.n, bad or "-",
                                            w.n - len(got), t.status))
    return check_sizes(m, w, ok, by_index=False)


def curl_parallel(s, w, workers):
    """curl --parallel --parallel-immediate --parallel-max N over the list
    (a -K config file); bodies to standard output, which is /dev/null, a
    status and size per transfer on stderr. Without --parallel-immediate curl first waits to
    see whether a transfer can be multiplexed on an existing connection:
    over HTTP/1.1 with fresh connections that serialises every transfer.
    """
    curl = tool("curl")
    if curl is None:
        return None
    cfg = os.path.join(s.work, "curl-parallel.cfg")
    with open(cfg, "w") as f:
        for u in w.urls:
            f.write('url = "%s"\n' % u)
    argv = [curl, "--no-progress-meter", "--parallel", "--parallel-immediate",
            "--parallel-max", str(workers)] + _curl_common(w, w.fresh) + [
            "-K", cfg]
    t = spawn(argv, s.client_cpu, keep_stdout=False)
    return _curl_measure(s, t, w, shlex.join(argv[:-1]) + " URLS.cfg",
                         t.stderr)


def xargs_curl(s, w, workers, per_curl):
    """xargs -P N -n K curl: a curl process per K URLs (K = 1: a process and
    a connection per URL, as a shell user would; K > 1: each curl keeps its
    connection alive over its K URLs).

    Concurrent curls writing their statuses into one stderr interleave them
    character by character, so each curl gets its own stderr file: xargs
    starts `sh -c 'exec curl ... 2>DIR/$$'`, which execs into curl (one
    process, as before; the shell's start-up, under a millisecond, counts).
    """
    xargs, curl, sh = tool("xargs"), tool("curl"), tool("sh")
    if xargs is None or curl is None or sh is None:
        return None
    out = tempfile.mkdtemp(prefix="xargs-", dir=s.work)
    common = _curl_common(w, per_curl == 1)
    script = "exec %s \"$@\" 2>%s/$$" % (
        " ".join(shlex.quote(a) for a in [curl] + common), shlex.quote(out))
    argv = [xargs, "-P", str(workers), "-n", str(per_curl), sh, "-c", script,
            "curl"]
    t = spawn(argv, s.client_cpu, stdin_path=w.file, keep_stdout=False)
    statuses = []
    for name in os.listdir(out):
        with open(os.path.join(out, name)) as f:
            statuses.append(f.read())
    shutil.rmtree(out)
    return _curl_measure(s, t, w, shlex.join(
        [xargs, "-P", str(workers), "-n", str(per_curl), curl] + common) +
        " < URLS", "".join(statuses))


# --- C programs ---------------------------------------------------------------

def _built(path, name):
    if path and os.access(path, os.X_OK):
        return True
    skipped("%s was not built: its part is left out" % name, name)
    return False


def multi_poll(s, w, workers, resume=True):
    """bench/multi-poll: a plain curl_multi_perform + curl_multi_poll loop
    over the engines' own easy handles (trusting w.cacert over https;
    resume=False: no TLS session resumption)."""
    if not _built(s.multi_poll, "multi-poll"):
        return None
    opts = (["fresh"] if w.fresh else []) + (
        ["--cacert", w.cacert] if w.cacert else []) + (
        [] if resume else ["--no-resume"])
    t = spawn([s.multi_poll, w.file, str(workers)] + opts, s.client_cpu)
    got = re.search(r"ok (\d+)", t.stdout)
    return measure(t, w.n, int(got.group(1)) if got else 0, {
        "command": " ".join(["multi-poll URLS %d" % workers] + [
            "CAFILE" if o == w.cacert else o for o in opts])})


def raw_client(s, w, connections):
    """bench/raw-client: plain non-blocking sockets, prebuilt requests,
    bodies framed and dropped: the least any client can do. Its run_s (from
    building the requests to the last response) is in-process."""
    if not _built(s.raw_client, "raw-client"):
        return None
    t = spawn([s.raw_client, w.file, str(connections)], s.client_cpu)
    got = re.search(r"ok (\d+) n \d+ run_s ([\d.]+)", t.stdout)
    m = measure(t, w.n, int(got.group(1)) if got else 0, {
        "command": "raw-client URLS %d" % connections})
    if got:
        m["run_s"] = float(got.group(2))
    return m


def wrk(s, url, paths_file, connections, seconds, threads=1, headers=()):
    """wrk -tT -cN for a fixed time, its Lua script walking the paths (or
    one URL when paths_file is None), with headers (e.g. "Connection:
    close": a new connection per request). Its figures are per request
    made in that time; req_per_s is wrk's own rate."""
    exe = tool("wrk")
    if exe is None:
        return None
    argv = [exe, "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds]
    for h in headers:
        argv += ["-H", h]
    if paths_file:
        argv += ["-s", WRK_SCRIPT, url, "--", paths_file, "0"]
    else:
        argv += [url]
    t = spawn(argv, s.client_cpu, timeout=seconds + 60)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", t.stdout)
    total = re.search(r"(\d+) requests in", t.stdout)
    if t.status != 0 or rps is None or total is None:
        m = measure(t, 1, 0)
        m["note"] = (t.stdout + t.stderr).strip()[-200:]
        return m
    n = int(total.group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t.stdout)
    sock = re.search(r"Socket errors:(.*)", t.stdout)
    errors = int(bad.group(1)) if bad else 0
    if sock:
        errors += sum(int(x) for x in re.findall(r"\d+", sock.group(1)))
    m = measure(t, n, n - errors, {"command": " ".join(
        argv[:-2] + ["PATHS", "0"] if paths_file else argv)})
    m["req_per_s"] = float(rps.group(1))
    m["requests"] = n
    return m


def fetchbench_run(s, w, engine, workers):
    """An engine as a peer: `fetchbench run` spawned and timed from the
    outside like the others (its in-process wall beside, as run_s)."""
    t, doc = s.run(w.args(engine, workers))
    return measure(t, w.n, doc["ok"], {
        "command": "fetchbench run --engine %s --workers %d" % (engine,
                                                                workers),
        "run_s": doc["wall_s"], "bytes": doc["bytes"],
        "handshakes_full": doc.get("handshakes_full"),
        "handshakes_resumed": doc.get("handshakes_resumed"),
        "engine_features": doc.get("engine_features")})


# --- Python ------------------------------------------------------------------

_pythons = {}


def python_with(module, package):
    """An interpreter that can import module: this one, else Debian's
    /usr/bin/python3 (the packages are Debian's); None after saying which
    package is missing."""
    if module not in _pythons:
        _pythons[module] = None
        for py in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
            if os.access(py, os.X_OK) and subprocess.run(
                    [py, "-c", "import " + module],
                    stderr=subprocess.DEVNULL).returncode == 0:
                _pythons[module] = py
                break
    if _pythons[module] is None:
        skipped("%s is not installed (Debian %s): its rows are left out" %
                (module, package), package)
    return _pythons[module]


def python_original(s, w, mode, workers):
    """bench/peers/original.py for one cell: its own (in-process) figures,
    with the outside wall and CPU (interpreter start-up included) beside.
    """
    argv = [sys.executable, ORIGINAL, "--urls", w.file, "--modes", mode,
            "--workers", str(workers), "--connection", w.connection]
    if w.delay_ms is not None:
        argv += ["--delay", str(w.delay_ms)]
    t = spawn(argv, s.client_cpu)
    try:
        cell = json.loads(t.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        m = measure(t, 1, 0)
        m["note"] = t.last_line()
        return m
    m = {k: cell[k] for k in ("wall_s", "cpu_user_s", "cpu_sys_s", "cpu_s",
                              "cpu_per_req_ms", "max_rss_kib", "rss_sum_kib",
                              "req_per_s", "errors", "cpu_self_s")}
    m.update({"timing": "in-process", "status": t.status,
              "external_wall_s": t.wall_s, "external_cpu_s": t.cpu_s,
              "python": cell.get("python"), "command": " ".join(
                  ["python3", "original.py", "--urls", "URLS"] + argv[4:])})
    if cell.get("first_error"):
        m["note"] = cell["first_error"][:200]
    return check_sizes(m, w, cell["sizes"])


def _pyclient(s, w, model, workers, module, package):
    py = python_with(module, package)
    if py is None:
        return None
    argv = [py, PYCLIENTS, "--urls", w.file, "--model", model,
            "--workers", str(workers), "--connection", w.connection] + (
        ["--cacert", w.cacert] if w.cacert else [])
    t = spawn(argv, s.client_cpu)
    try:
        out = json.loads(t.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        m = measure(t, w.n, 0)
        m["note"] = t.last_line()
        return m
    # Its own figures, as the original's: the run without the interpreter's
    # start and imports; the outside wall and CPU beside. Peak RSS from
    # wait4 (the imports are memory it holds).
    m = measure(t, w.n, out["ok"], {
        "command": " ".join(["python3", "pyclients.py", "--urls", "URLS"] +
                            argv[4:]),
        "python": out["python"], module + "_version": out["version"]})
    cpu = out["cpu_user_s"] + out["cpu_sys_s"]
    m.update({"timing": "in-process", "external_wall_s": t.wall_s,
              "external_cpu_s": t.cpu_s, "wall_s": out["wall_s"],
              "cpu_user_s": out["cpu_user_s"], "cpu_sys_s": out["cpu_sys_s"],
              "cpu_s": cpu, "cpu_per_req_ms": cpu * 1000 / w.n,
              "req_per_s": w.n / out["wall_s"]})
    if out.get("first_error"):
        m["note"] = out["first_error"][:200]
    return check_sizes(m, w, out["sizes"])


def python_asyncio(s, w, workers):
    """asyncio with aiohttp: one ClientSession, every URL a task, at most
    `workers` in flight (a semaphore); bench/peers/pyclients.py."""
    return _pyclient(s, w, "asyncio", workers, "aiohttp", "python3-aiohttp")


def python_requests(s, w, workers):
    """A thread pool of `workers` threads, a requests.Session per thread;
    bench/peers/pyclients.py."""
    return _pyclient(s, w, "requests", workers, "requests",
                     "python3-requests")
