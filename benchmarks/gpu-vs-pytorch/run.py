#!/usr/bin/env python3
"""Side-by-side GPU benchmark: LeanSeg (`leanseg bench-step --device cuda`) against PyTorch (fp32 with TF32
convolutions, AMP bf16 channels-last, torch.compile) on the same DeepLabV3+ models (MODEL_SPEC.md), the same GPU,
peers alternating in rounds, each run a fresh process; then the largest batch under each memory budget (LeanSeg: its
plan, checked by a real step; PyTorch: real steps under set_per_process_memory_fraction). Prints one table and writes
every run and the summary as JSON. Issue 15, item 7.

    python3 benchmarks/gpu-vs-pytorch/run.py --leanseg /tmp/leanseg-bundle/leanseg/bin/leanseg   # on the GPU machine
    python3 benchmarks/gpu-vs-pytorch/run.py --dry-run          # print the commands only
    python3 benchmarks/gpu-vs-pytorch/run.py --smoke            # harness check on the CPU: tiny inputs, fp32 only

Default configurations: MobileNetV2 at batch 8 and 16, 512x512; Xception-65 at batch 2, 512x512, and batch 1,
1024x2048. In the tools/gpu bundle, run.sh part 7 runs this file.
"""
import argparse
import datetime
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]

def _cpu_runner():
    """The CPU runner (benchmarks/cpu-vs-pytorch/run.py), for its machine/load/median helpers."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("cpu_vs_pytorch_run", HERE.parent / "cpu-vs-pytorch" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_CPU = _cpu_runner()
load, machine, med, shell = _CPU.load, _CPU.machine, _CPU.med, _CPU.shell

MOBILENET = "deeplabv3plus_mobilenetv2"
XCEPTION = "deeplabv3plus_xception65"
SHORT = {MOBILENET: "MobileNetV2", XCEPTION: "Xception-65"}
# (model, batch, "HxW"): issue 15, item 7
CONFIGS = [(MOBILENET, 8, "512x512"), (MOBILENET, 16, "512x512"), (XCEPTION, 2, "512x512"), (XCEPTION, 1, "1024x2048")]
SMOKE_CONFIGS = [(MOBILENET, 2, "64x64"), (XCEPTION, 2, "64x64")]
VARIANTS = ("fp32", "amp_bf16_cl", "compile")
MIB = 1024.0 * 1024.0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--leanseg", default=str(REPO / "target" / "leanseg.jar"),
                   help="bin/leanseg of the bundle, or a leanseg.jar (run with --java) (default: %(default)s)")
    p.add_argument("--java", default="java", help="java, for a .jar --leanseg (default: %(default)s)")
    p.add_argument("--python", default=sys.executable, help="Python with torch (default: this one)")
    p.add_argument("--device", default="cuda", help="cuda; cpu for --smoke (default: %(default)s)")
    p.add_argument("--configs", help="MODEL:BATCH:HxW,... (default: the issue's four)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="PyTorch variants (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--budgets", default="6,12", help="GiB, comma-separated; empty: skip the batch search")
    p.add_argument("--budget-model", default=MOBILENET, help="model of the batch search (default: %(default)s)")
    p.add_argument("--budget-size", default="512x512")
    p.add_argument("--budget-variants", default="fp32,amp_bf16_cl", help="PyTorch variants searched (default: %(default)s)")
    p.add_argument("--fused-too", action="store_true", help="also LeanSeg's fused step (peer leanseg:DEVICE+fused: its kernels not "
                   "yet tested on the device run, LEANSEG_UNTESTED=DEVICE, Note [Running untested kernels])")
    p.add_argument("--bf16-too", action="store_true", help="also LeanSeg's bf16 step (peer leanseg:DEVICE+bf16: train.precision "
                   "bf16, on cuda float32 kernels over widened copies of the 16-bit tensors, Note [Widened 16-bit runs]); with "
                   "--fused-too also leanseg:DEVICE+fused+bf16 (the fused step and the untested 16-bit kernels)")
    p.add_argument("--timeout", type=int, default=600, help="seconds one run may take")
    p.add_argument("--deadline", type=float, default=0, help="seconds; stop starting runs after this (0: none)")
    p.add_argument("--out", help="JSON file (default: work_dirs/gpu-vs-pytorch/<date>.json, or $OUT/gpu-vs-pytorch.json)")
    p.add_argument("--smoke", action="store_true", help="harness check on the CPU: both models at 2x64x64, fp32, 1 step, "
                   "1 round, budgets skipped; its figures mean nothing")
    p.add_argument("--dry-run", action="store_true", help="print the runs' commands and stop")
    a = p.parse_args(argv)
    if a.smoke:
        a.device, a.variants, a.warmup, a.steps, a.rounds, a.budgets = "cpu", "fp32", 1, 1, 1, ""
    a.configs = parse_configs(a.configs) if a.configs else (SMOKE_CONFIGS if a.smoke else CONFIGS)
    a.variant_list = [v.strip() for v in a.variants.split(",") if v.strip()]
    if any(v not in VARIANTS for v in a.variant_list):
        p.error(f"--variants: {a.variants!r}; use {', '.join(VARIANTS)}")
    a.budget_list = [float(v) for v in a.budgets.split(",") if v.strip()]
    if a.rounds < 1 or a.steps < 1 or a.warmup < 0:
        p.error("--rounds and --steps must be >= 1 and --warmup >= 0")
    return a


def parse_configs(text):
    out = []
    for item in text.split(","):
        model, batch, size = item.split(":")
        out.append((model, int(batch), size))
    return out


def leanseg_cmd(a, *args):
    tool = pathlib.Path(a.leanseg)
    head = [a.java, "-jar", str(tool)] if tool.suffix == ".jar" else [str(tool)]
    return head + list(args)


def leanseg_variants(a):
    """(peer name suffix, extra environment, extra arguments) of each LeanSeg step measured: the default one, with
    --fused-too the fused step whose kernels have not passed their tests on the device yet (Note [Running untested
    kernels]), with --bf16-too the bf16 step."""
    out = [("", {}, [])]
    if a.fused_too:
        out.append(("+fused", {"LEANSEG_UNTESTED": a.device}, []))
    if a.bf16_too:
        out.append(("+bf16", {}, ["--precision", "bf16"]))
        if a.fused_too:   # and the 16-bit kernels, untested on the device like the fused ones
            out.append(("+fused+bf16", {"LEANSEG_UNTESTED": a.device}, ["--precision", "bf16"]))
    return out


def peers(a):
    out = [{"name": f"leanseg:{a.device}{suffix}", "kind": "leanseg", "env": env,
            "command": lambda m, b, s, res, extra=extra: leanseg_cmd(a, "bench-step", "--device", a.device, "--model", m, "--batch",
                                                                     str(b), "--size", s, "--warmup", str(a.warmup), "--steps",
                                                                     str(a.steps), "--out", res, *extra)}
           for suffix, env, extra in leanseg_variants(a)]
    for v in a.variant_list:
        out.append({"name": f"pytorch-{v}", "kind": "pytorch", "variant": v,
                    "command": lambda m, b, s, res, v=v: [a.python, str(HERE / "torch_gpu_step.py"), "--model", m, "--batch",
                                                          str(b), "--size", s, "--variant", v, "--device", a.device,
                                                          "--warmup", str(a.warmup), "--steps", str(a.steps), "--out", res]})
    return out


def run_json(cmd, result, a, env=None):
    """Runs cmd (with env added to this process's environment); its JSON result, or an error line."""
    t0 = time.time()
    rec = {"command": cmd, "env": env or {}}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, cwd=str(HERE), env={**os.environ, **(env or {})})
        rec["returncode"] = r.returncode
        doc = json.loads(pathlib.Path(result).read_text()) if pathlib.Path(result).is_file() else None
        if doc is not None and "error" not in doc:
            rec["result"] = doc
        else:
            lines = ((doc or {}).get("error") or r.stderr.strip() or r.stdout.strip() or "no output").splitlines()
            rec["error"] = lines[-1][:300]
    except subprocess.TimeoutExpired:
        rec["returncode"] = None
        rec["error"] = f"timed out after {a.timeout} s"
    rec["wallSeconds"] = round(time.time() - t0, 2)
    return rec


