#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The helpers every Python test and the bench harness share (fbtest.py):
meson's exit statuses for a unittest run, and the one origin starter."""

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fbtest  # noqa: E402
from cli_common import FB_BIN, require_bin  # noqa: E402


def run_script(body):
    """Runs a unittest script ending in fbtest.main(); its exit status."""
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write("import sys, unittest\nsys.path.insert(0, %r)\n"
                "import fbtest\n" % HERE)
        f.write(textwrap.dedent(body))
        f.write("\nfbtest.main()\n")
        f.flush()
        return subprocess.run([sys.executable, f.name],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode


# A class whose tests cannot run here: skipped as a whole.
SKIPPED_CLASS = """
class A(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise unittest.SkipTest("no tool")
    def test_a(self):
        pass
"""


class ExitStatus(unittest.TestCase):
    def test_every_test_skipped_is_77(self):
        self.assertEqual(run_script("""
            class A(unittest.TestCase):
                def test_a(self):
                    self.skipTest("no tool")
                def test_b(self):
                    raise unittest.SkipTest("no tool either")
            """), 77)

    def test_a_class_skipped_whole_is_77(self):
        self.assertEqual(run_script(SKIPPED_CLASS), 77)

    def test_a_class_skipped_beside_a_pass_is_0(self):
        self.assertEqual(run_script(SKIPPED_CLASS + """
class B(unittest.TestCase):
    def test_b(self):
        pass
"""), 0)

    def test_a_failure_is_1_even_beside_skips(self):
        self.assertEqual(run_script("""
            class A(unittest.TestCase):
                def test_a(self):
                    self.skipTest("no tool")
                def test_b(self):
                    self.assertEqual(1, 2)
            """), 1)

    def test_no_test_is_1(self):
        self.assertEqual(run_script("pass"), 1)


class StartOrigin(unittest.TestCase):
    def test_fetchbench_origin(self):
        """The URL read back, the corpus listed, a clean stop and reap."""
        with fbtest.Origin([FB_BIN, "origin", "--corpus", "synthetic"]) as o:
            self.assertTrue(o.url.startswith("http://127.0.0.1:"), o.url)
            self.assertGreater(o.port, 0)
            self.assertTrue(any(p.endswith(".html") for p in o.index()))
            o.connect().close()
        self.assertEqual(o.status, 0, o.stderr)
        self.assertIsNotNone(o.proc.returncode)

    def test_pinned(self):
        cpu = sorted(os.sched_getaffinity(0))[-1]
        with fbtest.Origin([FB_BIN, "origin", "--corpus", "synthetic"],
                           cpu=cpu) as o:
            self.assertEqual(os.sched_getaffinity(o.proc.pid), {cpu})

    def test_no_url_says_why_and_reaps(self):
        with self.assertRaisesRegex(RuntimeError, "did not print its URL.*"
                                    "no corpus here"):
            fbtest.Origin([sys.executable, "-c", "import sys; "
                           "print('listening'); "
                           "sys.stderr.write('no corpus here')"], timeout=10)

    def test_bad_option_says_why(self):
        with self.assertRaisesRegex(RuntimeError, "--no-such-option"):
            fbtest.Origin([FB_BIN, "origin", "--no-such-option"], timeout=10)

    def test_given_url_waits_until_accepting(self):
        """A server that prints nothing (nginx) is waited for."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % sock.getsockname()[1]
        late = threading.Timer(0.5, sock.listen)
        late.start()
        try:
            t0 = time.monotonic()
            o = fbtest.Origin([sys.executable, "-c",
                               "import time; time.sleep(60)"], url=url)
            self.assertGreaterEqual(time.monotonic() - t0, 0.4)
            self.assertEqual(o.url, url)
            self.assertEqual(o.stop(), -15)  # SIGTERM: that sleeper died
        finally:
            late.cancel()
            sock.close()

    def test_stop_kills_what_ignores_sigterm(self):
        o = fbtest.Origin([sys.executable, "-c", "import signal, time; "
                           "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                           "print('http://127.0.0.1:0', flush=True); "
                           "time.sleep(60)"])
        self.assertIsNone(o.stop(timeout=1))
        self.assertIsNotNone(o.proc.returncode)
        self.assertIsNone(o.stop())  # once stopped, the same answer


if __name__ == "__main__":
    require_bin()
    fbtest.main()
