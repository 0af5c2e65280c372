#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fetchbench's bench suites, one harness (bench/harness.py): the engines
through the fetchbench command, the programs users would pick instead, and
the origin, each on a loopback origin pinned to its own core.

usage: bench.py SUITE --fetchbench PATH --out DIR [--multi-poll PATH]
                [--raw-client PATH] [--origin-helper PATH] [--spawn PATH]

Suites (bench/README.md says what each answers and prints):
  seed, scale                   bench/suite_latency.py
  throughput, peers             bench/suite_throughput.py
  async-throughput, async-latency, async-memory, async-epoll
                                bench/suite_async.py
  origin                        bench/suite_origin.py
  https-seed, https-clients, https-origin
                                bench/suite_https.py
  loops-throughput, loops-latency, loops-memory, loops-scale,
  loops-syscalls                bench/suite_loops.py
  rate, rate-schedule           bench/suite_rate.py

Environment: FB_BENCH_QUICK=1 runs a short variant of each suite (for
checking that a suite works, not for figures); FB_BENCH_REPEAT=K sets the
repeats (rounds) of every sweep; FB_BENCH_RTT=MS gives the origins of
seed and https-seed an emulated round trip (--rtt MS).

Output: one JSON object per result on stdout, the human table on stderr;
DIR/SUITE/ holds results.jsonl, table.txt and the plots. Exit status: 0, or
1 when an engine cell had errors, a goal's run failed or the machinery
broke. Missing optional tools print "skipped: ..." and leave their part
out.
"""

import argparse
import importlib
import os
import sys
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import SUITES, Suite  # noqa: E402

# Each module registers its suites (@harness.suite) as it is imported.
for module in ("suite_latency", "suite_throughput", "suite_async",
               "suite_origin", "suite_https", "suite_loops", "suite_rate"):
    importlib.import_module(module)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", choices=sorted(SUITES))
    ap.add_argument("--fetchbench", required=True)
    ap.add_argument("--out", required=True,
                    help="results root: DIR/SUITE/ is (re)written")
    ap.add_argument("--multi-poll", help="the multi-poll bench program")
    ap.add_argument("--raw-client", help="the raw-client bench program")
    ap.add_argument("--origin-helper",
                    help="tests/origin-helper (counts the origin's OpenSSL "
                    "heap in /__stats)")
    ap.add_argument("--spawn",
                    help="bench/spawn, which starts the peers so that their "
                    "peak RSS is their own")
    args = ap.parse_args()
    s = Suite(args.suite, args)
    try:
        SUITES[args.suite](s)
    except Exception as exc:  # the machinery broke: say what, fail
        sys.stderr.write(traceback.format_exc())
        s.fail("%s: %s" % (type(exc).__name__, exc))
    return s.finish()


if __name__ == "__main__":
    sys.exit(main())