def step_figures(peer, res):
    """(ms per step, peak bytes, extra figures) from a run's JSON."""
    t = res["train"]
    if peer["kind"] == "leanseg":
        return t["medianMillis"], t.get("deviceRunBytes") if t.get("deviceRunBytes", -1) >= 0 else t.get("measuredPeakBytes"), {
            "plannedPeakBytes": t.get("plannedPeakBytes"), "measuredPeakBytes": t.get("measuredPeakBytes"),
            "deviceRunBytes": t.get("deviceRunBytes"), "backend": t.get("backend")}
    return t["medianMillis"], t.get("maxMemoryAllocatedBytes"), {"maxMemoryReservedBytes": t.get("maxMemoryReservedBytes"),
                                                                   "firstStepSeconds": t.get("firstStepSeconds")}


def summarise(runs, configs, live):
    rows = []
    for model, batch, size in configs:
        group = []
        for p in live:
            mine = [r for r in runs if r["peer"] == p["name"] and (r["model"], r["batch"], r["size"]) == (model, batch, size)]
            ok = [r["result"] for r in mine if "result" in r]
            errors = [r["error"] for r in mine if "error" in r]
            row = {"model": model, "batch": batch, "size": size, "peer": p["name"], "runs": len(ok),
                   "error": errors[-1] if errors and not ok else None}
            if ok:
                figs = [step_figures(p, o) for o in ok]
                row["stepMillis"] = med([f[0] for f in figs])
                row["imagesPerSecond"] = batch * 1000.0 / row["stepMillis"]
                row["peakBytes"] = med([f[1] for f in figs if f[1] is not None])
                for k in figs[0][2]:
                    vals = [f[2][k] for f in figs if isinstance(f[2].get(k), (int, float))]
                    row[k] = med(vals) if vals else figs[0][2][k]
            group.append(row)
        by = {r["peer"]: r for r in group if r["runs"]}
        for r in group:
            if not r["runs"]:
                continue
            for v in ("fp32", "amp_bf16_cl"):
                ref = by.get(f"pytorch-{v}")
                if ref and r is not ref:
                    r[f"speedVs_{v}"] = r["imagesPerSecond"] / ref["imagesPerSecond"]
                    if r.get("peakBytes") and ref.get("peakBytes"):
                        r[f"peakVs_{v}"] = r["peakBytes"] / ref["peakBytes"]
        rows += group
    return rows


