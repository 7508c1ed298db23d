"""The PyTorch side of the GPU benchmark: one configuration, one variant, measured as `leanseg bench-step` measures.

    python3 torch_gpu_step.py --model deeplabv3plus_mobilenetv2 --batch 16 --size 512x512 --variant fp32 \
        --warmup 5 --steps 20 --budgets 6,12 --out result.json

The models are ../cpu-vs-pytorch/pytorch_models.py (MODEL_SPEC.md, the same parameter names, initialisation, loss and
SGD as LeanSeg). Variants:
  fp32          PyTorch's defaults on the GPU: fp32 weights and activations, cuDNN convolutions in TF32
                (torch.backends.cudnn.allow_tf32, on by default), cudnn.benchmark on.
  amp_bf16_cl   channels_last + torch.autocast(bfloat16) + cudnn.benchmark: PyTorch's fast eager recipe.
  compile       fp32 as above, the model wrapped in torch.compile (default mode); where it fails to compile the
                result says why and no time is recorded.
Train step: zero_grad(set_to_none), forward, cross-entropy (ignore 255), backward, SGD step, on a random batch
(labels uniform, one pixel in ten 255), the same batch every step. Time: median over the timed steps of
synchronize-to-synchronize wall time. Memory: torch.cuda.max_memory_allocated over the second step (momentum buffers
exist by then), after reset_peak_memory_stats, and memory_allocated before it (parameters, gradients of the last
step are set to None, momentum, batch). With --budgets: the largest batch whose two real training steps run under
torch.cuda.set_per_process_memory_fraction(budget / device memory) (caps the caching allocator, not the CUDA
context), searched upward from a linear fit of the measured peak and downward on OOM.
With --device cpu (harness check only) memory figures are null. Prints JSON and writes it to --out.
"""
import argparse
import contextlib
import gc
import json
import math
import pathlib
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "cpu-vs-pytorch"))
import pytorch_models as pm  # noqa: E402

VARIANTS = ("fp32", "amp_bf16_cl", "compile")
MIB = 1 << 20
GIB = 1 << 30


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def make(args, batch, dev):
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    model = pm.build(pm.Config.full(args.model, args.classes), args.seed).to(dev)
    model.train()
    channels_last = args.variant == "amp_bf16_cl"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = pm.sgd(model)
    run = torch.compile(model) if args.variant == "compile" else model
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(batch, 3, args.height, args.width, generator=gen)
    label = torch.randint(0, args.classes, (batch, args.height, args.width), generator=gen)
    label[torch.rand(label.shape, generator=gen) < 0.1] = 255
    x, label = x.to(dev), label.to(dev)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return model, run, opt, x, label


def step(args, run, opt, x, label, dev):
    opt.zero_grad(set_to_none=True)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16) if args.variant == "amp_bf16_cl" else contextlib.nullcontext()
    with amp:
        loss = pm.cross_entropy(run(x), label)
    loss.backward()
    opt.step()
    return loss


def cleanup(dev):
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()


def train(args, dev):
    model, run, opt, x, label = make(args, args.batch, dev)
    t = time.perf_counter()
    step(args, run, opt, x, label, dev)      # cuDNN autotuning, compilation, momentum buffers
    sync(dev)
    first = time.perf_counter() - t
    cuda = dev.type == "cuda"
    before = torch.cuda.memory_allocated() if cuda else None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    step(args, run, opt, x, label, dev)
    sync(dev)
    peak = torch.cuda.max_memory_allocated() if cuda else None
    reserved = torch.cuda.max_memory_reserved() if cuda else None
    for _ in range(max(0, args.warmup - 2)):
        step(args, run, opt, x, label, dev)
    millis, losses = [], []
    for _ in range(args.steps):
        sync(dev)
        t = time.perf_counter()
        loss = step(args, run, opt, x, label, dev)
        sync(dev)
        millis.append((time.perf_counter() - t) * 1000)
        losses.append(float(loss))
    med = statistics.median(millis)
    r = {"medianMillis": med, "minMillis": min(millis), "millis": millis, "imagesPerSecond": args.batch * 1000 / med,
         "losses": losses, "lossFinite": all(math.isfinite(v) for v in losses), "firstStepSeconds": first,
         "maxMemoryAllocatedBytes": peak, "maxMemoryReservedBytes": reserved, "allocatedBeforeStepBytes": before,
         "parameters": pm.parameters(model)}
    del model, run, opt, x, label
    cleanup(dev)
    return r


