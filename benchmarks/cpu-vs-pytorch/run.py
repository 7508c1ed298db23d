#!/usr/bin/env python3
"""Side-by-side CPU benchmark: LeanSeg (`leanseg bench-step` on each of --devices) against PyTorch
(Debian's python3-torch and, where installed, the pip CPU wheel in a venv) on the same DeepLabV3+
models (MODEL_SPEC.md), same thread count, peers alternating in rounds, each run a fresh process.
Prints one table (medians over the rounds) and writes every run and the summary as JSON.

    python3 benchmarks/cpu-vs-pytorch/run.py                      # the issue's configurations
    python3 benchmarks/cpu-vs-pytorch/run.py --create-venv        # first install the pip peer
    python3 benchmarks/cpu-vs-pytorch/run.py --smoke              # harness check: tiny inputs, 1 step, 1 round
    python3 benchmarks/cpu-vs-pytorch/run.py --dry-run            # print the commands only
    python3 benchmarks/cpu-vs-pytorch/run.py --precisions fp32,bf16 --configs deeplabv3plus_mobilenetv2:2:256
                                   # also bf16 training: LeanSeg --precision bf16 against PyTorch's CPU autocast

Run from anywhere; the LeanSeg jar is <repo>/target/leanseg.jar (mvn -B -q -DskipTests package).
See README.md beside this file.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
MOBILENET = "deeplabv3plus_mobilenetv2"
XCEPTION = "deeplabv3plus_xception65"
SHORT = {MOBILENET: "MobileNetV2", XCEPTION: "Xception-65"}
# (model, batch, square size): the configurations of issue 14, item 6
CONFIGS = [(MOBILENET, 2, 256), (MOBILENET, 8, 256), (MOBILENET, 2, 512), (XCEPTION, 2, 256)]
SMOKE_CONFIGS = [(MOBILENET, 2, 64), (XCEPTION, 2, 64)]
MIB = 1024.0 * 1024.0
PRECISIONS = ("fp32", "bf16")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--devices", default="cpu,reference", help="LeanSeg devices, comma-separated, passed to --device "
                   "unchanged (default: %(default)s)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for every peer (default: the cores, %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs every configuration on every peer (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per run (default: %(default)s)")
    p.add_argument("--steps", type=int, default=5, help="timed train steps and eval forwards per run (default: %(default)s)")
    p.add_argument("--configs", help="MODEL:BATCH:SIZE,... e.g. deeplabv3plus_mobilenetv2:2:256 (default: the issue's four)")
    p.add_argument("--precisions", default="fp32", help="training precisions, comma-separated: fp32 and/or bf16 (LeanSeg "
                   "--precision bf16; PyTorch torch.autocast('cpu', dtype=torch.bfloat16) around forward and loss). Each is its own "
                   "row per configuration, compared with PyTorch in the same precision; eval forwards stay fp32 (default: %(default)s)")
    p.add_argument("--peers", help="only these peers, comma-separated (leanseg:DEVICE, pytorch-debian, pytorch-pip, and "
                   "pytorch-debian+clamp / pytorch-pip+clamp: nn.ReLU6 as clamp(x, 0, 6), see torch_step.py; default: all but the +clamp ones)")
    p.add_argument("--jar", default=str(REPO / "target" / "leanseg.jar"), help="LeanSeg jar (default: %(default)s)")
    p.add_argument("--java", default="java", help="java executable (default: %(default)s)")
    p.add_argument("--java-opts", default="", help="extra JVM options, e.g. '-Xmx8g' (default: none)")
    p.add_argument("--debian-python", default="/usr/bin/python3", help="Python with Debian's python3-torch (default: %(default)s)")
    p.add_argument("--venv", default=str(HERE / ".venv"), help="venv with the pip torch wheel (default: %(default)s)")
    p.add_argument("--create-venv", action="store_true", help="create --venv first: python3 -m venv, pip install torch numpy")
    p.add_argument("--venv-python", default="python3", help="the Python that creates the venv (default: %(default)s)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds one run may take (default: %(default)s)")
    p.add_argument("--out", help="JSON file (default: work_dirs/cpu-vs-pytorch/<date>.json under the repository)")
    p.add_argument("--smoke", action="store_true", help="harness check: MobileNetV2 and Xception-65 at batch 2, 64x64, "
                   "no warm-up, 1 step, 1 round")
    p.add_argument("--dry-run", action="store_true", help="print the runs' commands and stop")
    a = p.parse_args(argv)
    if a.smoke:
        a.warmup, a.steps, a.rounds = 0, 1, 1
    a.jar = str(pathlib.Path(a.jar).resolve())      # the children run in this folder
    a.venv = str(pathlib.Path(a.venv).absolute())
    a.configs = parse_configs(a.configs) if a.configs else (SMOKE_CONFIGS if a.smoke else CONFIGS)
    precisions = [q.strip() for q in a.precisions.split(",") if q.strip()]
    if not precisions or any(q not in PRECISIONS for q in precisions):
        p.error(f"--precisions: {a.precisions!r}; use {', '.join(PRECISIONS)}")
    a.configs = [(m, b, s, q) for m, b, s in a.configs for q in precisions]   # (model, batch, size, precision)
    if a.threads < 1 or a.rounds < 1 or a.steps < 1 or a.warmup < 0:
        p.error("--threads, --rounds and --steps must be >= 1 and --warmup >= 0")
    return a


def parse_configs(text):
    out = []
    for item in text.split(","):
        model, batch, size = item.split(":")
        out.append((model, int(batch), int(size)))
    return out


def shell(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu, mem = "", -1
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memTotalBytes": mem, "kernel": platform.release(),
            "hostname": platform.node()}


def load():
    return {"uptime": shell(["uptime"]), "loadavg": list(os.getloadavg())}


# ---------------------------------------------------------------- peers

def create_venv(a):
    venv = pathlib.Path(a.venv)
    print(f"creating {venv}: {a.venv_python} -m venv, pip install torch numpy", file=sys.stderr)
    subprocess.run([a.venv_python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "torch", "numpy"], check=True)


def torch_version(python):
    """torch.__version__ under that Python, or None when it does not import."""
    try:
        r = subprocess.run([python, "-c", "import torch, numpy; print(torch.__version__)"], capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def peers(a):
    """Every peer with the command of one run, or a one-line note why it is skipped."""
    out = []
    jar = pathlib.Path(a.jar)
    for device in [d.strip() for d in a.devices.split(",") if d.strip()]:
        name = f"leanseg:{device}"
        if not jar.is_file():
            out.append({"name": name, "kind": "leanseg", "note": f"skipped: no {jar} (mvn -B -q -DskipTests package)"})
            continue

        def java_cmd(model, batch, size, precision, result, device=device):
            return ([a.java] + a.java_opts.split() + [f"-Dleanseg.threads={a.threads}", "-jar", str(jar), "bench-step",
                    "--model", model, "--batch", str(batch), "--size", f"{size}x{size}", "--device", device,
                    "--threads", str(a.threads), "--warmup", str(a.warmup), "--steps", str(a.steps), "--precision", precision,
                    "--out", result])
        out.append({"name": name, "kind": "leanseg", "device": device, "command": java_cmd})
    venv_python = str(pathlib.Path(a.venv) / "bin" / "python")
    for base, python, missing in [("pytorch-debian", a.debian_python, "apt-get install python3-torch"),
                                  ("pytorch-pip", venv_python, "create it with --create-venv")]:
        version = torch_version(python) if pathlib.Path(python).exists() else None
        # name+clamp: the same peer with nn.ReLU6 as clamp(x, 0, 6), whose backward PyTorch 1.13 has in bf16 (torch_step.py)
        for name, extra in [(base, []), (base + "+clamp", ["--relu6-as-clamp"])]:
            if version is None:
                out.append({"name": name, "kind": "pytorch", "note": f"skipped: no torch under {python} ({missing})"})
                continue

            def torch_cmd(model, batch, size, precision, result, python=python, name=name, extra=extra):
                return [python, str(HERE / "torch_step.py"), "--model", model, "--batch", str(batch), "--size", f"{size}x{size}",
                        "--threads", str(a.threads), "--warmup", str(a.warmup), "--steps", str(a.steps), "--peer", name,
                        "--precision", precision, "--out", result] + extra
            out.append({"name": name, "kind": "pytorch", "python": python, "torch": version, "command": torch_cmd})
    wanted = set(a.peers.split(",")) if a.peers else {p["name"] for p in out if not p["name"].endswith("+clamp")}
    out = [p for p in out if p["name"] in wanted]
    return out


def child_env(threads):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "DNNL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def run_one(peer, config, a, tmp, index):
    model, batch, size, precision = config
    result = str(pathlib.Path(tmp) / f"run{index}.json")
    cmd = peer["command"](model, batch, size, precision, result)
    t0 = time.time()
    record = {"peer": peer["name"], "model": model, "batch": batch, "size": size, "precision": precision, "command": cmd}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=child_env(a.threads), cwd=str(HERE))
        record["returncode"] = r.returncode
        if r.returncode == 0 and pathlib.Path(result).is_file():
            record["result"] = json.loads(pathlib.Path(result).read_text())
        else:
            lines = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()
            record["error"] = lines[-1]
    except subprocess.TimeoutExpired:
        record["returncode"] = None
        record["error"] = f"timed out after {a.timeout} s"
    record["wallSeconds"] = round(time.time() - t0, 2)
    return record


# ---------------------------------------------------------------- summary

def med(values):
    values = [v for v in values if v is not None and v >= 0]
    return statistics.median(values) if values else None


def summarise(runs, configs, peer_names):
    rows = []
    for model, batch, size, precision in configs:
        group = []
        for name in peer_names:
            mine = [r for r in runs if r["peer"] == name and r["model"] == model and r["batch"] == batch and r["size"] == size
                    and r["precision"] == precision]
            ok = [r["result"] for r in mine if "result" in r]
            failed = [r["error"] for r in mine if "error" in r]
            row = {"model": model, "batch": batch, "size": size, "precision": precision, "peer": name, "runs": len(ok),
                   "error": failed[-1] if failed and not ok else None}
            if ok:
                row["trainMillis"] = med([o["train"]["medianMillis"] for o in ok])
                row["trainMinMillis"] = min(o["train"]["minMillis"] for o in ok)
                row["evalMillis"] = med([o["eval"]["medianMillis"] for o in ok])
                row["evalMinMillis"] = min(o["eval"]["minMillis"] for o in ok)
                row["rssGrowthBytes"] = med([o["train"]["rss"]["growthBytes"] for o in ok])
                row["evalRssGrowthBytes"] = med([o["eval"]["rss"]["growthBytes"] for o in ok])
                if name.startswith("leanseg:"):
                    row["backend"] = ok[0]["train"]["backend"]
                    row["plannedPeakBytes"] = ok[0]["train"]["plannedPeakBytes"]
                    row["measuredPeakBytes"] = med([o["train"]["measuredPeakBytes"] for o in ok])
                    row["evalMeasuredPeakBytes"] = med([o["eval"]["measuredPeakBytes"] for o in ok])
            group.append(row)
        torch_rows = [r for r in group if r["peer"].startswith("pytorch") and r["runs"]]
        best_train = min((r["trainMillis"] for r in torch_rows), default=None)
        best_eval = min((r["evalMillis"] for r in torch_rows), default=None)
        best_rss = min((r["rssGrowthBytes"] for r in torch_rows if r["rssGrowthBytes"]), default=None)
        for r in group:
            if not r["runs"]:
                continue
            r["trainVsBestPytorch"] = r["trainMillis"] / best_train if best_train else None
            r["evalVsBestPytorch"] = r["evalMillis"] / best_eval if best_eval else None
            for k in ("plannedPeakBytes", "measuredPeakBytes", "rssGrowthBytes"):
                if r.get(k) is not None and best_rss:
                    r[k.replace("Bytes", "VsBestPytorchRss")] = r[k] / best_rss
        rows += group
    return rows


def table(rows, a):
    def mib(v):
        return f"{v / MIB:.0f}" if v is not None else "-"

    def x(v):
        return f"{v:.2f}x" if v is not None else "-"

    def ms(v):
        return f"{v:.1f}" if v is not None else "-"

    head = ["config", "peer", "train ms", "eval ms", "planned MiB", "measured MiB", "RSS growth MiB",
            "train vs PT", "eval vs PT", "planned vs PT RSS", "measured vs PT RSS"]
    lines = [head]
    for r in rows:
        config = f"{SHORT.get(r['model'], r['model'])} {r['batch']}x{r['size']}² {r['precision']}"
        if not r["runs"]:
            lines.append([config, r["peer"], f"failed: {r['error']}"] + [""] * (len(head) - 3))
            continue
        lines.append([config, r["peer"], ms(r["trainMillis"]), ms(r["evalMillis"]), mib(r.get("plannedPeakBytes")),
                      mib(r.get("measuredPeakBytes")), mib(r["rssGrowthBytes"]), x(r["trainVsBestPytorch"]),
                      x(r["evalVsBestPytorch"]), x(r.get("plannedPeakVsBestPytorchRss")),
                      x(r.get("measuredPeakVsBestPytorchRss"))])
    widths = [max(len(l[i]) for l in lines if len(l) > i and not l[2].startswith("failed")) for i in range(len(head))]
    out = []
    for i, l in enumerate(lines):
        if l[2].startswith("failed"):
            out.append(f"{l[0]:<{widths[0]}}  {l[1]:<{widths[1]}}  {l[2]}")
            continue
        out.append("  ".join(c.ljust(widths[j]) if j < 2 else c.rjust(widths[j]) for j, c in enumerate(l)))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append(f"medians over {a.rounds} round(s) of {a.steps} timed step(s) after {a.warmup} warm-up, {a.threads} thread(s); "
               "'vs PT': against the fastest PyTorch build (time) and the smallest PyTorch RSS growth (memory) "
               "of that configuration and precision; bf16 rows train in bf16 (LeanSeg --precision bf16, PyTorch CPU autocast), "
               "their eval forwards are fp32 on both sides")
    return "\n".join(out)


def main(argv=None):
    a = parse_args(argv)
    if a.create_venv and not a.dry_run:
        create_venv(a)
    ps = peers(a)
    notes = [f"{p['name']}: {p['note']}" for p in ps if "note" in p]
    live = [p for p in ps if "command" in p]
    for n in notes:
        print(n)
    if not live:
        print("no peer to run", file=sys.stderr)
        return 1
    if a.dry_run:
        for rnd in range(a.rounds):
            for ci, config in enumerate(a.configs):
                k = (rnd + ci) % len(live)
                for p in live[k:] + live[:k]:
                    print(f"[round {rnd + 1}] " + " ".join(p["command"](*config, "RESULT.json")))
        return 0
    started = datetime.datetime.now().astimezone()
    load_before = load()
    print(f"{started.isoformat(timespec='seconds')}  {load_before['uptime']}", file=sys.stderr)
    runs = []
    total = a.rounds * len(a.configs) * len(live)
    with tempfile.TemporaryDirectory(prefix="cpu-vs-pytorch-") as tmp:
        for rnd in range(a.rounds):
            for ci, config in enumerate(a.configs):
                k = (rnd + ci) % len(live)   # rotate the order so no peer always runs first or last
                for position, p in enumerate(live[k:] + live[:k]):
                    r = run_one(p, config, a, tmp, len(runs))
                    r["round"], r["position"] = rnd + 1, position
                    runs.append(r)
                    res = r.get("result")
                    state = (f"train {res['train']['medianMillis']:.1f} ms, eval {res['eval']['medianMillis']:.1f} ms"
                             if res else f"FAILED: {r['error']}")
                    print(f"[{len(runs)}/{total}] round {rnd + 1} {SHORT.get(config[0], config[0])} {config[1]}x{config[2]}² {config[3]} "
                          f"{p['name']}: {state} ({r['wallSeconds']} s)", file=sys.stderr)
    rows = summarise(runs, a.configs, [p["name"] for p in live])
    text = table(rows, a)
    print(text)
    for n in notes:
        print(n)
    out = pathlib.Path(a.out) if a.out else REPO / "work_dirs" / "cpu-vs-pytorch" / f"{started.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "date": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([sys.executable] + sys.argv),
        "cwd": os.getcwd(),
        "git": shell(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
        "gitDirty": bool(shell(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])),
        "machine": machine(),
        "loadBefore": load_before,
        "loadAfter": load(),
        "settings": {"threads": a.threads, "rounds": a.rounds, "warmup": a.warmup, "steps": a.steps, "devices": a.devices,
                     "javaOpts": a.java_opts, "smoke": a.smoke, "precisions": a.precisions,
                     "configs": [{"model": m, "batch": b, "size": s, "precision": q} for m, b, s, q in a.configs]},
        "peers": [{k: v for k, v in p.items() if k != "command"} for p in ps],
        "notes": notes,
        "summary": rows,
        "table": text,
        "runs": runs,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
