#!/usr/bin/env python3
"""The yardstick side of bench/native-vs-torch.ts (CPU) and bench/webgpu-vs-torch.ts (GPU): the same
workloads in PyTorch.

Runs each workload and prints one JSON object on the last line of stdout: {workload: img/s} under
`img_s`, plus the device it ran on. PyTorch (Debian's python3-torch 1.13 here, a CUDA build on the
GPU machine) is a benchmark yardstick only, never a dependency of harden. Models mirror libs/models
(same layers, channels and strides; tfjs 'same' padding is asymmetric where PyTorch's is symmetric,
which changes no FLOP count).

Usage: native-vs-torch.py [--threads N] [--seconds S] [--workloads a,b,...] [--device cpu|cuda] [--batch B]

Without --device and --batch it behaves as it always has (CPU, each workload at its own batch, the
five workloads of native-vs-torch.ts). --batch B runs every workload at batch B. On cuda the timed
steps queue back to back and the window ends with torch.cuda.synchronize() (as harden's GPU steps
read nothing back until the window's last result), cuDNN autotuning is on, and the TF32 settings are
PyTorch's defaults, reported in the output.
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


DEVICE = torch.device('cpu')


def sync():
    if DEVICE.type == 'cuda':
        torch.cuda.synchronize()


def timed(step, batch, seconds, warmup=2):
    if DEVICE.type == 'cuda':
        return timed_cuda(step, batch, seconds, max(warmup, 2))  # the first step autotunes cuDNN
    for _ in range(warmup):
        step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 2:
            return batch * n / elapsed


def timed_cuda(step, batch, seconds, warmup):
    """One step (synchronized) sizes the window; then as many steps as fill `seconds`, queued back to
    back as a training loop queues them, timed to one synchronize after the last."""
    for _ in range(warmup):
        step()
    sync()
    start = time.perf_counter()
    step()
    sync()
    n = max(2, round(seconds / max(time.perf_counter() - start, 1e-6)))
    start = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return batch * n / (time.perf_counter() - start)


def train_step(model, batch, shape):
    model = model.to(DEVICE)
    x = torch.rand(batch, *shape, device=DEVICE)
    y = torch.randint(0, 10, (batch,), device=DEVICE)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def input_grad_step(model, batch, shape):
    model = model.to(DEVICE)
    x = torch.rand(batch, *shape, device=DEVICE)
    y = torch.randint(0, 10, (batch,), device=DEVICE)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    def step():
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(xi), y), xi)
        return g
    return step


def pgd_step(model, batch, shape, eps=0.3, alpha=0.01, steps=20):
    model = model.to(DEVICE)
    x = torch.rand(batch, *shape, device=DEVICE)
    y = torch.randint(0, 10, (batch,), device=DEVICE)
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


def d2r_step(batch, shape, eps=0.3, alpha=None, k=10, arch=small_cnn):
    """CAG-K + the D2R loss + one SGD step over target and guidance (both `arch`); α = ε·0.007/0.031."""
    alpha = eps * 0.007 / 0.031 if alpha is None else alpha
    target, guidance = arch().to(DEVICE), arch().to(DEVICE)
    x = torch.rand(batch, *shape, device=DEVICE)
    y = torch.randint(0, 10, (batch,), device=DEVICE)
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


def workloads(batch=None):
    """Each workload at its own batch, or every one at `batch`."""
    b = lambda own: batch or own
    return {
        'ref-cnn-train': lambda s: timed(train_step(ref_cnn(), b(64), (3, 32, 32)), b(64), s),
        'ref-cnn-input-grad': lambda s: timed(input_grad_step(ref_cnn(), b(64), (3, 32, 32)), b(64), s),
        'small-cnn-pgd20': lambda s: timed(pgd_step(small_cnn(), b(32), (1, 28, 28)), b(32), s, warmup=1),
        'small-cnn-d2r': lambda s: timed(d2r_step(b(32), (1, 28, 28)), b(32), s, warmup=1),
        'preact-resnet18-train': lambda s: timed(train_step(PreActResNet18(), b(32), (3, 32, 32)), b(32), s, warmup=1),
        # bench/webgpu-vs-torch.ts (issue 18's table): only when asked for by --workloads
        'preact-resnet18-input-grad': lambda s: timed(input_grad_step(PreActResNet18(), b(32), (3, 32, 32)), b(32), s, warmup=1),
        'preact-resnet18-d2r': lambda s: timed(d2r_step(b(32), (3, 32, 32), eps=0.031, arch=PreActResNet18), b(32), s, warmup=1),
    }


# What runs without --workloads: native-vs-torch.ts's five.
DEFAULT_WORKLOADS = ['ref-cnn-train', 'ref-cnn-input-grad', 'small-cnn-pgd20', 'small-cnn-d2r', 'preact-resnet18-train']
WORKLOADS = workloads()


def main():
    global DEVICE
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=None, help='CPU threads (default: PyTorch\'s own)')
    ap.add_argument('--seconds', type=float, default=2.0)
    ap.add_argument('--workloads', default=','.join(DEFAULT_WORKLOADS))
    ap.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    ap.add_argument('--batch', type=int, default=None, help='every workload at this batch (default: each its own)')
    args = ap.parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(f'--device cuda: this PyTorch ({torch.__version__}) sees no CUDA device')
    DEVICE = torch.device(args.device)
    if DEVICE.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    table = workloads(args.batch)
    names = args.workloads.split(',')
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f'unknown workload(s): {", ".join(unknown)}; known: {", ".join(table)}')
    out = {}
    for name in names:
        out[name] = round(table[name](args.seconds), 2)
    result = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'img_s': out, 'device': DEVICE.type}
    if DEVICE.type == 'cuda':
        result['device_name'] = torch.cuda.get_device_name(0)
        result['cudnn_benchmark'] = torch.backends.cudnn.benchmark
        result['tf32'] = {'cudnn': torch.backends.cudnn.allow_tf32, 'matmul': torch.backends.cuda.matmul.allow_tf32}
    if args.batch is not None:
        result['batch'] = args.batch
    print(json.dumps(result))


if __name__ == '__main__':
    main()
