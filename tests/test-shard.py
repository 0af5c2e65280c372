#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fetchbench run --shard and fetchbench merge: four shards run as local
processes against one origin, merged, equal a single run of the same list
(per URL: outcome, bytes, checksum; in all: counts and bytes), and their
merged p50/p99 are the percentiles of one histogram holding every sample;
a missing shard, a doubled shard and shards of another workload are
refused by name."""

import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_common import FB_BIN, origin, fb, require_bin  # noqa: E402

PAGES, SHARDS = 40, 4


def bucket_mid(low):
    """The midpoint of the histogram bucket whose smallest value is low
    (include/fetchbench/histogram.h: 128 linear buckets per power of two,
    one value per bucket below 128)."""
    if low < 128:
        return low
    width = 1 << (low.bit_length() - 1 - 7)
    return low + width // 2


def percentile(hist, p):
    """Nearest rank over the buckets, the bucket's midpoint clamped to
    [min, max], in ms: fb_histogram_percentile's rule."""
    x = p / 100 * hist["count"]
    rank = max(1, math.ceil(x - x * 1e-12))
    seen = 0
    for low, n in sorted(hist["buckets"]):
        seen += n
        if seen >= rank:
            return min(max(bucket_mid(low), hist["min"]), hist["max"]) / 1e6
    return hist["max"] / 1e6


def union(hists):
    """One histogram holding the values of all of hists."""
    buckets = {}
    for h in hists:
        for low, n in h["buckets"]:
            buckets[low] = buckets.get(low, 0) + n
    full = [h for h in hists if h["count"] > 0]
    return {"count": sum(h["count"] for h in hists),
            "min": min(h["min"] for h in full),
            "max": max(h["max"] for h in full),
            "buckets": sorted([k, v] for k, v in buckets.items())}