def table(rows, a):
    def mib(v):
        return f"{v / MIB:,.0f}" if isinstance(v, (int, float)) and v >= 0 else "-"

    def x(v):
        return f"{v:.2f}x" if v is not None else "-"

    head = ["config", "peer", "ms/step", "img/s", "peak MiB", "planned MiB", "speed vs fp32", "speed vs AMP", "peak vs fp32",
            "peak vs AMP"]
    lines = [head]
    for r in rows:
        config = f"{SHORT.get(r['model'], r['model'])} b{r['batch']} {r['size']}"
        if not r["runs"]:
            lines.append([config, r["peer"], f"failed: {r['error']}" if r["error"] else "not run (--deadline)"])
            continue
        lines.append([config, r["peer"], f"{r['stepMillis']:.2f}", f"{r['imagesPerSecond']:.1f}", mib(r.get("peakBytes")),
                      mib(r.get("plannedPeakBytes")), x(r.get("speedVs_fp32")), x(r.get("speedVs_amp_bf16_cl")),
                      x(r.get("peakVs_fp32")), x(r.get("peakVs_amp_bf16_cl"))])
    full = [l for l in lines if len(l) == len(head)]
    widths = [max(len(l[i]) for l in full) for i in range(len(head))]
    out = []
    for i, l in enumerate(lines):
        if len(l) < len(head):
            out.append(f"{l[0]:<{widths[0]}}  {l[1]:<{widths[1]}}  {l[2]}")
            continue
        out.append("  ".join(c.ljust(widths[j]) if j < 2 else c.rjust(widths[j]) for j, c in enumerate(l)))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append(f"medians over {a.rounds} round(s) of {a.steps} timed step(s) after {a.warmup} warm-up; peak: LeanSeg's device "
               "memory used by its run (CUDA context excluded) where the backend reports it, else its measured peak; PyTorch's "
               "torch.cuda.max_memory_allocated over one step; 'vs': images/s and peak against PyTorch fp32 (TF32 "
               "convolutions) and AMP bf16 channels-last of the same configuration")
    return "\n".join(out)


