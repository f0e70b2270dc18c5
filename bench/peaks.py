"""This machine's matrix-multiply peaks, fp32 and int8, at the current torch thread count.

A "fraction of peak" divides a model's useful FLOP/s by what one large multiply reaches here: how much headroom
the kernels leave. fp32 is `torch.matmul`; int8 is torch's dynamically quantized Linear (qint8 weights,
activations quantized per call: the kernel `quantize_dynamic` puts in the int8 model), on the quantized engine
torch picked for this CPU. A multiply-add counts as 2 operations either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SIZE = 2048
REPEATS = 5


def _best_seconds(step: Callable[[], object], repeats: int) -> float:
    for _ in range(2):  # warm-up: allocator, packed weights, kernel selection
        step()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return best


def fp32_matmul_flops(size: int = SIZE, repeats: int = REPEATS) -> float:
    """Best-of fp32 `torch.matmul` FLOP/s of two `size` x `size` matrices."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / _best_seconds(lambda: torch.matmul(a, b), repeats)


def int8_linear_ops(size: int = SIZE, repeats: int = REPEATS) -> float:
    """Best-of int8 operations/s of a dynamically quantized `size` x `size` Linear on `size` rows."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    layer = DynamicLinear(size, size, dtype=torch.qint8)
    dense = torch.nn.Linear(size, size)
    weight = dense.weight.detach()
    scales = weight.abs().amax(dim=1) / 127  # a scale per output row, as inference.quantize_int8 quantizes
    per_row = torch.quantize_per_channel(weight, scales, torch.zeros(size, dtype=torch.long), 0, torch.qint8)
    layer.set_weight_bias(per_row, dense.bias.detach())
    x = torch.randn(size, size)
    with torch.inference_mode():
        return 2 * size**3 / _best_seconds(lambda: layer(x), repeats)


def quantized_engine() -> str:
    import torch

    return str(torch.backends.quantized.engine)
