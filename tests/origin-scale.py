# SPDX-License-Identifier: MIT
"""10,000 concurrent connections held by the origin at once, each served
(suite slow)."""

import importlib.util
import json
import os
import resource
import selectors
import sys
import time
import urllib.request

spec = importlib.util.spec_from_file_location(
    "origin_common", os.path.join(os.path.dirname(__file__), "origin-common.py"))
oc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oc)
oc.setup(sys.argv)

N = 10000


def test_ten_thousand_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < N + 100:
        raise oc.Skip("open files limit %d is below %d" % (hard, N + 100))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with oc.Origin("--corpus", "synthetic") as o:
        socks = []
        for i in range(N):
            socks.append(o.connect(timeout=30))
        stats = json.loads(urllib.request.urlopen(o.url + "/__stats").read())
        assert stats["connections"] >= N, stats
        # Every one of them asks, then every one reads its answer.
        sel = selectors.DefaultSelector()
        for i, s in enumerate(socks):
            s.sendall(oc.get_request("/__bytes/%d" % (100 + i % 50)))
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, [i, b""])
        done = 0
        deadline = time.monotonic() + 120
        while done < N and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                i, buf = key.data
                chunk = key.fileobj.recv(4096)
                assert chunk, "connection %d closed early" % i
                buf += chunk
                key.data[1] = buf
                head, sep, body = buf.partition(b"\r\n\r\n")
                if sep and len(body) == 100 + i % 50:
                    assert head.startswith(b"HTTP/1.1 200 OK")
                    sel.unregister(key.fileobj)
                    done += 1
        assert done == N, "%d of %d answered" % (done, N)
        for s in socks:
            s.close()


oc.run([test_ten_thousand_connections])
