#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A server that pauses: it answers every request at once, except during
one stretch of the run (from PAUSE_AT to PAUSE_AT + PAUSE_FOR seconds after
the first request it saw), when it holds every answer until the stretch
ends, as a server in a long garbage-collection pause or a stalled disk
would. The open-loop test (test-openloop.py) shows coordinated omission
with it. Prints its base URL on the first line, then serves until killed.

    pause-server.py PAUSE_AT PAUSE_FOR
"""

import http.server
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body go out in two writes: without this, Nagle's algorithm
    # holds the body until the client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True
    body = b"x" * 100

    def do_GET(self):
        srv = self.server
        now = time.monotonic()
        with srv.lock:
            if srv.t0 is None:
                srv.t0 = now
        start, end = srv.t0 + srv.pause_at, srv.t0 + srv.pause_at + \
            srv.pause_for
        if start <= now < end:
            time.sleep(end - now)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.t0 = None
    srv.lock = threading.Lock()
    srv.pause_at, srv.pause_for = float(sys.argv[1]), float(sys.argv[2])
    print("http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
