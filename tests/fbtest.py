# SPDX-License-Identifier: MIT
"""What the Python tests and the bench harness share: the one way to start
an origin in a child process, and unittest's main with meson's statuses.

The tests import it from their own directory; bench/harness.py puts tests/
on its path. Standard library only.
"""

import os
import select
import json
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request


class Origin:
    """A server on loopback in a child process, started from argv:
    `fetchbench origin ...`, tests/origin-helper, or anything that prints
    its base URL as the first line of its standard output. A server that
    prints none (nginx) is given its url and waited for until it accepts.

    cpu pins the child (and what it forks) to that core; wrap runs argv
    under another program (valgrind). Standard error goes to a temporary
    file, so a chatty server never blocks; stop() keeps it in .stderr.
    """

    def __init__(self, argv, cpu=None, wrap=(), url=None, timeout=30):
        self.argv = [str(a) for a in list(wrap) + list(argv)]
        self.status = None
        self.stderr = ""
        self._err = tempfile.TemporaryFile()
        pin = None if cpu is None else lambda: os.sched_setaffinity(0, {cpu})
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stderr=self._err,
            stdout=subprocess.PIPE if url is None else subprocess.DEVNULL,
            preexec_fn=pin)
        try:
            self.url = url or self._read_url(timeout)
            parts = urllib.parse.urlsplit(self.url)
            self.host, self.port = parts.hostname, parts.port
            if url is not None:
                self._wait_accepting(timeout)
        except BaseException:
            self.kill()
            raise

    def _read_url(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith(("http://", "https://")):
            try:  # a server that gives up says why, then exits
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            self.kill()
            raise RuntimeError("%s did not print its URL in %d s: %r %s" % (
                self.argv[0], timeout, line, self.stderr.strip()))
        return line

    def _wait_accepting(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect(timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("%s does not accept on %s: %s" % (
                        self.argv[0], self.url, self.stderr.strip()))
                time.sleep(0.05)

    def connect(self, timeout=10):
        """A new TCP connection to the server, Nagle off."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def get(self, path, timeout=30):
        """The body of GET path (from its leading slash). Over https the
        server is verified with the PEM file in self.cafile where the caller
        set one (else the system's store)."""
        ctx = None
        if self.url.startswith("https:"):
            ctx = ssl.create_default_context(
                cafile=getattr(self, "cafile", None))
        with urllib.request.urlopen(self.url + path, timeout=timeout,
                                    context=ctx) as r:
            return r.read()

    def index(self):
        """The corpus paths, from GET /__index (no leading slash)."""
        return [p.lstrip("/") for p in self.get("/__index").decode().split(
            "\n") if p]

    def stats(self):
        """The counters of GET /__stats (a fetchbench origin's), as a dict."""
        return json.loads(self.get("/__stats"))

    def _reap(self):
        self.status = self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.seek(0)
        self.stderr = self._err.read().decode(errors="replace")
        self._err.close()

    def stop(self, timeout=10):
        """SIGTERM, then the exit status; None when it had to be killed
        after timeout seconds. Calling it again returns the same."""
        if self._err.closed:
            return self.status
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self._reap()
            self.status = None
            return None
        self._reap()
        return self.status

    def kill(self):
        """SIGKILL and reap (after a failure: no status wanted)."""
        if self._err.closed:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self._reap()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            self.kill()
        return False


def exit_status(result):
    """meson's status for a unittest result: 1 when a test failed or none
    ran, 77 (skip) when every test was skipped, else 0 (some passed)."""
    if not result.wasSuccessful():
        return 1
    # A class or module skipped as a whole is one entry that testsRun does
    # not count; a test skipped on its own is counted in both.
    alone = sum(isinstance(t, unittest.TestCase) for t, _ in result.skipped)
    if result.testsRun - alone - len(result.expectedFailures) > 0:
        return 0
    return 77 if result.skipped else 1


def run(suite):
    """Runs a unittest suite and exits with meson's status."""
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    sys.stdout.flush()
    sys.exit(exit_status(result))


def main():
    """unittest.main for the calling script, with meson's statuses."""
    prog = unittest.main(module="__main__", verbosity=2, exit=False)
    sys.exit(exit_status(prog.result))
