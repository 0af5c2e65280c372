#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks test-report's output with python's own json and csv parsers.

    json-check.py strings FILE   FILE is a JSON array of {"hex": H, "s": S}:
                                 S must equal the bytes H decoded as UTF-8
                                 with every ill-formed subsequence replaced
                                 by U+FFFD (Unicode's maximal-subpart rule).
    json-check.py summary FILE   FILE holds the JSON Lines that
                                 test-report's summary test writes.
    json-check.py csv FILE WANT  FILE is a CSV report; WANT a JSON array of
                                 the rows (lists of strings) it must parse to.

Exit status 0 when every check passes, 1 otherwise (with the reason on
stderr).
"""

import csv
import json
import math
import sys

SUMMARY_KEYS = [
    "schema", "engine", "workers", "workers_ran", "urls", "done", "ok",
    "errors", "errors_total",
    "missing", "duplicates", "wall_s", "setup_s", "bare_fork_s", "cpu_user_s",
    "cpu_sys_s",
    "child_cpu_user_s", "child_cpu_sys_s", "cpu_per_req_ms", "max_rss_kib",
    "rss_sum_kib", "vcsw", "ivcsw", "req_per_s", "bytes", "bytes_per_s",
    "reused", "handshakes_full", "handshakes_resumed", "latency_ms",
    "ttfb_ms", "tls_ms", "delay_ms", "ideal_s", "efficiency",
    "delay_mismatch", "rate_asked", "rate_achieved", "late", "corrected_ms",
    "queue_ms", "engine_features", "start_real_ns", "end_real_ns", "histograms",
]

OUTCOMES = {
    "http", "resolve", "connect", "tls", "send", "recv", "timeout",
    "too_large", "protocol", "redirect", "lost", "cancelled", "not_run",
    "resource",
    "other",
}


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def strict_loads(text):
    def no_constant(name):
        raise Failure("non-standard JSON constant %s" % name)
    return json.loads(text, parse_constant=no_constant)


def check_strings(path):
    with open(path, "rb") as f:
        raw = f.read()
    # The file itself must be valid UTF-8: invalid input bytes may not leak.
    cases = strict_loads(raw.decode("utf-8", errors="strict"))
    for i, case in enumerate(cases):
        want = bytes.fromhex(case["hex"]).decode("utf-8", errors="replace")
        expect(case["s"] == want,
               "case %d (%s): got %r, want %r" % (i, case["hex"], case["s"],
                                                  want))
    print("%d strings round-trip" % len(cases))


def check_summary_object(obj, line):
    for key in SUMMARY_KEYS:
        expect(key in obj, "line %d: key %s missing" % (line, key))
    expect(obj["schema"] == 2, "schema is %r" % obj["schema"])
    for key, value in obj.items():
        if isinstance(value, float):
            expect(math.isfinite(value), "%s is %r" % (key, value))
    expect(isinstance(obj["errors"], dict), "errors is not an object")
    for name, count in obj["errors"].items():
        expect(name in OUTCOMES, "unknown outcome %r in errors" % name)
        expect(isinstance(count, int) and count > 0,
               "errors.%s is %r" % (name, count))
    for key in ("latency_ms", "ttfb_ms", "tls_ms"):
        expect(sorted(obj[key]) == ["max", "p50", "p90", "p99", "p999"],
               "%s has keys %r" % (key, sorted(obj[key])))


def check_summary(path):
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").splitlines()
    expect(len(lines) == 2, "want 2 JSON lines, got %d" % len(lines))
    known, unknown = (strict_loads(l) for l in lines)
    check_summary_object(known, 1)
    check_summary_object(unknown, 2)

    # Values test-report put in.
    expect(known["engine"] == 'thr"eads\n\u00e9\ufffd', "engine %r" %
           known["engine"])
    expect(known["workers"] == 8 and known["urls"] == 100, "workers/urls")
    expect(known["ok"] == 95 and known["errors_total"] == 5, "ok/errors")
    expect(known["errors"] == {"timeout": 3, "http": 1},
           "errors %r" % known["errors"])
    expect(known["missing"] == 1 and known["duplicates"] == 2,
           "missing/duplicates")
    expect(known["wall_s"] == 0.1, "wall_s %r" % known["wall_s"])
    expect(known["cpu_user_s"] == 0.25 and known["cpu_sys_s"] == 1e-06,
           "cpu %r %r" % (known["cpu_user_s"], known["cpu_sys_s"]))
    expect(known["rss_sum_kib"] == 123456 and known["max_rss_kib"] == 100000,
           "rss_sum_kib/max_rss_kib")
    expect(known["done"] == 99 and known["workers_ran"] == 8,
           "done/workers_ran")
    expect(known["bytes"] == 2**53 + 1, "bytes %r" % known["bytes"])
    expect(known["latency_ms"] == {"p50": 70.5, "p90": 80.25, "p99": 99.125,
                                   "p999": 100.0625, "max": 1234.5},
           "latency %r" % known["latency_ms"])
    expect(known["delay_ms"] == 70 and known["ideal_s"] == 0.091,
           "delay/ideal %r %r" % (known["delay_ms"], known["ideal_s"]))
    expect(abs(known["efficiency"] - 0.091 / 0.1) < 1e-12, "efficiency")

    # Unknown figures are null, and NaN or infinity never leak out.
    for key in ("delay_ms", "ideal_s", "efficiency"):
        expect(unknown[key] is None, "%s is %r, want null" % (key,
                                                              unknown[key]))
    expect(unknown["engine"] is None, "engine %r" % unknown["engine"])
    expect(unknown["req_per_s"] is None, "NaN req_per_s is %r" %
           unknown["req_per_s"])
    expect(unknown["bytes_per_s"] is None, "inf bytes_per_s is %r" %
           unknown["bytes_per_s"])
    expect(unknown["errors"] == {}, "errors %r" % unknown["errors"])
    expect(unknown["wall_s"] == 0 and str(lines[1]).find("-0") < 0,
           "negative zero")
    print("summary JSON ok")


def check_csv(path, want_path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, strict=True))
    with open(want_path, encoding="utf-8") as f:
        want = json.load(f)
    expect(len(rows) == len(want), "%d rows, want %d" % (len(rows),
                                                         len(want)))
    for i, (got, exp) in enumerate(zip(rows, want)):
        expect(got == exp, "row %d:\n got %r\nwant %r" % (i, got, exp))
    print("%d CSV rows ok" % len(rows))


def main():
    try:
        mode = sys.argv[1]
        if mode == "strings":
            check_strings(sys.argv[2])
        elif mode == "summary":
            check_summary(sys.argv[2])
        elif mode == "csv":
            check_csv(sys.argv[2], sys.argv[3])
        else:
            raise Failure("unknown mode %r" % mode)
    except (Failure, ValueError, KeyError, IndexError) as e:
        print("json-check: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
