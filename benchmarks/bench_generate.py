"""Text generation with the KV cache: ember's ``GPT2LMHeadModel.generate`` against
transformers' ``GPT2LMHeadModel.generate``, greedy, as tokens per second.

    python benchmarks/bench_generate.py            # GPT-2 small and a tiny one, batch 1 and 8
    python benchmarks/bench_generate.py --quick    # a smoke run of a few seconds
    python benchmarks/bench_generate.py --new-tokens 64 --prompt 32 --repeats 3

For each case (model shape, batch) each library runs in a fresh process of its own (so
neither pays for the other's imports, threads or allocator state): it builds a randomly
initialised model of that shape (float32, eval mode), warms up with one short generation,
then times ``generate(prompt, max_new_tokens=N)`` (greedy, no end token, so every run makes
exactly N tokens per row; the prompt's prefill is part of the time, as a user sees it) and
reports the median of the repeats. Printed: tokens/s (batch x N / time) for each library and
the ratio ember / transformers (> 1: ember is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

SHAPES = {  # name: (n_layer, n_head, n_embd, vocab_size, n_positions)
    "gpt2-small": (12, 12, 768, 50257, 1024),
    "tiny": (2, 4, 128, 1000, 256),
}


def worker(lib: str, shape: str, batch: int, prompt: int, new: int, repeats: int) -> dict:
    n_layer, n_head, n_embd, vocab, ctx = SHAPES[shape]
    if lib == "ember":
        import ember
        from ember.models import GPT2Config, GPT2LMHeadModel

        ember.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                                           vocab_size=vocab, n_positions=ctx)).eval()
        ids = ember.randint(0, vocab, (batch, prompt))

        def run(n: int) -> None:
            model.generate(ids, max_new_tokens=n, eos_token_id=[])
    else:
        import torch
        import transformers

        transformers.logging.set_verbosity_error()
        torch.manual_seed(0)
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
            n_layer=n_layer, n_head=n_head, n_embd=n_embd, vocab_size=vocab,
            n_positions=ctx)).eval()
        ids = torch.randint(0, vocab, (batch, prompt))
        mask = torch.ones_like(ids)

        def run(n: int) -> None:
            with torch.no_grad():
                model.generate(ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                               do_sample=False, eos_token_id=None, pad_token_id=0)
    run(2)  # warm-up: first-call costs (allocations, lazy imports) out of the timing
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(new)
        times.append(time.perf_counter() - t0)
    return {"tokens_per_s": batch * new / statistics.median(times)}


def measure(lib: str, shape: str, batch: int, args: argparse.Namespace) -> float:
    cmd = [sys.executable, __file__, "--worker", lib, "--shape", shape, "--batch", str(batch),
           "--prompt", str(args.prompt), "--new-tokens", str(args.new_tokens),
           "--repeats", str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{lib} worker failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["tokens_per_s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the tiny model, batch 1, 8 tokens")
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", choices=["ember", "transformers"], help=argparse.SUPPRESS)
    p.add_argument("--shape", choices=list(SHAPES), default="tiny", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.shape, args.batch, args.prompt,
                                args.new_tokens, args.repeats)))
        return
    cases = [(s, b) for s in SHAPES for b in (1, 8)]
    if args.quick:
        cases, args.new_tokens, args.repeats = [("tiny", 1)], 8, 1
    try:
        import transformers  # noqa: F401
        have_ref = True
    except ImportError:
        have_ref = False
        print("transformers is not installed: ember's figures only")
    print(f"greedy generate, prompt {args.prompt}, {args.new_tokens} new tokens, KV cache, "
          f"median of {args.repeats}")
    print(f"{'model':<12}{'batch':>6}{'ember tok/s':>14}{'transformers tok/s':>20}"
          f"{'ratio':>8}")
    for shape, batch in cases:
        ours = measure("ember", shape, batch, args)
        theirs = measure("transformers", shape, batch, args) if have_ref else float("nan")
        print(f"{shape:<12}{batch:>6}{ours:>14.1f}{theirs:>20.1f}{ours / theirs:>8.2f}")


if __name__ == "__main__":
    main()
