#!/usr/bin/env python3
"""PyTorch (CPU) reference for `interlab bench`: training steps/s of the same Transformer.

What it measures: steps per second of full training steps of the model that
`interlab bench model=transformer mixers=attn ...` trains, rebuilt in PyTorch eager mode
(optionally torch.compile) on the CPU:

  * model (src/model/transformer.rs, io.rs): token embedding [vocab, d] + learned position
    embedding [seq_len, d] -> layers x [x += Attn(LN(x)); x += MLP(LN(x))] -> LN -> head
    [d, vocab]; pre-norm, every Linear and LayerNorm without bias (LayerNorm eps 1e-5),
    causal softmax attention with scale 1/sqrt(d/heads), MLP d -> 4d -> d with ReLU;
    GPT-2 init (N(0, 0.02^2), residual projections 0.02/sqrt(2*layers)). The parameter
    count is printed next to interlab's formula (core::TrainConfig::param_count) and must
    equal it.
  * one step (src/engine/trainer.rs): a fresh seeded batch of MQAR-shaped data (random
    tokens, `kv_pairs` scored query positions per row), forward, masked mean cross-entropy
    over the scored positions, token accuracy on the host, backward, global-norm gradient
    clipping to 1.0, AdamW (betas 0.9/0.95, eps 1e-8, decoupled weight decay 0.01 on the
    2-D parameters only, warmup + cosine learning rate).

The timing covers only the steps after `--warmup` untimed ones, like `interlab bench`
(which times `--steps` steps after 1 warm-up step).

Threads: `--threads N` calls torch.set_num_threads(N). The default mirrors what candle
uses: $RAYON_NUM_THREADS if set, else the number of physical cores (candle-core's CPU
matmul runs the `gemm` crate on that many rayon threads, and its element-wise ops use a
pool of the same size).

Run (optional benchmark, not part of the test suite; needs a Python with torch, e.g. a
venv outside the repository):

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch
    /tmp/torchvenv/bin/python scripts/bench_torch.py --threads 2
    RAYON_NUM_THREADS=2 target/release/interlab bench model=transformer task=mqar \
        seq_len=256 kv_pairs=16 vocab=64 batch=32 d_model=128 --budget-mib 8192

Defaults are that shape: d_model 128, seq_len 256, batch 32, 2 layers, 4 heads, vocab 64.
"""

import argparse
import math
import os
import sys
import time


def physical_cores():
    """Physical cores as candle counts them (unique (package, core) pairs), or CPUs."""
    try:
        cores, phys = set(), "0"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    cores.add((phys, line.split(":")[1].strip()))
        if cores:
            return len(cores)
    except OSError:
        pass
    return os.cpu_count() or 1


