"""Local backend: a transformers causal LM driven by our own decode loop.

Our loop (not `generate`) so that cancellation is checked every step, text streams without
breaking characters, and stop rules see the text as it grows.

Its parts live beside it: the loading policy (loading.py), token choice and detokenizing
(sampling.py), where tokens are fed (session.py), drafts and their figures (speculative.py).
Over 350 lines because the backend's three decode loops (plain, forced prefix, speculative)
share its prefill and session state; they move out once the batched decode settles (issue 17).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..prompt.model import ModelText, config_window
from . import constrain
from .cpu_linear import prepack_linears
from .decoding import Output, StopRule
from .kvcache import PrefixCache, cache_len, truncate
from .loading import LoadOptions, auto_kv_budget, bnb_config, eos_ids, kv_bytes_per_token, pick_device, pick_dtype, pick_quantization
from .models import ModelError, ModelSpec, Progress, materialize
from .sampling import decode_stream, logprob, sample, seeded_generator
from .session import DynamicSession, Session, batch_for, drain, feed_steps, inference_steps, leave
from .speculative import DraftCursor, NgramLookup, SpecStats
from .types import Event, MarkedOutput, Request

if TYPE_CHECKING:
    from .cuda_graphs import GraphRunner

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]


class LocalBackend:
    constrains_prefix = True  # honours GenerationParams.prefix (token healing)

    def __init__(self, model: Any, tokenizer: Any, info: dict[str, Any], opts: LoadOptions | None = None) -> None:
        opts = opts or LoadOptions()
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        # What prompts need (counts, chat template, FIM format, window), built once.
        # The healing index is the one the decode loop constrains with (built on first use).
        self.text = ModelText.of_tokenizer(tokenizer, lambda: config_window(model.config), heal_index=lambda: constrain.token_texts(tokenizer))
        self.device = model.device
        self.eos_ids = eos_ids(model, tokenizer)
        self.prefix_cache = PrefixCache(opts.kv_cache_mb * 1024 * 1024)
        self.spec_chunk = opts.spec_chunk
        self.spec_stats = SpecStats()
        self.last_timing: dict[str, Any] = {}
        self._last_prompt: tuple[str, list[int]] = ("", [])  # worker thread only
        self.graphs: GraphRunner | None = None  # CUDA graphs for requests that fit them
        # The graphs' K/V buffers hold one request: the one that found them free decodes
        # there until it ends, the others decode eagerly meanwhile.
        self._graph_owner: object | None = None
        self.prefill_chunk = max(opts.prefill_chunk, 1)
        self.running_kv_bytes = opts.running_kv_mb * 1024 * 1024 or auto_kv_budget(self.device)
        self.kv_bytes_per_token = kv_bytes_per_token(model.config, getattr(model, "dtype", None))
        self.batch = batch_for(model, tokenizer) if opts.batch else None

    @classmethod
    def load(cls, spec: ModelSpec, opts: LoadOptions, cache_dir: Path, progress: Progress) -> LocalBackend:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if opts.threads > 0:
            torch.set_num_threads(opts.threads)
        device = pick_device(opts.device)
        if device.startswith("cuda"):
            # SDPA's cuDNN backend builds a plan for every new KV length, i.e. at every
            # decode step: ~3 ms of CPU per layer (H100, torch 2.11; `benchmarks/gpu.py`
            # measures both). Flash and memory-efficient attention have no such cost.
            torch.backends.cuda.enable_cudnn_sdp(False)
        if device == "cpu":
            # A verify feeds several tokens, so attention gets a mask, and with a mask
            # transformers copies K/V out to every query head (repeat_kv) unless told that
            # SDPA groups heads itself, which torch's CPU kernels do: a 17-token verify at
            # 2K context costs ~15% less. Read at every call; the engine owns the process.
            os.environ.setdefault("TRANSFORMERS_SDPA_FORCE_GQA", "1")
        dtype = pick_dtype(device, opts.dtype)
        quant = pick_quantization(device, opts.quantization)
        source = materialize(spec, cache_dir, progress)
        progress("loading", None)
        kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": "sdpa"}
        if quant != "none":
            kwargs["quantization_config"] = bnb_config(quant, dtype)
            kwargs["device_map"] = {"": device}
        local_only = spec.is_local
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            # Any: transformers' stubs type the decorated .to() without its self.
            model: Any = AutoModelForCausalLM.from_pretrained(source, local_files_only=local_only, **kwargs)
        except (OSError, ValueError, ImportError) as e:
            raise ModelError(f"Could not load {spec.display!r}: {e}") from e
        if quant == "none":
            model.to(device)
        model.eval()
        parameters = sum(p.numel() for p in model.parameters())
        if device == "cpu" and quant == "none":
            packed = prepack_linears(model, getattr(model.config, "vocab_size", 0) or len(tokenizer))
            log.info("jupyter-assist: %d linear layers prepacked for the CPU", packed)
        info = {
            "model": spec.display,
            "device": str(device),
            "dtype": str(dtype).removeprefix("torch."),
            "quantization": None if quant == "none" else quant,
            "parameters": parameters,
        }
        backend = cls(model, tokenizer, info, opts)
        # bitsandbytes 8-bit splits outliers out on the host at every matmul: not capturable.
        if device.startswith("cuda") and opts.cuda_graphs and quant != "8bit":
            from .cuda_graphs import BUCKETS, build_runner

            progress("capturing", None)
            max_len = min(opts.graph_max_tokens, getattr(model.config, "max_position_embeddings", 0) or opts.graph_max_tokens)
            probe = backend.encode("def mean(values):\n    return sum(values) / len(values)\n")
            backend.graphs = build_runner(model, max_len, (*BUCKETS, opts.spec_chunk + 1), probe)
        return backend

    # -- text helpers used by tasks -------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        return self.text.chat_prompt(messages)

    # -- generation -----------------------------------------------------------------
    def _forward(self, ids: list[int], cache: Any, last: bool = False) -> Any:
        """Feed `ids` after what `cache` holds; logits for each fed position (`last`: for
        the last one only, as a prefill needs), as float."""
        import torch

        inp = torch.tensor([ids], device=self.device)
        out = self.model(input_ids=inp, past_key_values=cache, use_cache=True, logits_to_keep=1 if last else 0)
        return out.logits[0].float()

    def _session(self, cache: Any, prompt_len: int, max_tokens: int, owner: object) -> Session:
        """Where the answer's tokens are fed: the CUDA graphs when the request fits their
        buffers and no other request holds them (the prompt's K/V is copied in; `cache`
        keeps just the prompt), else `cache`."""
        g = self.graphs
        if g is not None and self._graph_owner is None and g.fits(prompt_len + max_tokens):
            self._graph_owner = owner
            g.load(cache, prompt_len)
            return g
        if self.batch is not None:
            from .batch import BatchRow

            return BatchRow(self.batch, owner, cache, self._forward)
        return DynamicSession(self._forward, cache)

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def prefill(self, ids: list[int]) -> tuple[Any, Any, int]:
        """KV for `ids`, reusing the longest cached prefix: (cache, last logits, reused)."""
        return drain(self._prefill_steps(ids, None))

    def _prefill_steps(self, ids: list[int], cancelled: Any) -> Generator[None, None, tuple[Any, Any, int]]:
        """`prefill`, a pass of at most `prefill_chunk` tokens per step. Cancelled midway:
        logits None, the cache holds the part fed."""
        cache, reused, logits = self.prefix_cache.take(ids)
        if cache is None:
            cache = self._new_cache()
        if logits is None:
            rest, n = ids[reused:], self.prefill_chunk
            for i in range(0, len(rest), n):
                if i and cancelled is not None and cancelled.is_set():
                    return cache, None, reused
                # Only the last position's logits: the LM head over a 2K prompt is a fifth of
                # the prefill's multiply-adds for a 135M model with a 49K vocabulary.
                logits = self._forward(rest[i : i + n], cache, last=True)[-1]
                if i + n < len(rest):
                    yield
        return cache, logits, reused

    def warm(self, prompt: str) -> int:
        """Prefill `prompt` into the prefix cache ahead of a request; returns its tokens."""
        return drain(self._warm(prompt, None))

    def warm_steps(self, prompt: str, cancelled: Any = None) -> Generator[None, None, int]:
        """`warm` as resumable steps, one forward pass each; stops early once `cancelled`."""
        return inference_steps(self._warm(prompt, cancelled))

    def _warm(self, prompt: str, cancelled: Any) -> Generator[None, None, int]:
        ids = self._prompt_ids(prompt)
        if len(ids) < 2:
            return 0
        cache, logits, _ = yield from self._prefill_steps(ids, cancelled)
        # With the logits: a request for this very prompt decodes its first token at once.
        self.prefix_cache.put(ids[: cache_len(cache)], cache, logits)
        return len(ids)

    def _prompt_ids(self, prompt: str) -> list[int]:
        """`encode(prompt)`, remembered for the last prompt: a held completion is
        warmed, then generated, from the same text."""
        if prompt != self._last_prompt[0]:
            self._last_prompt = (prompt, self.encode(prompt))
        return list(self._last_prompt[1])

    def generate(self, req: Request, emit: Emit) -> None:
        """Run `req` to its end (the worker interleaves `steps` instead)."""
        for _ in self.steps(req, emit):
            pass

    def steps(self, req: Request, emit: Emit) -> Iterator[None]:
        """`req` as resumable steps, one forward pass each (a prefill chunk, a decode step,
        a verify chunk), so the worker can run other requests' passes in between."""
        return inference_steps(self._generate(req, emit))

    def _generate(self, req: Request, emit: Emit) -> Generator[None, None, None]:
        params = req.params
        ids = self._prompt_ids(req.prompt) or [self.tokenizer.bos_token_id or self.eos_ids[0]]
        max_ctx = getattr(self.model.config, "max_position_embeddings", 0) or 1 << 30
        if len(ids) + params.max_tokens > max_ctx:
            raise ValueError(f"Prompt of {len(ids)} tokens + {params.max_tokens} new exceeds the model's context of {max_ctx} tokens.")
        out = MarkedOutput(
            self.decode,
            StopRule(max_tokens=params.max_tokens, stop_strings=params.stop),
            self.eos_ids,
            params.loop_guard,
            lambda text: emit(Event("delta", text=text)),
            decode_stream(self.tokenizer),
            hide=params.prefix,
        )
        cache = session = None
        try:
            t0 = time.perf_counter()
            cache, logits, reused = yield from self._prefill_steps(ids, req.cancelled)
            if logits is None:  # cancelled mid-prefill: keep what was fed for the next one
                out.finish = "cancelled"
                self.prefix_cache.put(ids[: cache_len(cache)], cache)
            else:
                first = logits
                self.last_timing = {"prefill_s": time.perf_counter() - t0, "reused": reused, "prompt": len(ids)}
                yield
                session = self._session(cache, len(ids), params.max_tokens, req)
                logits = yield from self._force_prefix(req, session, logits, out)
                if logits is None:  # the answer ended within the required prefix
                    pass
                elif params.temperature <= 0 and (req.draft is not None or params.lookup):
                    yield from self._speculate(req, ids + out.ids, session, logits, out)
                else:
                    yield from self._decode_plain(req, session, logits, out)
                leave(session)
                truncate(cache, len(ids))
                self.prefix_cache.put(ids, cache, first)  # the next keystroke's prompt starts the same
        finally:
            if self._graph_owner is req:
                self._graph_owner = None
            leave(session)
            cache = session = None
        out.flush()
        emit(
            Event(
                "done",
                text=out.text,
                finish_reason=out.finish or "length",  # type: ignore[arg-type]
                prompt_tokens=len(ids),
                completion_tokens=len(out.ids),
                logprob=out.logprob,
                token_logprobs=out.token_logprobs(),
            )
        )

    def _force_prefix(self, req: Request, session: Session, logits: Any, out: Output) -> Generator[None, None, Any]:
        """Plain decode steps restricted to tokens consistent with `params.prefix`
        (engine/constrain.py) until the output covers it; then the logits after them (None:
        the answer ended). No prefix: no step, the logits as they were. `nonblank` (an
        empty cursor line): then one step among tokens with text, unless the answer has some,
        and steps that steer it off the starts in `avoid`."""
        p = req.params
        texts = constrain.token_texts(self.tokenizer) if p.prefix or p.nonblank else None
        if texts is None:
            return logits
        gen = seeded_generator(p.seed)
        pick = lambda masked: sample(masked, p.temperature, p.top_p, gen)  # noqa: E731
        logits = yield from constrain.force_prefix(p.prefix, texts, logits, pick, out.push, session.feed, req.cancelled.is_set)
        if logits is not None and p.nonblank and not out.text.strip():
            logits = yield from constrain.force_nonblank(texts, logits, pick, out.push, session.feed, p.avoid)
            if logits is not None and p.avoid:
                logits = yield from constrain.steer_off(p.avoid, texts, logits, pick, out.push, session.feed, lambda: out.text)
        return logits

    def _decode_plain(self, req: Request, session: Session, logits: Any, out: Output) -> Generator[None, None, None]:
        params = req.params
        gen = seeded_generator(params.seed)
        while True:
            if req.cancelled.is_set():
                out.finish = "cancelled"
                return
            tok = sample(logits, params.temperature, params.top_p, gen)
            out.note_logprob(logprob(logits, tok))
            if out.push(tok):
                return
            rows = yield from feed_steps(session, [tok], req.cancelled)
            if rows is not None:  # None: cancelled while waiting for the pass
                logits = rows[-1]

    def _speculate(self, req: Request, prompt: list[int], session: Session, logits: Any, out: Output) -> Generator[None, None, None]:
        ids = req.draft if isinstance(req.draft, list) else self.encode(req.draft or "")
        draft = DraftCursor(ids, max_chunk=self.spec_chunk)
        # Off the draft: what the text so far repeats. Shorter than a draft chunk, as a
        # lookup hit is less often right.
        lookup = NgramLookup(prompt, size=max(self.spec_chunk // 2, 1)) if req.params.lookup else None
        tok = int(logits.argmax())
        tok_logprob = logprob(logits, tok)
        while True:
            if req.cancelled.is_set():
                out.finish = "cancelled"
                return
            out.note_logprob(tok_logprob)
            if out.push(tok):
                return
            draft.observe(tok, out.ids)
            if lookup:
                lookup.extend([tok])
            chunk = draft.chunk()
            from_draft = bool(chunk)
            if not from_draft and lookup:
                chunk = lookup.propose()
            # No more than the answer may still take: tokens past max_tokens would be
            # dropped anyway, and so its K/V stays within its reserve (prompt + max_tokens).
            chunk = chunk[: max(0, req.params.max_tokens - len(out.ids))]
            base = session.length
            rows = yield from feed_steps(session, [tok, *chunk], req.cancelled)
            if rows is None:
                out.finish = "cancelled"
                return
            preds = rows.argmax(-1).tolist()
            n = 0
            while n < len(chunk) and preds[n] == chunk[n]:
                n += 1
            # Greedy: each accepted token is its row's argmax, so its log-probability is
            # the row's max minus its logsumexp (one reduction for the whole chunk).
            logprobs = (rows[: n + 1].float().amax(-1) - rows[: n + 1].float().logsumexp(-1)).tolist()
            session.truncate(base + 1 + n)  # keep KV of `tok` and the accepted tokens
            if from_draft:
                draft.advance(len(chunk), n)
            self.spec_stats.note(from_draft, len(chunk), n)
            for t, lp in zip(chunk[:n], logprobs):
                out.note_logprob(lp)
                if out.push(t):
                    return
            if lookup:
                lookup.extend(chunk[:n])
            tok, tok_logprob = preds[n], logprobs[n]

    def stats(self) -> dict[str, Any]:
        import torch

        c = self.prefix_cache
        mem: dict[str, Any] = {"kv_cache_bytes": c.bytes, "kv_cache_entries": len(c)}
        if self.device.type == "cuda":
            mem["cuda_allocated_bytes"] = torch.cuda.memory_allocated(self.device)
        if self.graphs is not None:
            mem["cuda_graph_passes"] = self.graphs.replays
        return {
            **mem,
            "kv_hit_rate": round(c.stats.hit_rate, 3),
            "kv_token_reuse": round(c.stats.token_reuse, 3),
            "kv_reused_tokens": c.stats.reused_tokens,
            "spec_acceptance": self.spec_stats.acceptance,
            "spec_lookup_acceptance": self.spec_stats.lookup_acceptance,
            "spec_tokens_per_pass": self.spec_stats.tokens_per_pass,
        }

    def close(self) -> None:
        import gc

        self.prefix_cache.clear()

        import torch

        self.graphs = None
        del self.model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
