#!/usr/bin/env python3
"""The yardstick side of bench/native-vs-torch.ts: the same workloads in PyTorch (CPU).

Runs each workload at the given thread count and prints one JSON object {workload: img/s} on the
last line of stdout. PyTorch (Debian's python3-torch 1.13) is a benchmark yardstick only, never a
dependency of harden. Models mirror libs/models (same layers, channels and strides; tfjs 'same'
padding is asymmetric where PyTorch's is symmetric, which changes no FLOP count).

Usage: native-vs-torch.py --threads N [--seconds S] [--workloads a,b,...]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def ref_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 200), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = F.relu(self.bn1(x))
        sc = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + sc


class PreActResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [PreActBlock(cin, cout, stride), PreActBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, 10)

    def forward(self, x):
        out = self.layers(self.conv1(x))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)
        return self.linear(out)


def timed(step, batch, seconds, warmup=2):
    for _ in range(warmup):
        step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 2:
            return batch * n / elapsed


def train_step(model, batch, shape):
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def input_grad_step(model, batch, shape):
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    def step():
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xi), y), xi)
        return g
    return step


def pgd_step(model, batch, shape, eps=0.3, alpha=0.01, steps=20):
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    def attack():
        xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
        for _ in range(steps):
            xa.requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(model(xa), y), xa)
            xa = torch.min(torch.max(xa.detach() + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
        return xa
    return attack


def kl_bar(p, logits_q):
    """The authors' element-wise KL: P·(log(P + 1e-5) − log_softmax(z_Q)), mean over batch × classes."""
    return (p * (torch.log(p + 1e-5) - F.log_softmax(logits_q, dim=1))).mean()


def d2r_step(batch, shape, eps=0.3, alpha=0.3 * 0.007 / 0.031, k=10):
    target, guidance = small_cnn(), small_cnn()
    x = torch.rand(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    params = list(target.parameters()) + list(guidance.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=2e-4)

    def step():
        # CAG: both models in eval mode, K signed steps on KL(p_g(x) ‖ p_t(x')).
        target.eval()
        guidance.eval()
        with torch.no_grad():
            pg = F.softmax(guidance(x), dim=1)
        xa = x + 0.001 * torch.randn_like(x)
        for _ in range(k):
            xa.requires_grad_(True)
            loss = F.kl_div(F.log_softmax(target(xa), dim=1), pg, reduction='sum')
            (g,) = torch.autograd.grad(loss, xa)
            xa = torch.min(torch.max(xa.detach() + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
        # D2R loss, both models in train mode, forward order T(x'), T(x), G(x).
        target.train()
        guidance.train()
        zt_adv, zt, zg = target(xa), target(x), guidance(x)
        pt_adv, pt, pg = F.softmax(zt_adv, 1), F.softmax(zt, 1), F.softmax(zg, 1)
        loss = (F.cross_entropy(zg, y) + F.mse_loss(zt_adv, zg)
                + 20 * (kl_bar(pg, zt) - kl_bar(pt, zg)).abs() + 30 * kl_bar(pt_adv, zg))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


WORKLOADS = {
    'ref-cnn-train': lambda s: timed(train_step(ref_cnn(), 64, (3, 32, 32)), 64, s),
    'ref-cnn-input-grad': lambda s: timed(input_grad_step(ref_cnn(), 64, (3, 32, 32)), 64, s),
    'small-cnn-pgd20': lambda s: timed(pgd_step(small_cnn(), 32, (1, 28, 28)), 32, s, warmup=1),
    'small-cnn-d2r': lambda s: timed(d2r_step(32, (1, 28, 28)), 32, s, warmup=1),
    'preact-resnet18-train': lambda s: timed(train_step(PreActResNet18(), 32, (3, 32, 32)), 32, s, warmup=1),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, required=True)
    ap.add_argument('--seconds', type=float, default=2.0)
    ap.add_argument('--workloads', default=','.join(WORKLOADS))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    out = {}
    for name in args.workloads.split(','):
        out[name] = round(WORKLOADS[name](args.seconds), 2)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'img_s': out}))


if __name__ == '__main__':
    main()
