"""Prints the markdown tables of auto_budgets.py's JSON: python3 fmt.py out.json."""
import json
import sys
MiB = 1048576.0
d = json.load(open(sys.argv[1]))
names = {"deeplabv3plus_mobilenetv2": "MobileNetV2 DeepLabV3+, batch 8, 512²", "deeplabv3plus_xception65": "Xception-65 DeepLabV3+, batch 2, 512²"}
for m, r in d.items():
    b = r["base"]
    step = b["none"]["stepFlops"]
    print("**%s** — none %.1f MiB, stages %.1f MiB (%.2f GFLOP), sqrt %.1f MiB (%.2f GFLOP), none recompute %.2f GFLOP, step %.2f GFLOP\n" % (
        names[m], b["none"]["plannedPeakBytes"]/MiB, b["stages"]["plannedPeakBytes"]/MiB, b["stages"]["recomputeFlops"]/1e9,
        b["sqrt"]["plannedPeakBytes"]/MiB, b["sqrt"]["recomputeFlops"]/1e9, b["none"]["recomputeFlops"]/1e9, step/1e9))
    print("| budget MiB | greedy GFLOP | greedy extra | greedy peak MiB | optimal GFLOP | optimal extra | optimal peak MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for bud, g, o in r["rows"]:
        def cell(x):
            return ("does not fit", "", "") if x is None else ("%.2f" % (x["recomputeFlops"]/1e9), "%.2f%%" % (100*x["recomputeFlops"]/x["stepFlops"]), "%.1f" % (x["plannedPeakBytes"]/MiB))
        gc, oc = cell(g), cell(o)
        better = g is None and o is not None or (g is not None and o is not None and o["recomputeFlops"] < g["recomputeFlops"])
        if better:
            oc = ("**" + oc[0] + "**",) + oc[1:]
        print("| %.1f | %s | %s | %s | %s | %s | %s |" % ((bud/MiB,) + gc + oc))
    print()
