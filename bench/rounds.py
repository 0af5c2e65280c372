# SPDX-License-Identifier: MIT
"""Engines and peers measured in interleaved rounds, and the rows that come
of them: each round runs every contender once, starting one further along
the list each round, so that the drift of a shared machine spreads over all
of them; a row's figures are the median with min-max over its rounds.
"""

from harness import ideal_of, log, med, stat

# What a row's statistics are called, in compare's JSON and ours.
STAT_KEYS = ("wall_s", "cpu_user_s", "cpu_sys_s", "cpu_s", "child_cpu_s",
             "cpu_per_req_ms", "max_rss_kib", "rss_sum_kib",
             "latency_p50_ms", "latency_p99_ms", "req_per_s")

# Peers' figures kept beside the statistics, when they have them.
PEER_KEYS = ("external_wall_s", "external_cpu_s", "cpu_self_s", "run_s",
             "handshakes_full", "handshakes_resumed")

# The engines in the order tables list them; engines not named here (new
# ones) come after, by name.
ENGINES = ("sequential", "threads", "processes", "async")


def engine_order(name):
    return (ENGINES.index(name) if name in ENGINES else len(ENGINES), name)


def run_rounds(rounds, contenders):
    """Runs the rounds. A contender returns [(key, figures)]: a key
    ("engine", name, workers) with a compare cell, or ("peer", name,
    workers) with a peer measurement (None: skipped). Returns {key:
    [figures per round]} in first-seen order.
    """
    got = {}
    for r in range(rounds):
        k = r % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            for key, value in c():
                if value is not None:
                    got.setdefault(key, []).append(value)
        log("  round %d of %d done" % (r + 1, rounds))
    return got


def compare_contender(s, origin, args):
    """Every engine cell of `fetchbench compare ARGS`, one run each."""
    def run():
        cells, _, _ = s.compare(args + ["--repeat", "1"], origin)
        return [(("engine", c["engine"], c["workers"]), c) for c in cells]
    return run


def peer_contender(name, workers, fn, *args):
    """The peer fn(*args), its rows keyed (name, workers)."""
    return lambda: [(("peer", name, workers), fn(*args))]


def merge_rounds(runs):
    """Engine cells of one (engine, workers) measured in several compare
    invocations (one run each): the statistics over the runs, as compare
    would give them.
    """
    row = dict(runs[0])
    for key in STAT_KEYS + ("run_efficiency",):
        if any(isinstance(r.get(key), dict) for r in runs):
            row[key] = stat((r.get(key) or {}).get("median") for r in runs)
    row["runs"] = sum(r.get("runs", 0) for r in runs)
    row["failed_runs"] = sum(r.get("failed_runs", 0) for r in runs)
    row["errors_total"] = sum(r.get("errors_total", 0) for r in runs)
    row["errors"] = {}
    for r in runs:
        for outcome, count in (r.get("errors") or {}).items():
            row["errors"][outcome] = row["errors"].get(outcome, 0) + count
    row["repeats"] = len(runs)
    row["runs_wall_s"] = [w for r in runs for w in r.get("runs_wall_s", [])]
    if (row.get("ideal_s") or 0) > 0 and med(row, "wall_s"):
        row["efficiency"] = row["ideal_s"] / med(row, "wall_s")
    return row


def peer_row(s, sweep, key, measures, w):
    """A row from a peer's measurements on workload w."""
    _, client, workers = key
    row = {"suite": s.name, "sweep": sweep, "kind": "cell", "type": "peer",
           "client": client, "engine": client, "workers": workers,
           "urls": w.n, "connection": w.connection, "delay_ms": w.delay_ms,
           "repeats": len(measures), "runs": len(measures),
           "errors": sum(m["errors"] for m in measures),
           "timing": measures[0]["timing"],
           "command": measures[0].get("command")}
    for k in STAT_KEYS + PEER_KEYS:
        if any(m.get(k) is not None for m in measures):
            row[k] = stat(m.get(k) for m in measures)
    row["runs_wall_s"] = [m["wall_s"] for m in measures]
    if any(m.get("bytes_checked") for m in measures):
        row["bytes_checked"] = True
    notes = [m["note"] for m in measures if m.get("note")]
    if notes:
        row["note"] = notes[0]
    if w.delay_ms is not None:
        row["ideal_s"] = ideal_of(w.n, workers, w.delay_ms)
        row["efficiency"] = row["ideal_s"] / med(row, "wall_s")
    row.update(s.context())
    return row


def rows_of(s, sweep, got, w):
    """Rows from run_rounds' results, printed: engines first, in their
    order, then the peers as they came."""
    engines = sorted((k for k in got if k[0] == "engine"),
                     key=lambda k: (engine_order(k[1]), k[2]))
    rows = [s.engine_row(sweep, merge_rounds(got[k])) for k in engines]
    rows += [peer_row(s, sweep, k, got[k], w)
             for k in got if k[0] == "peer"]
    for r in rows:
        s.add(r)
    return rows


def parent_cpu(row):
    """CPU of the parent process alone: what the original's CPU column
    showed (its process pool's work happened in the children).
    """
    if row.get("cpu_self_s"):
        return "%.3f" % med(row, "cpu_self_s")
    if row["type"] != "engine" or med(row, "cpu_s") is None:
        return "-"
    return "%.3f" % (med(row, "cpu_s") - (med(row, "child_cpu_s") or 0))


def ratio_lines(rows, key, better, what):
    """"X / async" for every row, at the same workers where async has them."""
    asyncs = {r["workers"]: r for r in rows if r["client"] == "async"}
    top = max(asyncs) if asyncs else None
    out = []
    for r in rows:
        a = asyncs.get(r["workers"], asyncs.get(top))
        if r["client"] == "async" or a is None or not med(r, key) or \
                not med(a, key):
            continue
        out.append("  %-22s %6.2fx async's %s (async at %d)" % (
            "%s %d:" % (r["client"], r["workers"]),
            med(r, key) / med(a, key), what, a["workers"]))
    return ["%s, relative to async (%s is better):" % (what, better)] + out