def leanseg_budgets(a, tmp):
    """Largest batch per budget from LeanSeg's plan (recompute none, and the cheapest policy within 1% extra FLOPs),
    each checked by a real training step on the device; for each LeanSeg step measured (leanseg_variants)."""
    out = {}
    for suffix, env in leanseg_variants(a):
        for key, entry in leanseg_budgets_of(a, tmp, suffix, env).items():
            out[key + suffix] = entry
    return out


def leanseg_budgets_of(a, tmp, suffix, env):
    out = {}
    for g in a.budget_list:
        res = str(pathlib.Path(tmp) / f"plan-{g:g}{suffix}.json")
        cmd = leanseg_cmd(a, "plan", "--device", a.device, "--model", a.budget_model, "--size", a.budget_size,
                          "--memory-budget", f"{g:g}GiB", "--json")
        entry = {"command": cmd, "env": env}
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env={**os.environ, **env})
            pathlib.Path(res).write_text(r.stdout)
            policies = json.loads(r.stdout)["policies"]
        except (subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
            entry["error"] = f"plan failed: {e}"
            out[f"{g:g}GiB"] = entry
            continue
        entry["policies"] = policies
        cheap = [p for p in policies if p.get("recomputeRatio", 1) <= 0.01 and p.get("batch", 0) > 0]
        for label, pol in (("none", next((p for p in policies if p["recompute"] == "none"), None)),
                           ("within1pct", max(cheap, key=lambda p: p["batch"]) if cheap else None)):
            if not pol:
                continue
            check = str(pathlib.Path(tmp) / f"check-{g:g}-{label}{suffix}.json")
            rec = run_json(leanseg_cmd(a, "bench-step", "--device", a.device, "--model", a.budget_model, "--batch",
                                       str(pol["batch"]), "--size", a.budget_size, "--warmup", "0", "--steps", "1",
                                       "--out", check), check, a, env)
            t = rec.get("result", {}).get("train", {})
            entry[label] = {"recompute": pol["recompute"], "choice": pol.get("choice"), "batch": pol["batch"],
                            "plannedPeakBytes": pol["plannedPeakBytes"], "recomputeRatio": pol.get("recomputeRatio"),
                            "realStep": "ran" if "result" in rec else f"failed: {rec.get('error')}",
                            "deviceRunBytes": t.get("deviceRunBytes"), "measuredPeakBytes": t.get("measuredPeakBytes")}
            print(f"leanseg{suffix} {g:g} GiB {label}: batch {pol['batch']} ({pol['recompute']}) -> {entry[label]['realStep']}",
                  file=sys.stderr)
        out[f"{g:g}GiB"] = entry
    return out


def pytorch_budgets(a, tmp):
    out = {}
    for v in [v for v in a.budget_variants.split(",") if v.strip()]:
        res = str(pathlib.Path(tmp) / f"budget-{v}.json")
        rec = run_json([a.python, str(HERE / "torch_gpu_step.py"), "--model", a.budget_model, "--batch", "8", "--size",
                        a.budget_size, "--variant", v, "--device", a.device, "--warmup", "2", "--steps", "2", "--budgets",
                        a.budgets, "--out", res], res, a)
        out[f"pytorch-{v}"] = rec.get("result", {}).get("budget") or {
            "error": rec.get("error") or f"no batch search on {a.device} (set_per_process_memory_fraction is cuda only)"}
    return out


def budget_table(lean, torch_side):
    lines = ["largest batch (" + ", ".join(f"{k}" for k in lean) + "):"]
    for k, e in lean.items():
        for label in ("none", "within1pct"):
            if label in e:
                s = e[label]
                lines.append(f"  {k}  leanseg {label:<10} batch {s['batch']:>4} ({s['recompute']}, planned "
                             f"{s['plannedPeakBytes'] / MIB:,.0f} MiB), real step: {s['realStep']}")
        if "error" in e:
            lines.append(f"  {k}  leanseg: {e['error']}")
    for peer, b in torch_side.items():
        for k, e in (b.get("budgets") or {}).items():
            best = e.get("largestBatch", e.get("largestBatchAtLeast"))
            lines.append(f"  {k}  {peer:<20} batch {best if best is not None else '-':>4}"
                         + ("" if "largestBatch" in e else " (lower bound)" if "largestBatchAtLeast" in e else " (none fits)"))
        if "error" in b:
            lines.append(f"  {peer}: {b['error']}")
    return "\n".join(lines)


def main(argv=None):
    a = parse_args(argv)
    live = peers(a)
    if a.dry_run:
        for rnd in range(a.rounds):
            for ci, (m, b, s) in enumerate(a.configs):
                k = (rnd + ci) % len(live)
                for p in live[k:] + live[:k]:
                    print(f"[round {rnd + 1}] " + " ".join(p["command"](m, b, s, "RESULT.json")))
        for g in a.budget_list:
            print("[budget] " + " ".join(leanseg_cmd(a, "plan", "--device", a.device, "--model", a.budget_model, "--size",
                                                     a.budget_size, "--memory-budget", f"{g:g}GiB", "--json")))
        return 0
    started = datetime.datetime.now().astimezone()
    t_start = time.time()
    load_before = load()
    print(f"{started.isoformat(timespec='seconds')}  {load_before['uptime']}", file=sys.stderr)
    gpu = shell(["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem",
                 "--format=csv,noheader"]) if shutil.which("nvidia-smi") else ""
    runs = []
    skipped = 0
    total = a.rounds * len(a.configs) * len(live)
    with tempfile.TemporaryDirectory(prefix="gpu-vs-pytorch-") as tmp:
        for rnd in range(a.rounds):
            for ci, (m, b, s) in enumerate(a.configs):
                k = (rnd + ci) % len(live)   # rotate the order so no peer always runs first or last
                for position, p in enumerate(live[k:] + live[:k]):
                    if a.deadline and time.time() - t_start > a.deadline:
                        skipped += 1
                        continue
                    res = str(pathlib.Path(tmp) / f"run{len(runs)}.json")
                    r = run_json(p["command"](m, b, s, res), res, a, p.get("env"))
                    r.update({"peer": p["name"], "model": m, "batch": b, "size": s, "round": rnd + 1, "position": position})
                    runs.append(r)
                    state = f"{step_figures(p, r['result'])[0]:.2f} ms/step" if "result" in r else f"FAILED: {r['error']}"
                    print(f"[{len(runs)}/{total}] round {rnd + 1} {SHORT.get(m, m)} b{b} {s} {p['name']}: {state} "
                          f"({r['wallSeconds']} s)", file=sys.stderr)
        late = bool(a.deadline) and time.time() - t_start > a.deadline
        lean_b = leanseg_budgets(a, tmp) if a.budget_list and not late else {}
        late = bool(a.deadline) and time.time() - t_start > a.deadline
        torch_b = pytorch_budgets(a, tmp) if a.budget_list and not late else {}
        if a.budget_list and not torch_b:
            skipped += 1
    rows = summarise(runs, a.configs, live)
    text = table(rows, a)
    if a.budget_list:
        text += "\n" + budget_table(lean_b, torch_b)
    if skipped:
        text += f"\n{skipped} run(s) or budget searches not started: --deadline {a.deadline:g} s passed"
    print(text)
    default = pathlib.Path(os.environ["OUT"]) / "gpu-vs-pytorch.json" if os.environ.get("OUT") else \
        REPO / "work_dirs" / "gpu-vs-pytorch" / f"{started.strftime('%Y%m%d-%H%M%S')}.json"
    out = pathlib.Path(a.out) if a.out else default
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"date": started.isoformat(timespec="seconds"), "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "command": " ".join([sys.executable] + sys.argv), "git": shell(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
           "machine": machine(), "gpu": gpu, "loadBefore": load_before, "loadAfter": load(),
           "settings": {"device": a.device, "fusedToo": a.fused_too, "rounds": a.rounds, "warmup": a.warmup, "steps": a.steps, "variants": a.variant_list,
                        "configs": [{"model": m, "batch": b, "size": s} for m, b, s in a.configs], "budgets": a.budget_list,
                        "smoke": a.smoke},
           "summary": rows, "budgets": {"leanseg": lean_b, "pytorch": torch_b}, "table": text, "runs": runs}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
