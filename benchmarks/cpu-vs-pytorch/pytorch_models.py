"""DeepLabV3+ on MobileNetV2 and on aligned Xception-65 in PyTorch, exactly as ../../../shared/MODEL_SPEC.md
defines them (the definition LeanSeg implements), with the same parameter names (state_dict keys),
initialisation, loss and optimizer, so the benchmark times the same network on both sides.

    model = build(Config.full("deeplabv3plus_mobilenetv2"))
    opt = sgd(model)                                   # lr 0.01, momentum 0.9, weight decay 1e-4 on every parameter
    loss = cross_entropy(model(x), label)              # mean over pixels whose label != 255

No aux head: MODEL_SPEC.md defines none (LeanSeg's model.aux_head is off by default).
Check: python3 check_models.py (parameter counts, and the oracle's eval logits and loss at its
initial weights, from ../../../shared/oracle/*.safetensors).
"""
from dataclasses import dataclass, field
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = ("deeplabv3plus_mobilenetv2", "deeplabv3plus_xception65")


@dataclass
class Config:
    """Fields as in the oracles' model_config metadata."""
    backbone: str = "mobilenetv2"          # or "xception65"
    width_mult: float = 1.0
    middle_repeats: int = 16               # Xception only
    num_classes: int = 21
    output_stride: int = 16
    atrous_rates: Tuple[int, int, int] = (6, 12, 18)
    aspp_channels: int = 256
    low_level_channels: int = 48
    decoder_channels: int = 256

    @staticmethod
    def full(model: str, num_classes: int = 21) -> "Config":
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        return Config(backbone="xception65" if model.endswith("xception65") else "mobilenetv2", num_classes=num_classes)

    @staticmethod
    def from_metadata(cfg: dict) -> "Config":
        return Config(backbone=cfg.get("backbone", "mobilenetv2"), width_mult=cfg["width_mult"],
                      middle_repeats=cfg.get("middle_repeats", 16), num_classes=cfg["num_classes"],
                      output_stride=cfg["output_stride"], atrous_rates=tuple(cfg["atrous_rates"]),
                      aspp_channels=cfg["aspp_channels"], low_level_channels=cfg["low_level_channels"],
                      decoder_channels=cfg["decoder_channels"])


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's / timm's rounding of channel counts."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_act(cin, cout, k, stride=1, dilation=1, groups=1, act=nn.ReLU6, eps=1e-5):
    """ConvBNAct: conv (padding d*(k-1)/2, no bias) -> BN -> act; keys .0 conv, .1 BN."""
    layers = [nn.Conv2d(cin, cout, k, stride, dilation * (k - 1) // 2, dilation, groups, bias=False),
              nn.BatchNorm2d(cout, eps=eps)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- MobileNetV2

class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, dilation, t):
        super().__init__()
        hidden = int(round(cin * t))
        self.residual = stride == 1 and cin == cout
        layers = []
        if t != 1:
            layers.append(conv_bn_act(cin, hidden, 1))
        layers += [conv_bn_act(hidden, hidden, 3, stride, dilation, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    """features.0..17; low-level = output of block 3 (stride 4), high-level = block 17."""
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, width: float, output_stride: int):
        super().__init__()
        cin = make_divisible(32 * width)
        features = [conv_bn_act(3, cin, 3, stride=2)]
        stride, dilation = 2, 1
        for t, c, n, s in self.SETTINGS:
            cout = make_divisible(c * width)
            previous = dilation
            if stride * s > output_stride:      # keep the resolution, dilate the later blocks
                dilation *= s
                s = 1
            else:
                stride *= s
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, previous if i == 0 else dilation, t))
                cin = cout
        self.features = nn.Sequential(*features)
        self.low_channels = make_divisible(24 * width)
        self.high_channels = cin

    def forward(self, x):
        low = self.features[:4](x)
        return low, self.features[4:](low)


# ---------------------------------------------------------------- aligned Xception-65

class ConvBn(nn.Module):
    """timm's ConvNormAct naming: .conv, .bn (ReLU applied by the caller)."""

    def __init__(self, cin, cout, k, stride, eps):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x):
        return self.bn(self.conv(x))


class SepConv(nn.Module):
    """conv_dw 3x3 depthwise -> bn_dw -> [ReLU] -> conv_pw 1x1 -> bn_pw -> [ReLU]; ReLUs only when inner_act."""

    def __init__(self, cin, cout, stride, dilation, inner_act, eps):
        super().__init__()
        self.conv_dw = nn.Conv2d(cin, cin, 3, stride, dilation, dilation, groups=cin, bias=False)
        self.bn_dw = nn.BatchNorm2d(cin, eps=eps)
        self.conv_pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn_pw = nn.BatchNorm2d(cout, eps=eps)
        self.inner_act = inner_act

    def forward(self, x):
        x = self.bn_dw(self.conv_dw(x))
        if self.inner_act:
            x = F.relu(x)
        x = self.bn_pw(self.conv_pw(x))
        return F.relu(x) if self.inner_act else x


class Stack(nn.Module):
    def __init__(self, convs):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = convs


