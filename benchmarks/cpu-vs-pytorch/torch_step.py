"""The PyTorch side of the CPU benchmark: what `leanseg bench-step` measures, measured the same way.

    python3 torch_step.py --model deeplabv3plus_mobilenetv2 --batch 2 --size 256x256 --threads 2 \
        --warmup 2 --steps 5 --out result.json

Train phase: W warm-up and N timed SGD steps (zero_grad(set_to_none), forward, cross-entropy with
ignore 255, backward, SGD momentum 0.9 / wd 1e-4) on random N(0, 1) images and uniform labels, a
fresh batch per step as LeanSeg's StepProfiler draws them. Eval phase: W + N forwards of model.eval()
under torch.no_grad() with the argmax, as `leanseg eval` computes class maps. Memory: the growth of
the process's resident set over each phase, VmHWM after it minus VmRSS before it, with the
high-water mark reset first (writing 5 to /proc/self/clear_refs), exactly as LeanSeg's
ProcessMemory; the train phase's window includes building the model and the optimizer state.
With --precision bf16 the train phase runs forward and loss under torch.autocast('cpu',
dtype=torch.bfloat16), PyTorch's CPU mixed precision (its op lists decide what runs in bf16; the
weights and the optimizer stay fp32); the eval phase stays fp32, as LeanSeg's eval does. PyTorch
1.13's ReLU6 backward has no BFloat16 CPU kernel ("hardshrink_backward_cpu" not implemented for
'BFloat16'), so MobileNetV2 cannot train under stock autocast there; --relu6-as-clamp swaps each
nn.ReLU6 for clamp(x, 0, 6), the same function, whose backward has one.
Prints one JSON document (stdout) and writes it to --out.
"""
import contextlib
import argparse
import json
import platform
import statistics
import sys
import time

import torch

import pytorch_models as pm


def proc_status():
    """(VmRSS, VmHWM) in bytes, -1 where /proc does not say."""
    rss = hwm = -1
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_window(reset, before):
    rss, hwm = proc_status()
    known = before >= 0 and hwm >= 0
    return {"peakReset": reset, "beforeBytes": before, "hwmAfterBytes": hwm, "afterBytes": rss,
            "growthBytes": max(0, hwm - before) if known else -1}


def times(millis):
    return {"medianMillis": statistics.median(millis), "minMillis": min(millis), "millis": millis}


def random_batch(args, gen):
    x = torch.randn(args.batch, 3, args.height, args.width, generator=gen)
    label = torch.randint(0, args.classes, (args.batch, args.height, args.width), generator=gen)
    return x, label


class Clamp06(torch.nn.Module):
    """ReLU6 as clamp(x, 0, 6): the same values and gradient (0 at and beyond the bounds' outsides, as hardtanh)."""

    def forward(self, x):
        return torch.clamp(x, 0.0, 6.0)


def relu6_as_clamp(module):
    """Replaces every nn.ReLU6 under module by Clamp06 (in place); returns how many."""
    n = 0
    for name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU6):
            setattr(module, name, Clamp06())
            n += 1
        else:
            n += relu6_as_clamp(child)
    return n


def autocast(args):
    """PyTorch's CPU autocast for --precision bf16, else nothing."""
    if args.precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train(args):
    reset = reset_peak()
    before, _ = proc_status()
    gen = torch.Generator().manual_seed(args.seed)
    model = pm.build(pm.Config.full(args.model, args.classes), args.seed)
    if args.relu6_as_clamp:
        relu6_as_clamp(model)
    model.train()
    opt = pm.sgd(model)
    millis, losses = [], []
    for i in range(args.warmup + args.steps):
        x, label = random_batch(args, gen)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast(args):
            loss = pm.cross_entropy(model(x), label)
        loss.backward()
        opt.step()
        value = float(loss)
        elapsed = (time.perf_counter() - t0) * 1000
        losses.append(value)
        if i >= args.warmup:
            millis.append(elapsed)
    r = times(millis)
    r["losses"] = losses
    r["parameters"] = pm.parameters(model)
    r["rss"] = rss_window(reset, before)
    del model, opt
    return r


def evaluate(args):
    reset = reset_peak()
    before, _ = proc_status()
    model = pm.build(pm.Config.full(args.model, args.classes), args.seed)
    model.eval()
    x, _ = random_batch(args, torch.Generator().manual_seed(args.seed))
    millis = []
    with torch.no_grad():
        for i in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            model(x).argmax(1)
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= args.warmup:
                millis.append(elapsed)
    r = times(millis)
    r["rss"] = rss_window(reset, before)
    return r


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="deeplabv3plus_mobilenetv2", choices=pm.MODELS)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", default="512x512", help="HxW")
    p.add_argument("--classes", type=int, default=21)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--peer", default="pytorch", help="name recorded in the JSON")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="training precision (bf16: CPU autocast)")
    p.add_argument("--relu6-as-clamp", action="store_true", help="nn.ReLU6 as clamp(x, 0, 6) (see above)")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)
    args.height, args.width = (int(v) for v in args.size.lower().split("x"))
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        p.error("--batch, --steps and --threads must be >= 1 and --warmup >= 0")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    result = {
        "peer": args.peer, "model": args.model, "widthMultiplier": 1.0, "classes": args.classes, "outputStride": 16,
        "batch": args.batch, "height": args.height, "width": args.width, "threads": torch.get_num_threads(),
        "warmup": args.warmup, "steps": args.steps, "seed": args.seed, "precision": args.precision, "relu6AsClamp": args.relu6_as_clamp,
        "torch": torch.__version__, "python": platform.python_version(), "executable": sys.executable,
        "mkldnn": torch.backends.mkldnn.is_available(), "parallel": torch.__config__.parallel_info(),
        "train": train(args), "eval": evaluate(args),
    }
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
