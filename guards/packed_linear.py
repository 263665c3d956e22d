"""Linear layers whose weights are reordered once, at load, into the blocked layout that oneDNN's CPU
matmul reads, as ``torch.compile``'s freezing does for its own graphs.

A plain bfloat16 ``nn.Linear`` on CPU hands oneDNN its weight in the checkpoint's layout, and
oneDNN reorders it on every call. For the classifier's short inputs that reorder is about a third
of each linear's time, and linears are most of a decision's (docs/classifier.md). Packing changes the
memory layout: the same products, whose sums may round differently in the last bfloat16 bit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

PACKED_DTYPES = (torch.bfloat16,)  # float32 linears run faster through MKL than through packed oneDNN


class PackedLinear(torch.nn.Module):
    """``linear``'s affine map with its weight in oneDNN's blocked layout (inference only)."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        # kept as attributes, not parameters: an opaque oneDNN tensor has no state-dict form
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach())
        self.bias = None if linear.bias is None else linear.bias.detach()
        self.out_features = linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight, self.bias, "none", [], "")


def can_pack(model: torch.nn.Module) -> bool:
    """Whether ``model``'s linears can be packed: on CPU, in a packed dtype, with torch's oneDNN ops."""
    parameter = next(model.parameters(), None)
    return (
        parameter is not None and parameter.device.type == "cpu" and parameter.dtype in PACKED_DTYPES
        and torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )  # fmt: skip


def pack_linears(model: torch.nn.Module) -> Callable[[], None]:
    """Swap every ``nn.Linear`` of ``model`` for a ``PackedLinear`` in place (check ``can_pack``
    first); returns the call that swaps the plain layers back."""
    swaps = [(parent, name, child) for parent in model.modules() for name, child in parent.named_children()
             if isinstance(child, torch.nn.Linear)]  # fmt: skip
    packed = [PackedLinear(child) for _, _, child in swaps]  # all packed before any swap: a failure swaps none
    for (parent, name, _), layer in zip(swaps, packed, strict=True):
        setattr(parent, name, layer)

    def unpack() -> None:
        for parent, name, child in swaps:
            setattr(parent, name, child)

    return unpack