class XceptionModule(nn.Module):
    """y = conv3(relu(conv2(relu(conv1(relu(x)))))) + skip; the last block: conv3(conv2(conv1(x))), no skip."""

    def __init__(self, cin, outs, stride, dilation, last, eps):
        super().__init__()
        c1, c2, c3 = outs
        self.last = last
        self.stack = Stack([SepConv(cin, c1, 1, dilation, last, eps), SepConv(c1, c2, 1, dilation, last, eps),
                            SepConv(c2, c3, stride, dilation, last, eps)])
        self.shortcut = None
        if not last and (c3 != cin or stride != 1):
            self.shortcut = ConvBn(cin, c3, 1, stride, eps)

    def forward(self, x, want_low=False):
        s = self.stack
        if self.last:
            return s.conv3(s.conv2(s.conv1(x))), None
        act3 = F.relu(s.conv2(F.relu(s.conv1(F.relu(x)))))   # act1 is not in place: the skip reads x
        y = s.conv3(act3)
        y = y + (self.shortcut(x) if self.shortcut is not None else x)
        return y, act3 if want_low else None


class Xception65(nn.Module):
    """stem.0/1, blocks.0..R+4; low-level = blocks.1.stack.act3 output (stride 4), high-level = last block."""

    def __init__(self, width: float, output_stride: int, middle_repeats: int, eps=1e-3):
        super().__init__()
        ch = lambda c: make_divisible(c * width)
        self.stem = nn.ModuleList([ConvBn(3, ch(32), 3, 2, eps), ConvBn(ch(32), ch(64), 3, 1, eps)])  # each then ReLU
        plan = [(ch(64), (ch(128),) * 3, 2), (ch(128), (ch(256),) * 3, 2), (ch(256), (ch(728),) * 3, 2)]
        plan += [(ch(728), (ch(728),) * 3, 1)] * middle_repeats
        plan += [(ch(728), (ch(728), ch(1024), ch(1024)), 2), (ch(1024), (ch(1536), ch(1536), ch(2048)), 1)]
        blocks = []
        stride, dilation = 2, 1
        for i, (cin, outs, s) in enumerate(plan):
            block_dilation = dilation
            if s > 1 and stride * s > output_stride:   # keep the resolution (conv3 and shortcut), dilate later blocks
                s = 1
                dilation *= 2
            else:
                stride *= s
            blocks.append(XceptionModule(cin, outs, s, block_dilation, i == len(plan) - 1, eps))
        self.blocks = nn.ModuleList(blocks)
        self.low_channels = ch(256)
        self.high_channels = ch(2048)

    def forward(self, x):
        for m in self.stem:
            x = F.relu(m(x))
        low = None
        for i, b in enumerate(self.blocks):
            x, maybe_low = b(x, want_low=i == 1)
            if i == 1:
                low = maybe_low
        return low, x


# ---------------------------------------------------------------- head

class Aspp(nn.Module):
    def __init__(self, cin, c, rates):
        super().__init__()
        relu = nn.ReLU
        self.convs = nn.ModuleList([conv_bn_act(cin, c, 1, act=relu)] + [conv_bn_act(cin, c, 3, dilation=r, act=relu) for r in rates]
                                   + [nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, c, 1, bias=False), nn.BatchNorm2d(c),
                                                    nn.ReLU(inplace=True))])
        self.project = conv_bn_act(5 * c, c, 1, act=relu)

    def forward(self, x):
        h, w = x.shape[-2:]
        outs = [m(x) for m in self.convs[:4]]
        outs.append(F.interpolate(self.convs[4](x), size=(h, w), mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, 1))


class Decoder(nn.Module):
    def __init__(self, low_cin, low, c, d, classes):
        super().__init__()
        relu = nn.ReLU
        self.low_proj = conv_bn_act(low_cin, low, 1, act=relu)
        self.fuse = nn.Sequential(conv_bn_act(low + c, d, 3, act=relu), conv_bn_act(d, d, 3, act=relu))
        self.classifier = nn.Conv2d(d, classes, 1, bias=True)

    def forward(self, low, high, size):
        low = self.low_proj(low)
        high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.classifier(self.fuse(torch.cat([low, high], 1)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class DeepLabV3Plus(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        if cfg.backbone == "xception65":
            self.backbone = Xception65(cfg.width_mult, cfg.output_stride, cfg.middle_repeats)
        elif cfg.backbone == "mobilenetv2":
            self.backbone = MobileNetV2(cfg.width_mult, cfg.output_stride)
        else:
            raise ValueError(f"unknown backbone {cfg.backbone!r}")
        self.aspp = Aspp(self.backbone.high_channels, cfg.aspp_channels, cfg.atrous_rates)
        self.decoder = Decoder(self.backbone.low_channels, cfg.low_level_channels, cfg.aspp_channels, cfg.decoder_channels,
                               cfg.num_classes)

    def forward(self, x):
        low, high = self.backbone(x)
        return self.decoder(low, self.aspp(high), x.shape[-2:])


def init_weights(model: nn.Module, seed: int = 1):
    """MODEL_SPEC.md's init: Kaiming normal with fan_in = (cin/groups)*kh*kw, BN gamma 1 / beta 0, classifier bias 0."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
            with torch.no_grad():
                m.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=g)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build(cfg: Config, seed: int = 1) -> DeepLabV3Plus:
    model = DeepLabV3Plus(cfg)
    init_weights(model, seed)
    return model


def sgd(model: nn.Module) -> torch.optim.SGD:
    """LeanSeg's default trainer step (OptimizerSettings.pytorchDefault): lr 0.01, momentum 0.9, no Nesterov, wd 1e-4 on all."""
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)


def cross_entropy(logits, label):
    """Mean over pixels whose label != 255."""
    return F.cross_entropy(logits, label, ignore_index=255)


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
