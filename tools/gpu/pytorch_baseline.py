#!/usr/bin/env python3
"""PyTorch peer baseline for LeanSeg (the figures LeanSeg's GPU backend has to beat).

DeepLabV3+ exactly as in shared/MODEL_SPEC.md:
  * mobilenetv2: MobileNetV2 width 1.0, OS16 (VainF dilation rule), ASPP C=256 rates 6/12/18 with image
    pooling, decoder L=48 D=256, 21 classes -> 5,816,053 parameters (asserted);
  * xception65: timm `xception65` (pretrained=False, output_stride=16) stem + blocks as backbone,
    low-level = blocks.1.stack.act3 (256 ch, stride 4), high-level = last block (2048 ch),
    same head -> 54,711,461 parameters (checked and recorded).

Measures at 512x512, train mode, SGD(lr 0.01, momentum 0.9, wd 1e-4), cross-entropy ignore_index 255:
  1. bytes saved for backward by one forward (saved_tensors_hooks; unique storages, parameters excluded);
  2. torch.cuda.max_memory_allocated over one full training step (after a first step, so the momentum
     buffers exist), batches 2, 8, 16;
  3. median step time and images/s over N timed steps after W warm-up steps (synchronized), per variant:
       fp32         cudnn.benchmark=False, PyTorch defaults (cudnn.allow_tf32=True: TF32 convolutions)
       fp32_bench   cudnn.benchmark=True
       cl_bf16      channels_last + autocast(bfloat16), cudnn.benchmark=True ("best PyTorch")
       strict_fp32  cudnn.benchmark=True, cudnn.allow_tf32=False and matmul TF32 off (true fp32)
  4. the largest batch that fits 6 GiB / 12 GiB: a linear fit of peak vs batch, then checked by real
     training steps under torch.cuda.set_per_process_memory_fraction.
Every measurement is in its own try/except; results are rewritten to --out (JSON) after each one.
"""
import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

MiB = float(1 << 20)
GiB = float(1 << 30)
T0 = time.time()
RESULTS = {"measurements": [], "errors": []}
ARGS = None


