#!/usr/bin/env python3
# scripts/heap-owners.py BASE AFTER N (docs/benchmarks.md, TestHeldCallMemory): inuse_space diff per call by owner (the innermost
# non-standard-library package on each sample's stack), from go tool pprof -raw.
import re, subprocess, sys, collections
def load(f):
    out = subprocess.run(["go","tool","pprof","-raw",f],capture_output=True,text=True).stdout
    samples, locs, sec = [], {}, None
    lines = out.split("\n")
    for ln in lines:
        if ln.startswith("Samples:"): sec="s"; continue
        if ln.startswith("Locations"): sec="l"; continue
        if ln.startswith("Mappings"): sec="m"; continue
        if sec=="s":
            m = re.match(r"\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+):\s*([\d ]+)$", ln)
            if m: samples.append((int(m.group(4)), [int(x) for x in m.group(5).split()]))
        elif sec=="l":
            m = re.match(r"\s*(\d+):\s+0x[0-9a-f]+\s+M=\d+\s+(\S+)", ln)
            if m: cur=int(m.group(1)); locs[cur]=[m.group(2)]
            else:
                m2 = re.match(r"\s+(\S+)\s+\S+:\d+", ln)
                if m2 and locs: locs[cur].append(m2.group(1))
    return samples, locs
def owner(stack, locs):
    for l in stack:
        for fn in locs.get(l, ["?"]):
            m = re.match(r"github\.com/hotline-dev/hotline/([a-z0-9_/]+)\.", fn)
            if m: return m.group(1)
            if fn.startswith("github.com/emiago/sipgo"): return "sipgo"
            if fn.startswith("github.com/pion"): return "pion"
            if fn.startswith("log/slog"): return "log/slog"
    return "other (runtime/stdlib only)"
def tally(f):
    s, l = load(f); t = collections.Counter()
    for b, st in s: t[owner(st, l)] += b
    return t
b, a, n = tally(sys.argv[1]), tally(sys.argv[2]), int(sys.argv[3])
d = {k: (a[k]-b[k])/n/1024 for k in set(a)|set(b)}
tot = sum(d.values())
for k, v in sorted(d.items(), key=lambda kv: -kv[1]):
    if abs(v) >= 0.1: print(f"| {k} | {v:.1f} |")
print(f"| total (sampled live heap) | {tot:.1f} |")
