"""GPU figures at real model shapes with random weights (issue #4): decode speed against
the memory-bandwidth bound (with the engine's CUDA graphs and eager, side by side), prefill
speed, the cost of verifying k tokens in one pass, and speculative edits, all through the
product's own loader and decode loop; then decode tok/s in total and per sequence with
1/2/4/8 sequences at once through the engine's batching scheduler (`--batch`).

    python -m benchmarks gpu --json [--shapes qwen2.5-coder-1.5b,qwen2.5-coder-7b]
                                    [--quant bf16,nf4] [--dest /tmp/assist-gpu]

Random weights cost what real ones cost per forward pass (same shapes, dtypes, kernels),
so speeds are real; answers are not, so speculative edits use the model's own greedy
output with a few tokens changed as the draft (what an edit of a few lines looks like).
The bound is bytes read per decoded token (every weight once; an untied input embedding
is only indexed) over the HBM bandwidth measured here by a device-to-device copy.
Needs CUDA; bitsandbytes for nf4.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jupyter_assist.testing.tiny_model import TINY_SHAPE

from ._common import forward_ms, notebook_prompt, start_engine
from ._common import sync as _sync
from .batch import figures as batch_figures

# Qwen2.5-Coder configs as published: hidden, intermediate, layers, heads, KV heads, vocab, tied.
_QWEN_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
    "tie_word_embeddings",
)
SHAPES: dict[str, dict[str, Any]] = {
    "qwen2.5-coder-1.5b": dict(zip(_QWEN_FIELDS, (1536, 8960, 28, 12, 2, 151936, True))),
    "qwen2.5-coder-7b": dict(zip(_QWEN_FIELDS, (3584, 18944, 28, 28, 4, 152064, False))),
    # A smoke check of this script on any machine: --shapes tiny --quant bf16 --device cpu
    "tiny": {**TINY_SHAPE, "vocab_size": 4096, "tie_word_embeddings": False},
}
DEVICE = "cuda"


def sync(device: Any = None) -> None:
    _sync(device if device is not None else DEVICE)


def hbm_bandwidth() -> float:
    """Bytes/s of a large device-to-device copy, counting bytes read plus written."""
    import torch

    n = 1 << 30 if DEVICE.startswith("cuda") else 1 << 26
    x = torch.empty(n, dtype=torch.bfloat16, device=DEVICE).normal_()
    y = torch.empty_like(x)
    times = []
    for i in range(13):
        sync()
        t0 = time.perf_counter()
        y.copy_(x)
        sync()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    del x, y
    return 2 * 2 * n / statistics.median(times)


def build(shape: str, dest: Path) -> Path:
    """A random-weight model folder of `shape` (weights in bf16) with the test tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from jupyter_assist.testing.tiny_model import build_tokenizer

    if (dest / "config.json").is_file():
        return dest
    tok = build_tokenizer(dest)
    cfg = Qwen2Config(
        **SHAPES[shape],
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(DEVICE):
            model = Qwen2ForCausalLM(cfg)
    finally:
        torch.set_default_dtype(prev)
    with torch.no_grad():
        # Zero logits for ids the tokenizer lacks and for specials: the answer is text
        # and runs its full length (the matmul still spans the whole vocabulary).
        head = model.get_output_embeddings().weight
        head[len(tok) :].zero_()
        for tid in (tok.eos_token_id, tok.pad_token_id, tok.bos_token_id):
            head[tid].zero_()
    model.save_pretrained(dest)
    del model
    return dest


def decode_bytes(model: Any) -> int:
    """Bytes one decode step reads: every parameter and quantization state, except an
    untied input embedding (only one row of it is read)."""
    total = model.get_memory_footprint()
    emb, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    if emb.data_ptr() != head.data_ptr():
        total -= emb.numel() * emb.element_size()
    return int(total)


def measure(backend: Any, bw: float, new_tokens: int) -> dict[str, Any]:
    import torch

    from jupyter_assist.engine import GenerationParams, Request

    def run(prompt: str, max_tokens: int, draft: Any = None) -> tuple[str, float, int]:
        events: list[Any] = []
        sync()
        t0 = time.perf_counter()
        backend.generate(
            Request("b", prompt, GenerationParams(max_tokens=max_tokens, loop_guard=False, lookup=draft is not None), draft=draft), events.append
        )
        return events[-1].text, time.perf_counter() - t0, events[-1].completion_tokens

    r: dict[str, Any] = {}
    backend.prefix_cache.max_bytes = 0  # time computing, not prefix reuse
    prompt = notebook_prompt(2000, backend.encode)
    ids = backend.encode(prompt)
    r["prompt_tokens"] = len(ids)
    run(prompt, 2)  # warm-up: kernels, allocator, cuBLAS handles
    ttft = statistics.median(run(prompt, 1)[1] for _ in range(3))
    r["ttft_2k_ms"] = round(ttft * 1000, 1)
    r["prefill_tok_s"] = round(len(ids) / ttft)
    short = "def fibonacci(n):"
    t1 = statistics.median(run(short, 1)[1] for _ in range(3))
    _, tn, n = run(short, new_tokens)
    r["decode_tok_s"] = round((n - 1) / (tn - t1), 1)
    _, tn2, n2 = run(prompt, new_tokens)
    r["decode_tok_s_after_2k"] = round((n2 - 1) / (tn2 - ttft), 1)
    graphs = backend.graphs
    r["cuda_graphs"] = graphs is not None
    backend.graphs = None  # eager from here to the verify costs; the graphs arm is timed beside
    if graphs is not None:
        t1e = statistics.median(run(short, 1)[1] for _ in range(3))
        _, tne, ne = run(short, new_tokens)
        _, tn2e, n2e = run(prompt, new_tokens)
        r["decode_tok_s_eager"] = round((ne - 1) / (tne - t1e), 1)
        r["decode_tok_s_after_2k_eager"] = round((n2e - 1) / (tn2e - ttft), 1)
        r["graphs_decode_speedup"] = round(r["decode_tok_s_after_2k"] / r["decode_tok_s_after_2k_eager"], 2)
    if DEVICE.startswith("cuda"):
        # The loader turns SDPA's cuDNN backend off; time it side by side, on prompt
        # lengths neither arm has seen (cuDNN plans are cached per length).
        arms = {}
        for on, tag in ((True, "# cudnn arm"), (False, "# flash arm")):
            torch.backends.cuda.enable_cudnn_sdp(on)
            p2 = prompt[:700] + tag + "\n"
            t_first = run(p2, 1)[1]
            _, t, n3 = run(p2 + "x", new_tokens)
            arms[on] = (n3 - 1) / max(t - t_first, 1e-9)
        torch.backends.cuda.enable_cudnn_sdp(False)
        r["decode_tok_s_cudnn_sdp"] = round(arms[True], 1)
        r["decode_tok_s_without_cudnn_sdp"] = round(arms[False], 1)
    nbytes = decode_bytes(backend.model)
    r["decode_bytes_per_token"] = nbytes
    r["bound_tok_s"] = round(bw / nbytes, 1)
    r["decode_over_bound"] = round(r["decode_tok_s"] / r["bound_tok_s"], 3)
    # The forward alone (no sampling, streaming or stop checks) shows the loop's share.
    fed = forward_ms(backend, ids, (1, 16, 32, 64))
    f1 = fed[1]
    r["forward_ms_by_tokens_fed_after_2k"] = {k: round(ms, 2) for k, ms in fed.items()}
    if graphs is not None:
        backend.graphs = graphs
        # The same graphs with the model's SDPA as their attention, timed after them.
        from jupyter_assist.engine.cuda_graphs import GraphRunner

        ks = (1, 16, graphs.largest)
        gfed = forward_ms(backend, ids, ks, graphs=True)
        backend.graphs = GraphRunner(backend.model, graphs.max_len, tuple(graphs.buckets), sdpa=True)
        sfed = forward_ms(backend, ids, ks, graphs=True)
        backend.graphs = graphs
        r["graph_forward_ms_by_tokens_fed_after_2k"] = {k: round(ms, 2) for k, ms in gfed.items()}
        r["graph_forward_ms_with_sdpa_attention"] = {k: round(ms, 2) for k, ms in sfed.items()}
        f1 = gfed[1]
    r["loop_overhead_ms_per_token"] = round(1000 / r["decode_tok_s_after_2k"] - f1, 2)

    # Speculative edits: the draft is the model's own greedy answer with 3 tokens changed.
    # Its token ids come from transformers' generate (text would re-tokenize differently).
    base = "# Task: rewrite the cell\n" + prompt[:1500]
    greedy, t_plain, n_plain = run(base, new_tokens)
    base_ids = torch.tensor([backend.encode(base)], device=backend.device)
    sync()
    t0 = time.perf_counter()
    with torch.inference_mode():
        hf = backend.model.generate(base_ids, max_new_tokens=n_plain, min_new_tokens=n_plain, do_sample=False)
    sync()
    r["ours_over_hf_generate"] = round((time.perf_counter() - t0) / t_plain, 2)  # > 1: our loop is faster
    draft = hf[0, base_ids.shape[1] :].tolist()
    for frac in (0.25, 0.5, 0.75):
        i = int(len(draft) * frac)
        draft[i] = (draft[i] + 7) % 1000 + 3
    stats0 = asdict(backend.spec_stats)
    outs, t_spec = [], []
    for chunk in (16, 32):  # 32: the default, whose verify passes have CUDA graphs
        backend.spec_chunk = chunk
        out, t, _ = run(base, new_tokens, draft)
        outs.append(out)
        t_spec.append(t)
    backend.spec_chunk = 32
    acc = backend.spec_stats.accepted - stats0["accepted"]
    prop = backend.spec_stats.proposed - stats0["proposed"]
    r["spec_edit_tokens"] = n_plain
    r["spec_edit_identical"] = all(o == greedy for o in outs)
    r["spec_edit_speedup_chunk16"] = round(t_plain / t_spec[0], 2)
    r["spec_edit_speedup_chunk32"] = round(t_plain / t_spec[1], 2)
    r["spec_acceptance"] = round(acc / max(prop, 1), 3)
    if DEVICE.startswith("cuda"):
        r["peak_gpu_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
    return r


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks gpu")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--shapes", default="qwen2.5-coder-1.5b,qwen2.5-coder-7b")
    ap.add_argument("--quant", default="bf16,nf4", help="comma list of bf16, nf4, 8bit")
    ap.add_argument("--dest", default="/tmp/assist-gpu", help="where the random-weight folders are written")
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", default="1,2,4,8", help="sequences decoded at once through the engine ('' to skip)")
    args = ap.parse_args(argv)

    import torch

    global DEVICE
    DEVICE = args.device
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        print("python -m benchmarks gpu needs a CUDA GPU (or --device cpu --shapes tiny to check the script).", file=sys.stderr)
        return 2
    from jupyter_assist.engine.local import LoadOptions

    bw = hbm_bandwidth()
    gpu = torch.cuda.get_device_name() if DEVICE.startswith("cuda") else DEVICE
    results: dict[str, Any] = {"gpu": gpu, "torch": torch.__version__, "hbm_copy_gb_s": round(bw / 1e9), "runs": []}
    for shape in args.shapes.split(","):
        t0 = time.perf_counter()
        folder = build(shape, Path(args.dest) / shape)
        build_s = time.perf_counter() - t0
        for quant in args.quant.split(","):
            if DEVICE.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            opts = LoadOptions(device=DEVICE, dtype="bfloat16", quantization="none" if quant == "bf16" else quant)
            # One load serves both: the backend's own decode loop, then the engine's
            # worker batching sequences (as `benchmarks engine` does on the CPU).
            engine = start_engine(str(folder), torch.get_num_threads(), opts)
            backend = engine.backend
            run = {
                "shape": shape,
                "quant": quant,
                "build_s": round(build_s, 1),
                "load_s": round(time.perf_counter() - t0, 1),
                "parameters": backend.info["parameters"],
                "weights_gb": round(backend.model.get_memory_footprint() / 1e9, 2),
            }
            try:
                run.update(measure(backend, bw, args.new_tokens))
                if args.batch:  # decode tok/s in total and per sequence, sequences at once
                    run.update(batch_figures(engine, reps=2, max_tokens=128, sizes=tuple(int(n) for n in args.batch.split(","))))
            except Exception as e:  # report and go on to the next configuration
                run["error"] = f"{type(e).__name__}: {e}"
            engine.shutdown()
            del backend, engine
            results["runs"].append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=None if args.json else 2))
    return 0
