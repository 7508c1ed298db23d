#!/usr/bin/env python3
"""Exact vs greedy `auto` at 10 budgets between the sqrt and none peaks (docs/benchmarks.md, issue 11).

Usage: python3 benchmarks/plan-tables/auto_budgets.py target/leanseg.jar out.json; then fmt.py out.json prints the tables.
Plans only (deterministic): MobileNetV2 b8 512² and Xception-65 b2 512², reference device."""
import json, subprocess, sys
jar = sys.argv[1]; out = sys.argv[2]
MiB = 1048576.0
def plan(model, batch, rec):
    r = subprocess.run(["java", "-jar", jar, "plan", "--device", "reference", "--model", model, "--batch", str(batch),
                        "--size", "512x512", "--recompute", rec, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)
res = {}
for model, batch in [("deeplabv3plus_mobilenetv2", 8), ("deeplabv3plus_xception65", 2)]:
    base = {p: plan(model, batch, p) for p in ["none", "stages", "sqrt"]}
    none = base["none"]["plannedPeakBytes"]; sq = base["sqrt"]["plannedPeakBytes"]
    rows = []
    for k in range(10):
        b = sq + k * (none - sq) // 9
        g = plan(model, batch, "auto-greedy:%d" % b)
        o = plan(model, batch, "auto:%d" % b)
        rows.append((b, g, o))
        print(model, k, b / MiB, g and (g["recomputeFlops"], g["plannedPeakBytes"] / MiB), o and (o["recomputeFlops"], o["plannedPeakBytes"] / MiB), flush=True)
    res[model] = {"base": base, "rows": [(b, g, o) for b, g, o in rows]}
json.dump(res, open(out, "w"))
