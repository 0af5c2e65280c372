"""The peers: programs users would pick instead of fetchbench's engines, run
on the same URL list against the same origin, pinned to the client core like
the engines (CLIENT_CPU; fetchbench compare pins itself with --origin-cpu).

Each peer is timed from the outside, as a child process: wall clock from
spawn to exit, CPU user + sys and peak RSS of the child and everything it
waited for from os.wait4 (so xargs counts its curls). That includes the
peer's own start-up (a few ms for curl), which the engines' in-process
timing does not. The Python original also times itself the way the original
did (pool creation to shutdown) and reports CPU with its children; that
in-process figure is the one in its row, the outside one beside it.

Every function returns one measurement, a dict of figures for one run, or
None when its tool is missing (after saying "skipped: ...").
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from suite_common import skipped

# The client core every peer is pinned to (set by the suite), or None.
CLIENT_CPU = None

_said = set()


def _tool(name):
    path = shutil.which(name)
    if path is None and name not in _said:
        _said.add(name)
        skipped("%s is not installed: its peer rows are left out" % name)
    return path


class Timed:
    """A finished child: wall, CPU and peak RSS from wait4, status, output."""

    def __init__(self):
        self.wall_s = self.user_s = self.sys_s = 0.0
        self.max_rss_kib = 0
        self.status = None
        self.timed_out = False
        self.stdout = self.stderr = ""

    @property
    def cpu_s(self):
        return self.user_s + self.sys_s


def _pin():
    if CLIENT_CPU is not None:
        os.sched_setaffinity(0, {CLIENT_CPU})


def run(argv, stdin_path=None, timeout=600, keep_stdout=True):
    """Runs argv pinned to CLIENT_CPU, as its own process group, and waits
    for it with wait4. Output goes through temporary files, so a chatty
    child never blocks.
    """
    t = Timed()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, stdin=stdin,
                                 stdout=out if keep_stdout
                                 else subprocess.DEVNULL,
                                 stderr=err, start_new_session=True,
                                 preexec_fn=_pin)
        finally:
            if stdin_path:
                stdin.close()

        def kill():
            t.timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            while True:
                try:
                    _, status, ru = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
        finally:
            timer.cancel()
        t.wall_s = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here
        t.status = p.returncode
        t.user_s, t.sys_s = ru.ru_utime, ru.ru_stime
        t.max_rss_kib = ru.ru_maxrss
        out.seek(0)
        err.seek(0)
        t.stdout = out.read().decode(errors="replace")
        t.stderr = err.read().decode(errors="replace")
    return t


def _measure(t, n, ok, extra=None):
    """A measurement from an outside-timed run of n URLs, ok of them good."""
    m = {"wall_s": t.wall_s, "cpu_user_s": t.user_s, "cpu_sys_s": t.sys_s,
         "cpu_s": t.cpu_s, "cpu_per_req_ms": t.cpu_s * 1000 / n,
         "max_rss_kib": t.max_rss_kib, "req_per_s": n / t.wall_s,
         "errors": n - ok, "status": t.status, "timing": "external"}
    if t.timed_out:
        m["note"] = "killed after the timeout"
    elif ok < n:
        m["note"] = (t.stderr.strip().splitlines() or ["exit %s" % t.status]
                     )[-1][:200]
    m.update(extra or {})
    return m


def _curl_measure(t, n, command, statuses=None):
    """A measurement of curl transfers from the statuses they wrote with
    -w '%{stderr}%{http_code}\\n' (in t.stderr, or in statuses).
    """
    codes = re.findall(r"^(\d{3})$", t.stderr if statuses is None
                       else statuses, re.M)
    ok = codes.count("200")
    m = _measure(t, n, ok, {"command": command})
    if ok < n and not t.timed_out:
        bad = {}
        for c in codes:
            if c != "200":
                bad[c] = bad.get(c, 0) + 1
        m["note"] = ("%d of %d transfers without a 200 (statuses %s, %d "
                     "missing; exit %s)" % (n - ok, n, bad or "-",
                                            n - len(codes), t.status))
    return m


def _curl_common(fresh):
    # The engines' fresh mode forbids reuse; the origin closes on request.
    return ["-s", "-w", "%{stderr}%{http_code}\\n"] + (
        ["-H", "Connection: close"] if fresh else [])


def curl_parallel(urls, workers, fresh, workdir):
    """curl --parallel --parallel-immediate --parallel-max N over the list
    (a -K config file); bodies to /dev/null, one status per transfer on
    stderr. Without --parallel-immediate curl first waits to see whether a
    transfer can be multiplexed on an existing connection: over HTTP/1.1
    with fresh connections that serialises every transfer (the ten seed
    pages take 0.73 s at --parallel-max 16 instead of 0.08 s).
    """
    curl = _tool("curl")
    if curl is None:
        return None
    cfg = os.path.join(workdir, "curl-parallel.cfg")
    with open(cfg, "w") as f:
        for u in urls:
            f.write('url = "%s"\n' % u)
    argv = [curl, "--no-progress-meter", "--parallel", "--parallel-immediate",
            "--parallel-max", str(workers)] + _curl_common(fresh) + ["-K", cfg]
    t = run(argv, keep_stdout=False)
    return _curl_measure(t, len(urls), shlex.join(argv[:-1]) + " URLS.cfg")


def xargs_curl(url_file, n, workers, per_curl, workdir):
    """xargs -P N -n K curl: a curl process per K URLs (K = 1: a process and
    a connection per URL, as a shell user would; K > 1: each curl keeps its
    connection alive over its K URLs).

    Concurrent curls writing their statuses into one stderr interleave them
    character by character, so each curl gets its own stderr file: xargs
    starts `sh -c 'exec curl ... 2>DIR/$$'`, which execs into curl (one
    process, as before; the shell's start-up, under a millisecond, counts).
    """
    xargs, curl, sh = _tool("xargs"), _tool("curl"), _tool("sh")
    if xargs is None or curl is None or sh is None:
        return None
    out = tempfile.mkdtemp(prefix="xargs-", dir=workdir)
    script = "exec %s \"$@\" 2>%s/$$" % (
        " ".join(shlex.quote(a) for a in [curl] + _curl_common(
            per_curl == 1)), shlex.quote(out))
    argv = [xargs, "-P", str(workers), "-n", str(per_curl), sh, "-c", script,
            "curl"]
    t = run(argv, stdin_path=url_file, keep_stdout=False)
    statuses = []
    for name in os.listdir(out):
        with open(os.path.join(out, name)) as f:
            statuses.append(f.read())
    shutil.rmtree(out)
    return _curl_measure(t, n, shlex.join(
        [xargs, "-P", str(workers), "-n", str(per_curl), curl] +
        _curl_common(per_curl == 1)) + " < URLS", "".join(statuses))


def multi_poll(path, url_file, n, workers, fresh):
    """bench/multi-poll (the async area's yardstick): a plain
    curl_multi_perform + curl_multi_poll loop over the engines' easy handles.
    """
    if not path or not os.access(path, os.X_OK):
        if "multi-poll" not in _said:
            _said.add("multi-poll")
            skipped("multi-poll was not built: its peer rows are left out")
        return None
    argv = [path, url_file, str(workers)] + (["fresh"] if fresh else [])
    t = run(argv)
    got = re.search(r"ok (\d+)", t.stdout)
    ok = int(got.group(1)) if got else 0
    return _measure(t, n, ok, {"command": "multi-poll URLS %d%s" % (
        workers, " fresh" if fresh else "")})


def wrk(script, origin, paths_file, connections, seconds):
    """wrk -t1 -cN for a fixed time, its Lua script walking the paths: the
    throughput ceiling of a keep-alive HTTP client on this core. Its figures
    are per request made in that time.
    """
    exe = _tool("wrk")
    if exe is None:
        return None
    argv = [exe, "-t1", "-c%d" % connections, "-d%ds" % seconds, "-s",
            script, origin, "--", paths_file, "0"]
    t = run(argv, timeout=seconds + 60)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", t.stdout)
    total = re.search(r"(\d+) requests in", t.stdout)
    if t.status != 0 or rps is None or total is None:
        m = _measure(t, 1, 0)
        m["note"] = (t.stdout + t.stderr).strip()[-200:]
        return m
    n = int(total.group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t.stdout)
    sock = re.search(r"Socket errors:(.*)", t.stdout)
    errors = int(bad.group(1)) if bad else 0
    if sock:
        errors += sum(int(x) for x in re.findall(r"\d+", sock.group(1)))
    m = _measure(t, n, n - errors, {"command": " ".join(
        argv[:-2] + ["PATHS", "0"])})
    m["req_per_s"] = float(rps.group(1))
    m["requests"] = n
    return m


def python_original(script, python, url_file, mode, workers, connection,
                    delay_ms):
    """bench/peers/original.py for one cell: its own (in-process) figures,
    with the outside wall and CPU (interpreter start-up included) beside.
    """
    if not script:
        if "original" not in _said:
            _said.add("original")
            skipped("no Python original (bench/peers/original.py) given: "
                    "its peer rows are left out")
        return None
    argv = [python, script, "--urls", url_file, "--modes", mode, "--workers",
            str(workers), "--connection", connection]
    if delay_ms is not None:
        argv += ["--delay", str(delay_ms)]
    t = run(argv)
    try:
        cell = json.loads(t.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        m = _measure(t, 1, 0)
        m["note"] = (t.stderr.strip().splitlines() or ["no output"])[-1]
        return m
    m = {k: cell[k] for k in ("wall_s", "cpu_user_s", "cpu_sys_s", "cpu_s",
                              "cpu_per_req_ms", "max_rss_kib", "rss_sum_kib",
                              "req_per_s", "errors", "cpu_self_s")}
    m.update({"timing": "in-process", "status": t.status,
              "external_wall_s": t.wall_s, "external_cpu_s": t.cpu_s,
              "python": cell.get("python"), "command": " ".join(
                  ["python3", "original.py", "--urls", "URLS"] +
                  argv[4:])})
    if cell.get("first_error"):
        m["note"] = cell["first_error"][:200]
    return m