def log(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


def save():
    if not ARGS or not ARGS.out:
        return
    tmp = ARGS.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(RESULTS, f, indent=1, default=str)
    os.replace(tmp, ARGS.out)


def time_left():
    return ARGS.deadline - (time.time() - T0)


# ----------------------------------------------------------------------------------------------------
# Model (shared/MODEL_SPEC.md)
# ----------------------------------------------------------------------------------------------------

def make_divisible(v, divisor=8, min_value=None):
    """torchvision's _make_divisible."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_act(cin, cout, k, stride=1, dilation=1, groups=1, act=nn.ReLU6, eps=1e-5):
    """ConvBNAct: bias-free conv, padding d*(k-1)/2 -> BN -> act (keys .0 conv, .1 BN)."""
    layers = [nn.Conv2d(cin, cout, k, stride, dilation * (k - 1) // 2, dilation=dilation, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=eps, momentum=0.1)]
    if act is not None:
        layers.append(act(inplace=True))   # in place, as torchvision / VainF do
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, dilation, t):
        super().__init__()
        hidden = int(round(cin * t))
        self.use_res = stride == 1 and cin == cout
        layers = []
        if t != 1:
            layers.append(conv_bn_act(cin, hidden, 1))
        layers += [conv_bn_act(hidden, hidden, 3, stride, dilation, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False),
                   nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2Backbone(nn.Module):
    CFG = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    LOW_IDX = 3

    def __init__(self, width=1.0, output_stride=16):
        super().__init__()
        cin = make_divisible(32 * width, 8)
        feats = [conv_bn_act(3, cin, 3, stride=2)]
        cur_stride, dilation = 2, 1
        self.block_info = []
        for t, c, n, s in self.CFG:
            cout = make_divisible(c * width, 8)
            prev_dilation = dilation
            if cur_stride == output_stride:      # would go past OS: stride 1, later blocks dilate
                stride = 1
                dilation *= s
            else:
                stride = s
                cur_stride *= s
            for i in range(n):
                st = stride if i == 0 else 1
                d = prev_dilation if i == 0 else dilation
                feats.append(InvertedResidual(cin, cout, st, d, t))
                self.block_info.append((cin, cout, st, d, t))
                cin = cout
        self.features = nn.Sequential(*feats)
        self.low_channels = make_divisible(24 * width, 8)
        self.high_channels = cin

    def forward(self, x):
        low = None
        for i, f in enumerate(self.features):
            x = f(x)
            if i == self.LOW_IDX:
                low = x
        return low, x


class XceptionBackbone(nn.Module):
    """timm xception65 stem + blocks (keys backbone.stem.*, backbone.blocks.N.*), head dropped."""

    def __init__(self, output_stride=16):
        super().__init__()
        import timm
        m = timm.create_model("xception65", pretrained=False, num_classes=0, output_stride=output_stride)
        self.stem = m.stem
        self.blocks = m.blocks
        self.low_channels = 256
        self.high_channels = 2048
        self._low = None
        act3 = self.blocks[1].stack.act3
        act3.register_forward_hook(self._grab)

    def _grab(self, mod, inp, out):
        self._low = out

    def forward(self, x):
        x = self.stem(x)
        x = self.blocks(x)
        low, self._low = self._low, None
        return low, x


class ASPPPooling(nn.Sequential):
    def __init__(self, cin, c):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, c, 1, bias=False),
                         nn.BatchNorm2d(c, eps=1e-5, momentum=0.1), nn.ReLU(inplace=True))

    def forward(self, x):
        size = x.shape[-2:]
        y = super().forward(x)
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, cin, c, rates):
        super().__init__()
        self.convs = nn.ModuleList([conv_bn_act(cin, c, 1, act=nn.ReLU)] +
                                   [conv_bn_act(cin, c, 3, dilation=r, act=nn.ReLU) for r in rates] +
                                   [ASPPPooling(cin, c)])
        self.project = conv_bn_act(5 * c, c, 1, act=nn.ReLU)

    def forward(self, x):
        return self.project(torch.cat([m(x) for m in self.convs], dim=1))


class Decoder(nn.Module):
    def __init__(self, low_ch, c, l, d, classes):
        super().__init__()
        self.low_proj = conv_bn_act(low_ch, l, 1, act=nn.ReLU)
        self.fuse = nn.Sequential(conv_bn_act(l + c, d, 3, act=nn.ReLU), conv_bn_act(d, d, 3, act=nn.ReLU))
        self.classifier = nn.Conv2d(d, classes, 1, bias=True)


class DeepLabV3Plus(nn.Module):
    def __init__(self, backbone, c=256, l=48, d=256, rates=(6, 12, 18), classes=21):
        super().__init__()
        self.backbone = backbone
        self.aspp = ASPP(backbone.high_channels, c, rates)
        self.decoder = Decoder(backbone.low_channels, c, l, d, classes)
        init_weights(self)

    def forward(self, x):
        low, high = self.backbone(x)
        a = self.aspp(high)
        a = F.interpolate(a, size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = torch.cat([self.decoder.low_proj(low), a], dim=1)
        y = self.decoder.classifier(self.decoder.fuse(y))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def init_weights(model):
    """Spec init: Kaiming normal fan_in = (cin/groups)*kh*kw, BN gamma 1 beta 0, classifier bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


EXPECTED_PARAMS = {"mobilenetv2": 5816053, "xception65": 54711461}
EXPECTED_PARTS = {"mobilenetv2": (1811712, 2706432, 1297909), "xception65": (37867312, 15535104, 1309045)}


def build(name):
    if name == "mobilenetv2":
        return DeepLabV3Plus(MobileNetV2Backbone(1.0, 16))
    if name == "xception65":
        return DeepLabV3Plus(XceptionBackbone(16))
    raise ValueError(name)


def count(mod):
    return sum(p.numel() for p in mod.parameters())


# ----------------------------------------------------------------------------------------------------
# Measurement helpers
# ----------------------------------------------------------------------------------------------------

VARIANTS = {
    "fp32": dict(benchmark=False, tf32=True, channels_last=False, amp=None),
    "fp32_bench": dict(benchmark=True, tf32=True, channels_last=False, amp=None),
    "cl_bf16": dict(benchmark=True, tf32=True, channels_last=True, amp=torch.bfloat16),
    "strict_fp32": dict(benchmark=True, tf32=False, channels_last=False, amp=None),
}


def apply_flags(v):
    torch.backends.cudnn.benchmark = v["benchmark"]
    torch.backends.cudnn.allow_tf32 = v["tf32"]
    torch.backends.cuda.matmul.allow_tf32 = False   # PyTorch default; no matmuls of note in this model anyway


def reset_flags():
    apply_flags(VARIANTS["fp32"])


def cleanup():
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def make_batch(n, res, dev, channels_last, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn(n, 3, res, res, generator=g)
    y = torch.randint(0, 21, (n, res, res), generator=g)
    y[torch.rand(n, res, res, generator=g) < 0.1] = 255
    x, y = x.to(dev), y.to(dev)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def make_model(name, dev, v):
    torch.manual_seed(0)
    m = build(name).to(dev).train()
    if v["channels_last"]:
        m = m.to(memory_format=torch.channels_last)
    return m


def train_step(model, opt, x, y, amp):
    opt.zero_grad(set_to_none=True)
    if amp is not None:
        with torch.autocast(device_type="cuda", dtype=amp):
            out = model(x)
            loss = F.cross_entropy(out, y, ignore_index=255)
    else:
        out = model(x)
        loss = F.cross_entropy(out, y, ignore_index=255)
    loss.backward()
    opt.step()
    return loss


def record(entry):
    RESULTS["measurements"].append(entry)
    save()


def guarded(kind, **kw):
    """Decorator-free wrapper: run fn, record result or error; never raises."""
    def run(fn):
        entry = dict(kind=kind, **kw)
        if time_left() < 0:
            entry["skipped"] = "deadline (%.0f s) reached" % ARGS.deadline
            log("SKIP", kind, kw, entry["skipped"])
            record(entry)
            return entry
        t = time.time()
        try:
            entry.update(fn())
        except Exception as e:   # noqa: BLE001 - every failure is recorded, the run goes on
            entry["error"] = "%s: %s" % (type(e).__name__, str(e)[:2000])
            entry["traceback"] = traceback.format_exc()[-4000:]
            RESULTS["errors"].append(dict(kind=kind, **kw, error=entry["error"]))
            log("ERROR", kind, kw, entry["error"][:300])
        finally:
            entry["wall_s"] = round(time.time() - t, 2)
            try:
                reset_flags()
                torch.cuda.set_per_process_memory_fraction(1.0)
            except Exception:
                pass
            cleanup()
        record(entry)
        return entry
    return run


def measure_saved(name, vname, batch, res, dev):
    v = VARIANTS[vname]
    apply_flags(v)
    model = make_model(name, dev, v)
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    param_shapes = {tuple(p.shape) for p in model.parameters() if p.dim() > 1}
    x, y = make_batch(batch, res, dev, v["channels_last"])
    seen = {}
    stats = {"pack_calls": 0, "param_refs": 0, "sum_all_pack_bytes": 0}
    cast_keys = set()   # autocast's low-precision weight copies (not parameters, but saved)

    def pack(t):
        stats["pack_calls"] += 1
        try:
            st = t.untyped_storage()
            key, nb = st.data_ptr(), st.nbytes()
        except Exception:
            key, nb = ("id", id(t)), t.numel() * t.element_size()
        stats["sum_all_pack_bytes"] += t.numel() * t.element_size()
        if key in param_ptrs:
            stats["param_refs"] += 1
            return t
        if key not in seen:
            seen[key] = (nb, str(t.dtype))
            if t.dtype != torch.float32 and tuple(t.shape) in param_shapes:
                cast_keys.add(key)
        return t

    def unpack(t):
        return t

    # one warm-up forward/backward outside the hooks (cuDNN handles, benchmark choice)
    train_step(model, torch.optim.SGD(model.parameters(), lr=0.0), x, y, v["amp"])
    model.zero_grad(set_to_none=True)
    cleanup()
    mem0 = torch.cuda.memory_allocated()
    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        if v["amp"] is not None:
            with torch.autocast(device_type="cuda", dtype=v["amp"]):
                out = model(x)
                model_bytes = sum(b for b, _ in seen.values())
                model_n = len(seen)
                loss = F.cross_entropy(out, y, ignore_index=255)
        else:
            out = model(x)
            model_bytes = sum(b for b, _ in seen.values())
            model_n = len(seen)
            loss = F.cross_entropy(out, y, ignore_index=255)
    torch.cuda.synchronize()
    mem1 = torch.cuda.memory_allocated()
    total = sum(b for b, _ in seen.values())
    by_dtype = {}
    for b, dt in seen.values():
        by_dtype[dt] = by_dtype.get(dt, 0) + b
    loss.backward()
    torch.cuda.synchronize()
    input_bytes = x.numel() * x.element_size()
    r = dict(saved_bytes_model=model_bytes, saved_mib_model=round(model_bytes / MiB, 1),
             saved_unique_storages_model=model_n,
             saved_bytes_with_loss=total, saved_mib_with_loss=round(total / MiB, 1),
             saved_unique_storages_with_loss=len(seen),
             saved_mib_by_dtype={k: round(b / MiB, 1) for k, b in by_dtype.items()},
             input_mib=round(input_bytes / MiB, 2),
             weight_cast_copies_mib=round(sum(seen[k][0] for k in cast_keys) / MiB, 1),
             allocated_delta_after_forward_and_loss_mib=round((mem1 - mem0) / MiB, 1),
             **stats)
    r["sum_all_pack_mib"] = round(stats.pop("sum_all_pack_bytes") / MiB, 1)
    r.pop("sum_all_pack_bytes", None)
    log("saved-for-backward %s %s b%d: model %.1f MiB (%d storages), +loss %.1f MiB; alloc delta %.1f MiB"
        % (name, vname, batch, model_bytes / MiB, model_n, total / MiB, (mem1 - mem0) / MiB))
    return r


def measure_train(name, vname, batch, res, dev, warmup, steps):
    v = VARIANTS[vname]
    apply_flags(v)
    model = make_model(name, dev, v)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x, y = make_batch(batch, res, dev, v["channels_last"])
    t = time.time()
    train_step(model, opt, x, y, v["amp"])          # first step: cuDNN autotune, momentum buffers
    torch.cuda.synchronize()
    first_step_s = time.time() - t
    static = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    loss = train_step(model, opt, x, y, v["amp"])   # measured step
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    peak_reserved = torch.cuda.max_memory_reserved()
    for _ in range(max(0, warmup - 2)):
        train_step(model, opt, x, y, v["amp"])
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        loss = train_step(model, opt, x, y, v["amp"])
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    lv = float(loss.item())
    med = statistics.median(times)
    r = dict(peak_allocated_mib=round(peak / MiB, 1), peak_reserved_mib=round(peak_reserved / MiB, 1),
             allocated_before_step_mib=round(static / MiB, 1),
             step_ms_median=round(med * 1e3, 2), step_ms_min=round(min(times) * 1e3, 2),
             step_ms_max=round(max(times) * 1e3, 2), images_per_s=round(batch / med, 2),
             first_step_s=round(first_step_s, 2), timed_steps=steps, warmup_steps=warmup,
             last_loss=lv, loss_finite=math.isfinite(lv))
    log("train %-11s %-11s b%-3d peak %8.1f MiB  median %8.2f ms  %7.2f img/s  (first step %.1fs, loss %.3f)"
        % (name, vname, batch, peak / MiB, med * 1e3, batch / med, first_step_s, lv))
    return r


def try_batch(name, vname, batch, res, dev):
    """Two real training steps; True when no OOM."""
    v = VARIANTS[vname]
    apply_flags(v)
    try:
        model = make_model(name, dev, v)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        x, y = make_batch(batch, res, dev, v["channels_last"])
        torch.cuda.reset_peak_memory_stats()
        for _ in range(2):
            train_step(model, opt, x, y, v["amp"])
        torch.cuda.synchronize()
        return True, torch.cuda.max_memory_allocated()
    except torch.cuda.OutOfMemoryError:
        return False, None


def fit_line(points):
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((a - mx) ** 2 for a in xs)
    b = sum((a - mx) * (c - my) for a, c in zip(xs, ys)) / sxx
    return my - b * mx, b


def measure_budget(name, vname, res, dev, budgets_gib):
    pts = [(m["batch"], m["peak_allocated_mib"] * MiB) for m in RESULTS["measurements"]
           if m.get("kind") == "train" and m.get("model") == name and m.get("variant") == vname
           and "peak_allocated_mib" in m]
    if len(pts) < 2:
        raise RuntimeError("need >= 2 peak measurements for %s/%s, have %d" % (name, vname, len(pts)))
    a, b = fit_line(pts)
    total = torch.cuda.get_device_properties(0).total_memory
    out = dict(fit_points=[(p[0], round(p[1] / MiB, 1)) for p in pts],
               fit_intercept_mib=round(a / MiB, 1), fit_mib_per_image=round(b / MiB, 1),
               device_total_mib=round(total / MiB, 1), budgets={})
    for g in budgets_gib:
        budget = g * GiB
        pred = max(0, int(math.floor((budget - a) / b)))
        entry = dict(linear_fit_max_batch=pred)
        if ARGS.verify_budget and time_left() > 20:
            frac = budget / total
            tried = {}
            cand = max(2, pred)    # batch 1 cannot train this model in PyTorch (ASPP pooling BN over N=1 raises)
            ok, peak = False, None
            # walk up from the prediction while it fits, or down while it does not (few tries)
            for _ in range(8):
                if time_left() < 10:
                    break
                cleanup()
                torch.cuda.set_per_process_memory_fraction(frac)
                ok, peak = try_batch(name, vname, cand, res, dev)
                torch.cuda.set_per_process_memory_fraction(1.0)
                cleanup()
                tried[cand] = (ok, round(peak / MiB, 1) if peak else None)
                log("budget %s %s %g GiB: batch %d -> %s%s" % (name, vname, g, cand, "fits" if ok else "OOM",
                                                             (" (peak %.1f MiB)" % (peak / MiB)) if peak else ""))
                nxt = cand + 1 if ok else cand - 1
                if nxt < 2 or nxt in tried:
                    break
                cand = nxt
            fits = [k for k, (o, _) in tried.items() if o]
            ooms = [k for k, (o, _) in tried.items() if not o]
            entry["verified_tries"] = {str(k): {"fits": o, "peak_mib": p} for k, (o, p) in sorted(tried.items())}
            if fits and ooms and max(fits) + 1 in ooms:
                entry["verified_max_batch"] = max(fits)
            elif fits:
                entry["verified_max_batch_at_least"] = max(fits)
            else:
                entry["verified_max_batch_below"] = min(ooms) if ooms else None
            entry["method"] = ("torch.cuda.set_per_process_memory_fraction(%.4f) (= %g GiB of %.1f GiB) caps the "
                               "caching allocator (not the CUDA context); 2 real training steps per try"
                               % (frac, g, total / GiB))
        out["budgets"]["%g GiB" % g] = entry
        log("budget %s %s %g GiB: linear fit -> %d; %s" % (name, vname, g, pred,
                                                         {k: v for k, v in entry.items() if k.startswith("verified_max")}))
    return out


# ----------------------------------------------------------------------------------------------------

def env_info():
    info = dict(python=sys.version.split()[0], platform=platform.platform(), torch=torch.__version__,
                torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
    try:
        info["cudnn"] = torch.backends.cudnn.version()
    except Exception as e:
        info["cudnn"] = repr(e)
    try:
        import timm
        info["timm"] = timm.__version__
    except Exception as e:
        info["timm"] = repr(e)
    try:
        info["cudnn_allow_tf32_default"] = torch.backends.cudnn.allow_tf32
        info["matmul_allow_tf32_default"] = torch.backends.cuda.matmul.allow_tf32
    except Exception as e:
        info["tf32_flags"] = repr(e)
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(device=p.name, capability="%d.%d" % (p.major, p.minor), sms=p.multi_processor_count,
                    total_mem_mib=round(p.total_memory / MiB, 1))
    return info


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "pytorch_baseline.json"))
    ap.add_argument("--res", type=int, default=512)
    ap.add_argument("--models", default="mobilenetv2,xception65")
    ap.add_argument("--batches", default="2,8,16")
    ap.add_argument("--saved-batch", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--deadline", type=float, default=330.0, help="seconds; later measurements are skipped")
    ap.add_argument("--budgets", default="6,12", help="GiB")
    ap.add_argument("--no-verify-budget", dest="verify_budget", action="store_false")
    ap.add_argument("--params-only", action="store_true", help="count parameters on the CPU and stop")
    ap.add_argument("--device", default="cuda")
    ARGS = ap.parse_args()
    models = [m for m in ARGS.models.split(",") if m]
    batches = [int(b) for b in ARGS.batches.split(",") if b]
    RESULTS["args"] = vars(ARGS)
    RESULTS["env"] = env_info()
    RESULTS["note"] = ("PyTorch peer figures for LeanSeg; DeepLabV3+ per shared/MODEL_SPEC.md; 512x512 unless "
                       "args.res says otherwise; SGD momentum 0.9; peak = torch.cuda.max_memory_allocated over one "
                       "full step (zero_grad, forward, loss, backward, optimizer.step) after one earlier step")
    log("env", json.dumps(RESULTS["env"]))
    save()

    # parameter counts (CPU)
    RESULTS["params"] = {}
    for name in models:
        try:
            m = build(name)
            parts = (count(m.backbone), count(m.aspp), count(m.decoder))
            n = count(m)
            RESULTS["params"][name] = dict(total=n, parts_backbone_aspp_decoder=parts, expected=EXPECTED_PARAMS[name],
                                           expected_parts=EXPECTED_PARTS[name], match=n == EXPECTED_PARAMS[name])
            log("params %s: %d (expected %d) parts %s (expected %s)" % (name, n, EXPECTED_PARAMS[name], parts,
                                                                        EXPECTED_PARTS[name]))
            if name == "mobilenetv2":
                assert n == EXPECTED_PARAMS[name], "MobileNetV2 DeepLabV3+ parameter count %d != 5,816,053" % n
            del m
        except AssertionError:
            save()
            raise
        except Exception as e:
            RESULTS["params"][name] = dict(error=repr(e), traceback=traceback.format_exc()[-3000:])
            log("params %s ERROR %r" % (name, e))
    save()
    if ARGS.params_only:
        return 0
    if not torch.cuda.is_available():
        RESULTS["errors"].append("CUDA not available")
        save()
        log("CUDA not available; stopping")
        return 1
    dev = torch.device(ARGS.device)
    models = [m for m in models if "error" not in RESULTS["params"].get(m, {})]
    res = ARGS.res

    # 1. saved-for-backward (fp32 and cl_bf16)
    for vname in ("fp32", "cl_bf16"):
        for name in models:
            guarded("saved", model=name, variant=vname, batch=ARGS.saved_batch, res=res)(
                lambda: measure_saved(name, vname, ARGS.saved_batch, res, dev))
    # 2./3. peak memory and step time
    for vname in ("fp32", "fp32_bench", "cl_bf16"):
        for name in models:
            for b in batches:
                guarded("train", model=name, variant=vname, batch=b, res=res)(
                    lambda: measure_train(name, vname, b, res, dev, ARGS.warmup, ARGS.steps))
    # 4. batch budgets (fp32 default, then cl_bf16 linear fit only)
    budgets = [float(g) for g in ARGS.budgets.split(",") if g]
    for name in models:
        guarded("budget", model=name, variant="fp32", res=res)(lambda: measure_budget(name, "fp32", res, dev, budgets))
    # 5. strict fp32 (no TF32), lowest priority
    for name in models:
        for b in batches:
            guarded("train", model=name, variant="strict_fp32", batch=b, res=res)(
                lambda: measure_train(name, "strict_fp32", b, res, dev, ARGS.warmup, ARGS.steps))
    saved_verify = ARGS.verify_budget
    ARGS.verify_budget = False
    for name in models:
        guarded("budget", model=name, variant="cl_bf16", res=res)(lambda: measure_budget(name, "cl_bf16", res, dev, budgets))
    ARGS.verify_budget = saved_verify

    # summary
    RESULTS["total_wall_s"] = round(time.time() - T0, 1)
    save()
    print("\n==== summary (%s, torch %s, cuDNN %s, %dx%d) ====" % (RESULTS["env"].get("device"), torch.__version__,
                                                                   RESULTS["env"].get("cudnn"), res, res))
    for name, p in RESULTS["params"].items():
        print("params %-12s %s" % (name, p.get("total", p.get("error"))), "expected", p.get("expected"),
              "OK" if p.get("match") else "MISMATCH")
    print("%-6s %-12s %-11s %5s | %10s %10s | %9s %9s" % ("kind", "model", "variant", "batch", "peak MiB", "saved MiB",
                                                         "ms/step", "img/s"))
    for m in RESULTS["measurements"]:
        if m["kind"] not in ("train", "saved"):
            continue
        if "error" in m or "skipped" in m:
            print("%-6s %-12s %-11s %5s | %s" % (m["kind"], m["model"], m["variant"], m.get("batch"),
                                                 m.get("error", m.get("skipped"))[:80]))
            continue
        print("%-6s %-12s %-11s %5s | %10s %10s | %9s %9s" % (
            m["kind"], m["model"], m["variant"], m.get("batch"), m.get("peak_allocated_mib", ""),
            m.get("saved_mib_model", "") if m["kind"] == "saved" else "",
            m.get("step_ms_median", ""), m.get("images_per_s", "")))
        if m["kind"] == "saved":
            print("       (saved incl. loss %s MiB; alloc delta %s MiB)" % (m["saved_mib_with_loss"],
                                                                        m["allocated_delta_after_forward_and_loss_mib"]))
    for m in RESULTS["measurements"]:
        if m["kind"] == "budget" and "budgets" in m:
            print("budget %-12s %-8s fit %s MiB + %s MiB/img:" % (m["model"], m["variant"], m["fit_intercept_mib"],
                                                                 m["fit_mib_per_image"]),
                  {k: {kk: vv for kk, vv in v.items() if kk != "method" and kk != "verified_tries"}
                   for k, v in m["budgets"].items()})
        elif m["kind"] == "budget":
            print("budget", m["model"], m["variant"], m.get("error", m.get("skipped")))
    print("errors:", len(RESULTS["errors"]), "total %.1f s" % (time.time() - T0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
