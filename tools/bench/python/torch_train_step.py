#!/usr/bin/env python3
"""PyTorch side of `npm run bench -- train-step`: one (model, threads) cell, printed as one JSON line.

The seven architectures as the original (mntalha/Efficient-Weight-Initializer, models.py) adapts torchvision's:
1 input channel, 10 classes, 64 x 64 inputs. MiT-b0 is written out here (the original loads SegFormer's pretrained
weights through `transformers`, which is not installed and needs the network): same stages, heads, reductions, Mix-FFN.
The step is the TS side's: uniform [0, 1) inputs, labels i % 10, cross-entropy, SGD lr 0.01 (L2 weight decay: argv[5], the TS side's 3e-6), batch 32 by default.
Usage: torch_train_step.py MODEL BATCH THREADS MIN_SECONDS [WEIGHT_DECAY]
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import models

CLASSES = 10
SIZE = 64


class Base(nn.Module):
    """The original's Net: flatten -> 640 -> 320 -> 50 -> 10, ReLU, dropout before the last layer."""

    def __init__(self):
        super().__init__()
        self.fc0, self.fc1 = nn.Linear(SIZE * SIZE, 640), nn.Linear(640, 320)
        self.fc2, self.fc3 = nn.Linear(320, 50), nn.Linear(50, CLASSES)

    def forward(self, x):
        x = x.flatten(1)
        x = F.relu(self.fc2(F.relu(self.fc1(F.relu(self.fc0(x))))))
        return self.fc3(F.dropout(x, training=self.training))


class Attention(nn.Module):
    def __init__(self, dim, heads, sr):
        super().__init__()
        self.heads, self.sr_ratio = heads, sr
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        if sr > 1:
            self.sr, self.norm = nn.Conv2d(dim, dim, sr, sr), nn.LayerNorm(dim)

    def forward(self, x, h, w):
        b, n, c = x.shape
        d = c // self.heads
        q = self.q(x).reshape(b, n, self.heads, d).transpose(1, 2)
        src = x
        if self.sr_ratio > 1:
            src = self.norm(self.sr(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2))
        kv = self.kv(src).reshape(b, -1, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        attn = (q @ kv[0].transpose(-2, -1)) * d**-0.5
        return self.proj((attn.softmax(-1) @ kv[1]).transpose(1, 2).reshape(b, n, c))


class MixFfn(nn.Module):
    def __init__(self, dim):
        super().__init__()
        hidden = 4 * dim
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)

    def forward(self, x, h, w):
        x = self.fc1(x)
        b, n, c = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(x))


class Block(nn.Module):
    def __init__(self, dim, heads, sr):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn, self.mlp = Attention(dim, heads, sr), MixFfn(dim)

    def forward(self, x, h, w):
        x = x + self.attn(self.norm1(x), h, w)
        return x + self.mlp(self.norm2(x), h, w)


class MitB0(nn.Module):
    """SegFormer's MiT-b0 encoder + mean of the last stage's tokens + Linear(256 -> classes)."""

    STAGES = [(32, 8, 1, 7, 4, 3), (64, 4, 2, 3, 2, 1), (160, 2, 5, 3, 2, 1), (256, 1, 8, 3, 2, 1)]

    def __init__(self):
        super().__init__()
        self.embeds, self.embed_norms, self.blocks, self.norms = (nn.ModuleList() for _ in range(4))
        channels = 1
        for dim, sr, heads, k, s, p in self.STAGES:
            self.embeds.append(nn.Conv2d(channels, dim, k, s, p))
            self.embed_norms.append(nn.LayerNorm(dim))
            self.blocks.append(nn.ModuleList([Block(dim, heads, sr) for _ in range(2)]))
            self.norms.append(nn.LayerNorm(dim, eps=1e-6))
            channels = dim
        self.head = nn.Linear(256, CLASSES)

    def forward(self, x):
        for embed, embed_norm, blocks, norm in zip(self.embeds, self.embed_norms, self.blocks, self.norms):
            x = embed(x)
            b, c, h, w = x.shape
            t = embed_norm(x.flatten(2).transpose(1, 2))
            for block in blocks:
                t = block(t, h, w)
            t = norm(t)
            x = t.transpose(1, 2).reshape(b, c, h, w)
        return self.head(t.mean(1))


def build(name):
    if name == "base":
        return Base()
    if name == "alexnet":
        m = models.alexnet()
        m.features[0] = nn.Conv2d(1, 64, 5, 4, 2)
        m.classifier[6] = nn.Linear(4096, CLASSES)
    elif name == "vgg19":
        m = models.vgg19()
        m.features[0] = nn.Conv2d(1, 64, 3, 1, 1)
        m.classifier[6] = nn.Linear(4096, CLASSES)
    elif name == "resnet50":
        m = models.resnet50()
        m.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        m.fc = nn.Linear(2048, CLASSES)
    elif name == "googlenet":
        m = models.googlenet(aux_logits=False, init_weights=True, transform_input=False)
        m.conv1.conv = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        m.fc = nn.Linear(1024, CLASSES)
    elif name == "squeezenet":
        m = models.squeezenet1_0()
        m.features[0] = nn.Conv2d(1, 96, 7, 2)
        m.classifier[1] = nn.Conv2d(512, CLASSES, 1, 1)
    elif name == "mit-b0":
        return MitB0()
    else:
        raise SystemExit(f"unknown model {name}")
    return m


def main():
    name, batch, threads, min_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    weight_decay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = build(name).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, weight_decay=weight_decay)
    x = torch.rand(batch, 1, SIZE, SIZE)
    y = torch.arange(batch) % CLASSES

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = F.cross_entropy(out.logits if hasattr(out, "logits") else out, y)
        loss.backward()
        opt.step()
        return loss.item()

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    times, spent, cpu_started = [], 0.0, time.process_time()
    while len(times) < 2 or (spent < min_seconds and len(times) < 20):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    cpu_per_step = (time.process_time() - cpu_started) / len(times)
    times.sort()
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(json.dumps({"ok": True, "medianSeconds": median, "firstSeconds": first, "runs": len(times), "cpuSecondsPerStep": cpu_per_step,
                      "params": params, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
