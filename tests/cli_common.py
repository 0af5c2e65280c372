"""Helpers for the python3 tests of the fetchbench command (stdlib only).

FB_BIN names the fetchbench executable (meson's test_env sets it).
"""

import os
import re
import select
import signal
import socket
import subprocess
import sys

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
        m = re.match(r"\s*(\S+)\s.*\(workers\s+1\.\.(\d+)\)\s*$", e, re.S)
        if m:
            found[m.group(1)] = int(m.group(2))
    return found


def closed_port():
    """A loopback port that nothing listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Origin:
    """A `fetchbench origin` child on 127.0.0.1, port 0; base_url is read
    from the first line of its standard output."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [FB_BIN, "origin", "--corpus", "synthetic", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        if not ready:
            self.stop()
            raise RuntimeError("origin did not print its URL in 30 s")
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError("origin printed %r %s" % (self.base_url, err))

    def index(self):
        """The corpus paths, from GET /__index."""
        import urllib.request
        with urllib.request.urlopen(self.base_url + "/__index",
                                    timeout=10) as r:
            return [p.lstrip("/") for p in r.read().decode().split("\n") if p]

    def stop(self):
        """SIGTERM, then the exit status (None when it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

