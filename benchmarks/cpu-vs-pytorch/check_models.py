"""Checks pytorch_models.py against MODEL_SPEC.md: the parameter counts of the full models, and on each
oracle in ../../../shared/oracle/ (or the files given) the state_dict keys and shapes, the eval logits,
the train-mode logits, loss and gradients at the oracle's initial weights, with MODEL_SPEC.md's tolerances.

    python3 check_models.py [ORACLE.safetensors ...]

Exits 1 on any mismatch.
"""
import json
import pathlib
import struct
import sys

import numpy as np
import torch

import pytorch_models as pm

HERE = pathlib.Path(__file__).resolve().parent
ORACLES = HERE.parents[2] / "shared" / "oracle"
FULL_PARAMETERS = {"deeplabv3plus_mobilenetv2": 5_816_053, "deeplabv3plus_xception65": 54_711_461}
DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    raw = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        a = np.frombuffer(raw[base + b:base + end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        tensors[name] = torch.from_numpy(a.copy())
    return tensors, meta


def rel(a, ref, floor=1.0):
    return float((a - ref).abs().max() / max(float(ref.abs().max()), floor))


def check_oracle(path):
    t, meta = read_safetensors(path)
    cfg = pm.Config.from_metadata(json.loads(meta["model_config"]))
    model = pm.DeepLabV3Plus(cfg)
    init = {k[len("init/"):]: v for k, v in t.items() if k.startswith("init/")}
    mine = model.state_dict()
    if list(mine.keys()) != list(init.keys()) and set(mine.keys()) != set(init.keys()):
        missing, extra = set(init) - set(mine), set(mine) - set(init)
        return [f"keys differ: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}"]
    bad = [k for k in init if tuple(init[k].shape) != tuple(mine[k].shape)]
    if bad:
        return [f"shapes differ: {bad[:5]}"]
    model.load_state_dict(init)
    x, label = t["input/x"], t["input/label"]
    errors = []
    model.eval()
    with torch.no_grad():
        d = rel(model(x), t["eval/logits"])
    print(f"  eval/logits diff {d:.2e} (tolerance 2e-4)")
    if d > 2e-4:
        errors.append(f"eval/logits diff {d:.2e}")
    model.train()
    logits = model(x)
    loss = pm.cross_entropy(logits, label)
    d = rel(logits.detach(), t["fwd/logits"])
    dl = abs(float(loss) - float(t["fwd/loss"][0])) / abs(float(t["fwd/loss"][0]))
    print(f"  fwd/logits diff {d:.2e} (2e-4), fwd/loss relative diff {dl:.2e} (1e-5)")
    if d > 2e-4 or dl > 1e-5:
        errors.append(f"train forward diff {d:.2e}, loss {dl:.2e}")
    loss.backward()
    grads = {k: p.grad for k, p in model.named_parameters()}
    floor = 1e-3 * max(float(t["grad/" + k].abs().max()) for k in grads)
    dg = max(rel(g, t["grad/" + k], floor) for k, g in grads.items())
    print(f"  grad/* max diff {dg:.2e} (1e-2)")
    if dg > 1e-2:
        errors.append(f"gradient diff {dg:.2e}")
    return errors


def main(argv):
    errors = []
    for name, expected in FULL_PARAMETERS.items():
        n = pm.parameters(pm.build(pm.Config.full(name)))
        print(f"{name}: {n:,} parameters (MODEL_SPEC.md: {expected:,})")
        if n != expected:
            errors.append(f"{name}: {n} parameters, expected {expected}")
    for path in argv or sorted(ORACLES.glob("*.safetensors")):
        print(f"{path}:")
        errors += [f"{path}: {e}" for e in check_oracle(path)]
    for e in errors:
        print("MISMATCH", e)
    print("ok" if not errors else f"{len(errors)} mismatch(es)")
    return 1 if errors else 0


if __name__ == "__main__":
    torch.set_num_threads(2)
    sys.exit(main(sys.argv[1:]))