class Shards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.origin = origin("--delay", "2")
        base = ["run", "--origin", cls.origin.url, "--pages",
                str(PAGES), "--delay", "2", "--engine", "threads",
                "--workers", "2"]
        cls.base = base
        # The shards as local processes, all at once, JSON and CSV.
        procs = []
        for i in range(SHARDS):
            for fmt in ("json", "csv"):
                out = cls.file("s%d.%s" % (i, fmt))
                procs.append(subprocess.Popen(
                    [FB_BIN, *base, "--shard", "%d/%d" % (i, SHARDS),
                     "--format", fmt, "--output", out],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True))
        for p in procs:
            _, err = p.communicate(timeout=60)
            if p.returncode != 0:
                raise RuntimeError("a shard failed: %s" % err)
        for fmt in ("json", "csv"):
            r = fb(*base, "--format", fmt, "--output", cls.file("all." + fmt))
            if r.returncode != 0:
                raise RuntimeError("the single run failed: %s" % r.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        cls.dir.cleanup()

    @classmethod
    def file(cls, name):
        return os.path.join(cls.dir.name, name)

    def load(self, name):
        with open(self.file(name)) as f:
            return json.loads(f.read())

    def shard_files(self):
        return [self.file("s%d.json" % i) for i in range(SHARDS)]

    def test_shard_reports(self):
        """Each shard fetched the URLs whose index is its own modulo 4,
        and its CSV names them by their index in the whole list."""
        for i in range(SHARDS):
            doc = self.load("s%d.json" % i)
            self.assertEqual(doc["shard"], {"index": i, "count": SHARDS})
            self.assertEqual(doc["urls"], PAGES // SHARDS)
            self.assertEqual(doc["workload"]["urls"], PAGES)
            with open(self.file("s%d.csv" % i)) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([int(r["index"]) for r in rows],
                             list(range(i, PAGES, SHARDS)))

    def test_merge_equals_one_run(self):
        r = fb("merge", "--format", "json", *self.shard_files())
        self.assertEqual(r.returncode, 0, r.stderr)
        merged = json.loads(r.stdout)
        whole = self.load("all.json")
        for key in ("urls", "done", "ok", "errors_total", "bytes", "missing",
                    "engine"):
            self.assertEqual(merged[key], whole[key], key)
        self.assertEqual(merged["errors"], {})
        self.assertEqual(merged["merged_shards"], SHARDS)
        self.assertEqual(merged["workers"], 2 * SHARDS)
        shards = [self.load("s%d.json" % i) for i in range(SHARDS)]
        self.assertAlmostEqual(
            merged["cpu_user_s"], sum(s["cpu_user_s"] for s in shards),
            places=9)
        # Wall time: the earliest start to the latest end.
        start = min(s["start_real_ns"] for s in shards)
        end = max(s["end_real_ns"] for s in shards)
        self.assertEqual(merged["start_real_ns"], start)
        self.assertEqual(merged["end_real_ns"], end)
        self.assertAlmostEqual(merged["wall_s"], (end - start) / 1e9,
                               places=9)
        # The histograms: every sample of every shard, bucket by bucket,
        # and the percentiles those buckets give.
        for name, pct in (("latency", "latency_ms"), ("ttfb", "ttfb_ms")):
            one = union([s["histograms"][name] for s in shards])
            got = merged["histograms"][name]
            self.assertEqual(got["count"], PAGES)
            self.assertEqual(got["buckets"], one["buckets"], name)
            self.assertEqual((got["min"], got["max"]),
                             (one["min"], one["max"]))
            self.assertAlmostEqual(merged[pct]["p50"], percentile(one, 50),
                                   places=9)
            self.assertAlmostEqual(merged[pct]["p99"], percentile(one, 99),
                                   places=9)
        # Each shard's own percentiles follow the same rule (so the rule
        # above is fetchbench's).
        for s in shards:
            self.assertAlmostEqual(s["latency_ms"]["p99"],
                                   percentile(s["histograms"]["latency"],
                                              99), places=9)

    def test_per_url(self):
        """Per URL, the shards' CSV rows are the single run's: the same URL
        at the same index, the same outcome, bytes and checksum."""
        def rows(name):
            with open(self.file(name)) as f:
                return {int(r["index"]): (r["url"], r["outcome"],
                                          r["body_bytes"], r["checksum"])
                        for r in csv.DictReader(f)}
        whole = rows("all.csv")
        parts = {}
        for i in range(SHARDS):
            got = rows("s%d.csv" % i)
            self.assertFalse(set(got) & set(parts))
            parts.update(got)
        self.assertEqual(parts, whole)
        self.assertEqual(len(whole), PAGES)

    def test_text_and_stdin(self):
        text = "".join(open(f).read() for f in self.shard_files())
        r = fb("merge", "-", stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("# 4 shards merged: %d pages" % PAGES, r.stdout)
        self.assertIn("skew", r.stdout)
        self.assertRegex(r.stdout, r"\nthreads +8 ")

    def test_missing_shard(self):
        files = self.shard_files()[:3]
        r = fb("merge", *files)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout, "")
        self.assertIn("URL index 3 is in no shard (10 of the 40 URLs are "
                      "missing): shard 3/4", r.stderr)

    def test_doubled_shard(self):
        files = self.shard_files()
        r = fb("merge", *files, files[1])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("URL index 1 is in two shards: %s:1 (shard 1/4) and "
                      "%s:1 (shard 1/4)" % (files[1], files[1]), r.stderr)
        # A whole run with a shard of it: index 0 twice.
        r = fb("merge", self.file("all.json"), files[0])
        self.assertEqual(r.returncode, 1)
        self.assertIn("URL index 0 is in two shards", r.stderr)

    def test_other_workload(self):
        """A shard of a longer list, or of another connection policy: not a
        part of this run, named with its file."""
        other = self.file("other.json")
        r = fb(*self.base[:4], str(PAGES + 1), *self.base[5:], "--shard",
               "3/4", "--format", "json", "--output", other)
        self.assertEqual(r.returncode, 0, r.stderr)
        files = self.shard_files()[:3] + [other]
        r = fb("merge", *files)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("%s:1: the list's URLs %d, but %d in %s:1" %
                      (other, PAGES + 1, PAGES, files[0]), r.stderr)
        doc = self.load("s3.json")
        doc["workload"]["connection"] = "reuse"
        with open(other, "w") as f:
            f.write(json.dumps(doc) + "\n")
        r = fb("merge", *files)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:1: connection reuse, but fresh in" % other,
                      r.stderr)
        # A shard that lost a result of its own: an index without one.
        doc = self.load("s3.json")
        doc.update(missing=1, ok=9, errors_total=1)
        with open(other, "w") as f:
            f.write(json.dumps(doc) + "\n")
        r = fb("merge", *files)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s:1: shard 3/4 lost the results of 1 of its URLs"
                      % other, r.stderr)

    def test_bad_input(self):
        bad = self.file("bad.json")
        with open(bad, "w") as f:
            f.write('{"schema": 2, "engine": \n')
        r = fb("merge", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:1: malformed JSON" % bad, r.stderr)
        r = fb("merge")
        self.assertEqual(r.returncode, 2)
        self.assertIn("give the shards' reports", r.stderr)


class ShardAuto(unittest.TestCase):
    """--shard auto reads the batch system's variables and says which."""

    def run_auto(self, env):
        full = dict(os.environ)
        for k in ("SLURM_PROCID", "SLURM_NTASKS", "JOB_COMPLETION_INDEX",
                  "FB_SHARDS"):
            full.pop(k, None)
        full.update(env)
        return subprocess.run(
            [FB_BIN, "run", "--corpus", "synthetic", "--pages", "10",
             "--delay", "0", "--shard", "auto", "--format", "json"],
            capture_output=True, text=True, env=full, timeout=60)

    def test_slurm(self):
        r = self.run_auto({"SLURM_PROCID": "2", "SLURM_NTASKS": "3"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["shard"],
                         {"index": 2, "count": 3})
        self.assertIn("shard 2/3 (from SLURM_PROCID/SLURM_NTASKS): 3 of 10 "
                      "URLs", r.stderr)

    def test_kubernetes(self):
        r = self.run_auto({"JOB_COMPLETION_INDEX": "1", "FB_SHARDS": "2"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["shard"],
                         {"index": 1, "count": 2})
        self.assertIn("from JOB_COMPLETION_INDEX/FB_SHARDS", r.stderr)
        r = self.run_auto({"JOB_COMPLETION_INDEX": "1"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("FB_SHARDS", r.stderr)

    def test_none(self):
        r = self.run_auto({})
        self.assertEqual(r.returncode, 2)
        self.assertIn("--shard auto: neither SLURM_PROCID", r.stderr)
        r = self.run_auto({"SLURM_PROCID": "3", "SLURM_NTASKS": "3"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("the shard index '3'", r.stderr)


if __name__ == "__main__":
    require_bin()
    unittest.main(verbosity=2)
