# SPDX-License-Identifier: MIT
"""Headless Chromium driven over the DevTools protocol (python3 stdlib only).

The browser is started with --remote-debugging-pipe: it reads commands on
its fd 3 and writes answers and events on its fd 4, each message one JSON
text ended by a NUL byte, so no port is opened and no websocket is needed.
Everything that could reach the network is switched off.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--disable-default-apps",
    "--disable-domain-reliability", "--disable-breakpad",
    "--metrics-recording-only", "--mute-audio", "--hide-scrollbars",
    "--remote-debugging-pipe",
]


def find():
    """The chromium executable (FB_CHROMIUM, else chromium or
    chromium-browser on PATH), or None."""
    given = os.environ.get("FB_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with a fresh profile and one page."""

    def __init__(self, exe, timeout=30):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="fb-chromium-")
        self.next_id = 0
        self.buf = b""
        self.events = []  # (method, params) of the page's session
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def fds():
            # Out of the way first, so that neither dup2 clobbers the other.
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(os.path.join(self.profile, "stderr.txt"), "w+")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, "--user-data-dir=" + self.profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=fds, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        try:
            target = self.call("Target.createTarget",
                               {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget",
                                     {"targetId": target,
                                      "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(domain + ".enable")
        except Exception:
            self.close()
            raise

    def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise BrowserError("no answer from chromium in %d s" %
                               self.timeout)
        ready, _, _ = select.select([self.from_child], [], [], left)
        if not ready:
            return
        chunk = os.read(self.from_child, 1 << 20)
        if not chunk:
            self.log.seek(0)
            raise BrowserError("chromium closed its pipe (exit %s): %s" %
                               (self.proc.poll(), self.log.read()[-2000:]))
        self.buf += chunk

    def _messages(self, deadline):
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                yield json.loads(raw)
            self._read(deadline)

    def call(self, method, params=None, session=None):
        """Sends a command and returns its result; events that arrive
        meanwhile are kept in self.events."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        for m in self._messages(deadline):
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise BrowserError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m and m.get("sessionId") == getattr(
                    self, "session", None):
                self.events.append((m["method"], m.get("params", {})))

    def send(self, method, params=None):
        """A command to the page."""
        return self.call(method, params, self.session)

    def wait_event(self, method):
        """Waits for the page's next event `method` (kept ones first)."""
        deadline = time.monotonic() + self.timeout
        for i, (name, params) in enumerate(self.events):
            if name == method:
                del self.events[i]
                return params
        for m in self._messages(deadline):
            if "method" in m and m.get("sessionId") == self.session:
                if m["method"] == method:
                    return m.get("params", {})
                self.events.append((m["method"], m.get("params", {})))

    def viewport(self, width, height, mobile):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1,
                   "mobile": mobile})

    def load(self, url):
        """Navigates and waits for the load event."""
        self.events = [e for e in self.events if e[0] != "Page.loadEventFired"]
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.send("Runtime.evaluate", {"expression": expression,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            raise BrowserError("evaluate: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def screenshot(self, path, full_page=False):
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.evaluate("[document.documentElement.scrollWidth,"
                                 "document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0],
                              "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def pdf(self, path):
        data = self.send("Page.printToPDF", {"printBackground": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def console(self):
        """What the page said: console calls, exceptions, log entries."""
        said = []
        for name, p in self.events:
            if name == "Runtime.consoleAPICalled":
                said.append(("console." + p.get("type", "?"), json.dumps(
                    [a.get("value", a.get("description")) for a in
                     p.get("args", [])])))
            elif name == "Runtime.exceptionThrown":
                said.append(("exception", json.dumps(p.get(
                    "exceptionDetails", {}))[:500]))
            elif name == "Log.entryAdded":
                e = p.get("entry", {})
                said.append(("log." + e.get("level", "?"), e.get("text", "")))
        return said

    def requests(self):
        """The URLs the page asked for."""
        return [p.get("request", {}).get("url") for name, p in self.events
                if name == "Network.requestWillBeSent"]

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.call("Browser.close")
                except (BrowserError, OSError):
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self.to_child, self.from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