def default_threads():
    env = os.environ.get("RAYON_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return physical_cores()


def interlab_param_count(vocab, seq_len, layers, d, out):
    """core::TrainConfig::param_count for a Transformer with `attn` mixers."""
    per_block = 4 * d * d + 8 * d * d + 2 * d
    return vocab * d + seq_len * d + layers * per_block + d + d * out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=64)
    ap.add_argument("--kv-pairs", type=int, default=16, help="scored (query) positions per row")
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--steps", type=int, default=50, help="timed steps")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attn", choices=["sdpa", "math"], default="sdpa",
                    help="sdpa: F.scaled_dot_product_attention(is_causal=True); math: explicit masked softmax")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    args = ap.parse_args()

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    d, h, L, V = args.d_model, args.heads, args.layers, args.vocab
    std, proj_std = 0.02, 0.02 / math.sqrt(2 * L)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d, eps=1e-5, bias=False)
            self.c_attn = nn.Linear(d, 3 * d, bias=False)
            self.c_proj = nn.Linear(d, d, bias=False)
            self.ln_2 = nn.LayerNorm(d, eps=1e-5, bias=False)
            self.c_fc = nn.Linear(d, 4 * d, bias=False)
            self.c_fc_out = nn.Linear(4 * d, d, bias=False)
            for lin, s in [(self.c_attn, std), (self.c_proj, proj_std), (self.c_fc, std), (self.c_fc_out, proj_std)]:
                nn.init.normal_(lin.weight, 0.0, s)

        def attn(self, x):
            b, l, _ = x.shape
            q, k, v = self.c_attn(x).split(d, dim=2)
            q, k, v = (t.view(b, l, h, d // h).transpose(1, 2) for t in (q, k, v))  # [b, h, l, dh]
            if args.attn == "sdpa":
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // h))
                mask = torch.ones(l, l, dtype=torch.bool, device=x.device).triu(1)
                y = s.masked_fill(mask, float("-inf")).softmax(-1) @ v
            return self.c_proj(y.transpose(1, 2).reshape(b, l, d))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.c_fc_out(F.relu(self.c_fc(self.ln_2(x))))

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Parameter(torch.randn(V, d) * std)
            self.wpe = nn.Parameter(torch.randn(args.seq_len, d) * std)
            self.h = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(d, eps=1e-5, bias=False)
            self.lm_head = nn.Linear(d, V, bias=False)
            nn.init.normal_(self.lm_head.weight, 0.0, std)

        def forward(self, tokens):  # [b, l] int64 -> [b*l, V]
            b, l = tokens.shape
            x = self.wte[tokens] + self.wpe[:l]
            for blk in self.h:
                x = blk(x)
            return self.lm_head(self.ln_f(x)).view(b * l, V)

    model = Transformer()
    n_params = sum(p.numel() for p in model.parameters())
    expected = interlab_param_count(V, args.seq_len, L, d, V)
    print(f"params: torch {n_params}, interlab formula {expected}")
    if n_params != expected:
        sys.exit("parameter counts differ: the PyTorch model is not interlab's")

    # Weight decay on 2-D parameters (matrices and embeddings), never on norm gains.
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    lr_peak, warm, total = 1e-3, 100, 4000
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr_peak, betas=(0.9, 0.95), eps=1e-8, foreach=True)

    def lr_at(step):
        if step < warm:
            return lr_peak * (step + 1) / warm
        p = min((step - warm) / max(total - warm, 1), 1.0)
        floor = lr_peak * 0.1
        return floor + 0.5 * (lr_peak - floor) * (1 + math.cos(math.pi * p))

    fwd = torch.compile(model) if args.compile else model
    gen = torch.Generator().manual_seed(args.seed)
    b, l, kv = args.batch, args.seq_len, args.kv_pairs

    def batch():
        """MQAR-shaped: random tokens, `kv` scored positions per row after the pairs."""
        tokens = torch.randint(0, V, (b, l), generator=gen)
        targets = torch.randint(0, V, (b, l), generator=gen)
        mask = torch.zeros(b, l)
        pos = 2 * kv + torch.rand(b, l - 2 * kv, generator=gen).argsort(dim=1)[:, :kv]
        mask.scatter_(1, pos, 1.0)
        return tokens, targets.view(-1), mask.view(-1)

    def step(i):
        tokens, targets, mask = batch()
        logits = fwd(tokens)
        nll = F.cross_entropy(logits, targets, reduction="none")
        loss = (nll * mask).sum() / mask.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = lr_at(i)
        opt.step()
        with torch.no_grad():
            correct = ((logits.argmax(-1) == targets).float() * mask).sum().item()
        return loss.item(), correct

    mode = "compile" if args.compile else "eager"
    print(f"torch {torch.__version__} {mode} attn={args.attn} threads={torch.get_num_threads()} "
          f"d_model={d} seq_len={l} batch={b} layers={L} heads={h} vocab={V}")
    t0 = time.perf_counter()
    for i in range(args.warmup):
        step(i)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        loss, _ = step(i)
    secs = time.perf_counter() - t0
    print(f"bench torch-cpu {mode} threads={args.threads} warmup_steps={args.warmup} warmup_seconds={warm_s:.3f} "
          f"steps={args.steps} seconds={secs:.3f} steps_per_sec={args.steps / secs:.2f} last_loss={loss:.4f}")


if __name__ == "__main__":
    main()
