"""Linear layers with oneDNN-prepacked weights, for models on the CPU.

`nn.Linear` on the CPU calls a BLAS GEMM that re-packs the weight on every call; for the
few rows a decode step or a speculative verify feeds, that costs about as much as reading
the weight once per row. oneDNN's linear with the weight reordered once at load (the
prepacking torch's own inductor uses on CPU) reads it once per call. Embedded model, 2
cores, after a 2K-token prompt: a forward pass of 17 tokens costs 2.3 single steps instead
of 3.2, one of 9 tokens 1.7 instead of 2.6 (`verify_cost_steps` in `benchmarks/engine.py`).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _packed_linear_type() -> Any:
    import torch

    class PackedLinear(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), None)
            self.bias = linear.bias

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    return PackedLinear


def _available_memory() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # unknown: don't guess
        return None


def prepack_linears(model: Any, vocab_size: int) -> int:
    """Swap the model's `nn.Linear`s for prepacked ones; returns how many were swapped.

    Leaves the model as it was (and returns 0) unless the packed model gives the same
    logits as the original on a probe input, so a torch without oneDNN or a model that
    reads `.weight` itself keeps working, only without the speed-up.
    """
    import torch

    if not torch.backends.mkldnn.is_available() or model.device.type != "cpu":
        return 0
    swaps: list[tuple[torch.nn.Module, str, torch.nn.Linear]] = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child) is torch.nn.Linear  # exactly: not a quantized subclass
    ]
    if not swaps:
        return 0
    # The packed copies exist next to the plain weights until the probe has passed: skip
    # (slower, not broken) where that peak would not fit in free memory.
    extra = sum(child.weight.numel() * child.weight.element_size() for _, _, child in swaps)
    free = _available_memory()
    if free is not None and extra * 3 // 2 > free:
        log.info("jupyter-assist: plain CPU linear layers (%d MB to pack, %d MB free)", extra >> 20, free >> 20)
        return 0
    probe = torch.arange(1, 6).clamp(max=max(vocab_size - 1, 0)).unsqueeze(0)
    try:
        with torch.inference_mode():
            before = model(input_ids=probe).logits
            packed_type = _packed_linear_type()
            for parent, name, child in swaps:
                setattr(parent, name, packed_type(child))
            after = model(input_ids=probe).logits
        tol = 1e-3 if before.dtype == torch.float32 else 5e-2
        if not torch.allclose(before, after, rtol=tol, atol=tol * float(before.abs().max())):
            raise ValueError(f"logits differ by {float((before - after).abs().max()):.3g}")
    except Exception as e:  # any failure: keep the plain layers
        for parent, name, child in swaps:
            setattr(parent, name, child)
        log.info("jupyter-assist: plain CPU linear layers (%s)", e)
        return 0
    return len(swaps)
