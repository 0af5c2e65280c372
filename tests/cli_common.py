# SPDX-License-Identifier: MIT
"""Helpers for the python3 tests of the fetchbench command (stdlib only).
Their origins start through fbtest.Origin, the one origin starter; they run
with fbtest.main() (unittest, a whole skip exits 77).

FB_BIN names the fetchbench executable (meson's test_env sets it).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import fbtest

FB_BIN = os.environ.get("FB_BIN")


def require_bin():
    """Exits 77 (skip) when FB_BIN is not set or not executable."""
    if not FB_BIN or not os.access(FB_BIN, os.X_OK):
        print("FB_BIN not set or not executable: skipped", file=sys.stderr)
        sys.exit(77)


def fb(*args, stdin=None, timeout=60):
    """Runs fetchbench with args; returns the CompletedProcess (text)."""
    return subprocess.run([FB_BIN, *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def engines():
    """{name: max_workers} of the registered engines, from --help."""
    out = fb("--help").stdout
    section = out.split("Engines:\n", 1)[1].split("\n\n", 1)[0]
    # One entry per engine; wrapped lines continue with deeper indentation.
    entries = re.split(r"\n(?=  \S)", section)
    found = {}
    for e in entries:
        e = " ".join(e.split())
        # An engine this system refuses (io_uring under seccomp, say) says
        # so after its workers: left out of the tests, with the reason.
        m = re.match(r"(\S+) .*\(workers 1\.\.(\d+)\); unavailable here: "
                     r"(.*)$", e)
        if m:
            if m.group(1) not in _said_unavailable:
                _said_unavailable.add(m.group(1))
                sys.stderr.write("engine %s left out: %s\n"
                                 % (m.group(1), m.group(3)))
            continue
        m = re.match(r"(\S+) .*\(workers 1\.\.(\d+)\)$", e)
        if m:
            found[m.group(1)] = int(m.group(2))
    return found


_said_unavailable = set()


def closed_port():
    """A loopback port that nothing listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def origin(*args):
    """`fetchbench origin --corpus synthetic ARGS` on 127.0.0.1, port 0
    (fbtest.Origin: .url, .index(), .stop() returns the exit status)."""
    return fbtest.Origin([FB_BIN, "origin", "--corpus", "synthetic", *args])


def _children(pid):
    """The pids of pid's children (/proc/PID/task/TID/children)."""
    found = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass  # gone meanwhile, or a kernel without the children file
    return found


def _blocked_on_fifo(pid):
    """True when pid waits in open() for the other end of a FIFO."""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return f.read().strip() == "wait_for_partner"
    except OSError:
        return False


def _open_gate(fifo):
    """Releases a reader blocked opening fifo (none waiting: nothing)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def cancel_while_origin_starts(command, sig, *args):
    """Runs `fetchbench COMMAND` with an embedded origin whose corpus holds a
    link to a FIFO, so that loading it blocks in open() until the test opens
    the other end; sends sig to fetchbench while its origin child is blocked
    there (so before any request), then lets the origin go on. Returns the
    exit status, stdout and stderr (those of an early exit when fetchbench
    ended before its origin blocked). Skips when the blocked child cannot be
    seen (/proc/PID/wchan or children not readable)."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.realpath(tmp)
        with open(os.path.join(corpus, "index.html"), "w") as f:
            f.write("<html><body>page</body></html>\n")
        gate = os.path.join(corpus, "gate")
        os.mkfifo(gate)
        os.symlink(gate, os.path.join(corpus, "wait.html"))
        p = subprocess.Popen([FB_BIN, command, "--corpus", corpus,
                              "--delay", "0", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        blocked = False
        deadline = time.monotonic() + 20
        while not blocked and p.poll() is None:
            if time.monotonic() > deadline:
                p.kill()
                p.communicate()
                _open_gate(gate)  # or the orphaned origin waits forever
                raise unittest.SkipTest("the origin child was not seen "
                                        "blocked on its FIFO in 20 s "
                                        "(no /proc/PID/wchan or children?)")
            blocked = any(_blocked_on_fifo(c) for c in _children(p.pid))
            if not blocked:
                time.sleep(0.01)
        if blocked:
            p.send_signal(sig)
            _open_gate(gate)  # only now may the origin finish loading
        out, err = p.communicate(timeout=60)
        return p.returncode, out, err


def handlers_installed(pid):
    """True once pid catches SIGINT and SIGTERM (SigCgt in /proc)."""
    want = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16) & want == want
    except OSError:
        pass
    return False