def fits(args, batch, dev, fraction):
    """Two real training steps at this batch under the memory fraction: (ok, peak bytes or None)."""
    torch.cuda.set_per_process_memory_fraction(fraction)
    try:
        model, run, opt, x, label = make(args, batch, dev)
        torch.cuda.reset_peak_memory_stats()
        for _ in range(2):
            step(args, run, opt, x, label, dev)
        sync(dev)
        return True, torch.cuda.max_memory_allocated()
    except torch.cuda.OutOfMemoryError:
        return False, None
    finally:
        model = run = opt = x = label = None   # noqa: F841
        torch.cuda.set_per_process_memory_fraction(1.0)
        cleanup(dev)


def budgets(args, dev, measured):
    """Largest batch per budget by real steps, starting from a linear fit through (0, static) and the measured peak."""
    total = torch.cuda.get_device_properties(0).total_memory
    per_image = max(1, (measured["maxMemoryAllocatedBytes"] - measured["allocatedBeforeStepBytes"]) / args.batch)
    out = {"deviceTotalBytes": total, "method": "torch.cuda.set_per_process_memory_fraction(budget / total), two real "
           "training steps per try (the caching allocator is capped; the CUDA context is not counted)", "budgets": {}}
    for g in args.budget_list:
        budget = g * GIB
        guess = max(1, int((budget - measured["allocatedBeforeStepBytes"]) // per_image))
        tried = {}
        cand = guess
        for _ in range(args.budget_tries):
            ok, peak = fits(args, cand, dev, min(1.0, budget / total))
            tried[cand] = {"fits": ok, "peakBytes": peak}
            print(f"budget {g:g} GiB: batch {cand} {'fits' if ok else 'OOM'}", file=sys.stderr)
            nxt = cand + 1 if ok else cand - 1
            if nxt < 1 or nxt in tried:
                break
            cand = nxt
        ok_b = [b for b, t in tried.items() if t["fits"]]
        oom_b = [b for b, t in tried.items() if not t["fits"]]
        entry = {"guess": guess, "tries": {str(b): t for b, t in sorted(tried.items())}}
        if ok_b and max(ok_b) + 1 in oom_b:
            entry["largestBatch"] = max(ok_b)
        elif ok_b:
            entry["largestBatchAtLeast"] = max(ok_b)
        else:
            entry["largestBatchBelow"] = min(oom_b) if oom_b else None
        out["budgets"][f"{g:g}GiB"] = entry
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="deeplabv3plus_mobilenetv2", choices=pm.MODELS)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", default="512x512", help="HxW")
    p.add_argument("--classes", type=int, default=21)
    p.add_argument("--variant", default="fp32", choices=VARIANTS)
    p.add_argument("--device", default="cuda", help="cuda, or cpu for a harness check")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--budgets", default="", help="GiB, comma-separated (cuda only), e.g. 6,12")
    p.add_argument("--budget-tries", type=int, default=8)
    p.add_argument("--peer", default=None, help="name recorded in the JSON (default pytorch-<variant>)")
    p.add_argument("--out")
    args = p.parse_args(argv)
    args.height, args.width = (int(v) for v in args.size.lower().split("x"))
    args.budget_list = [float(v) for v in args.budgets.split(",") if v.strip()]
    dev = torch.device(args.device)
    torch.manual_seed(args.seed)
    result = {"peer": args.peer or f"pytorch-{args.variant}", "variant": args.variant, "model": args.model, "batch": args.batch,
              "height": args.height, "width": args.width, "classes": args.classes, "warmup": args.warmup, "steps": args.steps,
              "device": str(dev), "torch": torch.__version__, "python": platform.python_version(),
              "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None,
              "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None}
    try:
        result["train"] = train(args, dev)
    except Exception as e:   # an OOM, or torch.compile failing on this model: the runner shows the line
        result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    if "train" in result and args.budget_list and dev.type == "cuda":
        result["budget"] = budgets(args, dev, result["train"])
    text = json.dumps(result, indent=2)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    print(text)
    return 0 if "train" in result else 1


if __name__ == "__main__":
    sys.exit(main())
