"""The ECO corruption functions, applied only at masked token positions.

Every function has one signature::

    fn(embeds [B, T, D], mask [B, T] bool, dims: int, strength: float, noise: RowNoise) -> [B, T, D]

Values are computed in float32 and saturated to the embedding dtype's finite range before the
cast back, so a strength the dtype cannot hold (sigma = 1e6 in fp16) gives +-65504, never inf or
NaN. Positions outside ``mask`` are returned bit for bit. ``dims`` and ``strength`` are ignored by
the functions that do not use them (``shuffle``, ``reverse_order``, ``zero_out_*``,
``flip_sign_*``), so every entry keeps the same signature.

A whole batch is corrupted in one call; only the random draws are made row by row (``RowNoise``),
so the work per flagged row is one draw, not a dozen small operations.

Unlike the ECO reference code, ``set_rand_noise_first_n``, ``shuffle`` and ``reverse_order`` act
on the masked positions only: the reference applies them to the whole sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from guards.registry import Registry


class RowNoise:
    """Random draws for a left-padded batch, each row from its own generator.

    A row draws exactly what it would draw alone, as a batch of one holding only its own tokens,
    so its noise never depends on its batch-mates. Rows without a generator (not flagged) and
    padding get zeros (``randperm``: the identity).
    """

    def __init__(self, generators: Sequence[torch.Generator | None], lengths: Sequence[int], width: int,
                 device: torch.device | str) -> None:
        if len(generators) != len(lengths):
            raise ValueError(f"{len(generators)} generators for {len(lengths)} rows")
        self.generators, self.lengths, self.width, self.device = list(generators), list(lengths), width, device

    def _draw(self, trailing: tuple[int, ...], draw) -> torch.Tensor:
        """[B, T, *trailing] float32: ``draw`` for each row's own tokens, in place; zeros elsewhere."""
        shape = (len(self.lengths), self.width, *trailing)
        drawn = [(row, g, n) for row, (g, n) in enumerate(zip(self.generators, self.lengths, strict=True))
                 if g is not None]
        whole = len(drawn) == len(self.lengths) and all(n == self.width for _, _, n in drawn)
        out = (torch.empty if whole else torch.zeros)(shape, dtype=torch.float32, device=self.device)
        for row, g, n in drawn:  # one kernel per row: drawn straight into its slice
            draw((n, *trailing), generator=g, out=out[row, self.width - n :])
        return out

    def randn(self, *trailing: int) -> torch.Tensor:
        """Standard normal draws, [B, T, *trailing] float32."""
        return self._draw(trailing, torch.randn)

    def rand(self) -> torch.Tensor:
        """Uniform draws on [0, 1), one per position, [B, T] float32."""
        return self._draw((), torch.rand)

    def randperm(self, size: int) -> torch.Tensor:
        """A random permutation of ``range(size)`` per row, [B, size]."""
        out = torch.arange(size, device=self.device).repeat(len(self.lengths), 1)
        for row, g in enumerate(self.generators):
            if g is not None:
                out[row] = torch.randperm(size, generator=g, device=g.device)
        return out


class CorruptionFn(Protocol):
    def __call__(
        self,
        embeds: torch.Tensor,
        mask: torch.Tensor,
        dims: int,
        strength: float,
        noise: RowNoise,
    ) -> torch.Tensor: ...


CORRUPTIONS: Registry[CorruptionFn] = Registry("corruption method")


def _finish(embeds: torch.Tensor, mask: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """Saturate fp32 values to the dtype's range, cast back and keep unmasked positions as they were."""
    if embeds.dtype.is_floating_point:
        info = torch.finfo(embeds.dtype)
        new = torch.nan_to_num(new, nan=0.0, posinf=info.max, neginf=info.min)
        new = new.clamp(info.min, info.max)
    return torch.where(mask.unsqueeze(-1), new.to(embeds.dtype), embeds)


def _top_k(values: torch.Tensor, dims: int, largest: bool = True) -> torch.Tensor:
    return values.topk(min(dims, values.shape[-1]), dim=-1, largest=largest).indices


@CORRUPTIONS.register("rand_noise_first_n")
def rand_noise_first_n(embeds, mask, dims, strength, noise):
    x = embeds.float().clone()
    d = min(dims, x.shape[-1])
    x[..., :d] += noise.randn(d) * strength
    return _finish(embeds, mask, x)


@CORRUPTIONS.register("rand_noise_rand_n")
def rand_noise_rand_n(embeds, mask, dims, strength, noise):
    x = embeds.float()
    d = min(dims, x.shape[-1])
    chosen = noise.randperm(x.shape[-1])[:, None, :d].expand(*x.shape[:-1], d)  # per row, as the draws
    return _finish(embeds, mask, x.scatter_add(-1, chosen, noise.randn(d) * strength))


@CORRUPTIONS.register("rand_noise_top_k")
def rand_noise_top_k(embeds, mask, dims, strength, noise):
    x = embeds.float()
    idx = _top_k(x.abs(), dims)
    return _finish(embeds, mask, x.scatter_add(-1, idx, noise.randn(idx.shape[-1]) * strength))


@CORRUPTIONS.register("set_rand_noise_first_n")
def set_rand_noise_first_n(embeds, mask, dims, strength, noise):
    x = embeds.float().clone()
    d = min(dims, x.shape[-1])
    x[..., :d] = noise.randn(d) * strength
    return _finish(embeds, mask, x)


@CORRUPTIONS.register("zero_out_first_n")
def zero_out_first_n(embeds, mask, dims, strength, noise):
    x = embeds.float().clone()
    x[..., : min(dims, x.shape[-1])] = 0.0
    return _finish(embeds, mask, x)


@CORRUPTIONS.register("zero_out_top_k")
def zero_out_top_k(embeds, mask, dims, strength, noise):
    x = embeds.float()
    return _finish(embeds, mask, x.scatter(-1, _top_k(x.abs(), dims), 0.0))


@CORRUPTIONS.register("flip_sign_first_n")
def flip_sign_first_n(embeds, mask, dims, strength, noise):
    x = embeds.float().clone()
    d = min(dims, x.shape[-1])
    x[..., :d] = -x[..., :d]
    return _finish(embeds, mask, x)


@CORRUPTIONS.register("flip_sign_top_k")
def flip_sign_top_k(embeds, mask, dims, strength, noise):
    x = embeds.float()
    idx = _top_k(x.abs(), dims)
    return _finish(embeds, mask, x.scatter(-1, idx, -x.gather(-1, idx)))


@CORRUPTIONS.register("add_value_first_n")
def add_value_first_n(embeds, mask, dims, strength, noise):
    x = embeds.float().clone()
    x[..., : min(dims, x.shape[-1])] += strength
    return _finish(embeds, mask, x)


@CORRUPTIONS.register("sub_value_first_n")
def sub_value_first_n(embeds, mask, dims, strength, noise):
    x = embeds.float().clone()
    x[..., : min(dims, x.shape[-1])] -= strength
    return _finish(embeds, mask, x)


@CORRUPTIONS.register("add_value_least_k")
def add_value_least_k(embeds, mask, dims, strength, noise):
    x = embeds.float()
    idx = _top_k(x, dims, largest=False)
    return _finish(embeds, mask, x.scatter_add(-1, idx, torch.full(idx.shape, strength, device=x.device)))


@CORRUPTIONS.register("sub_value_top_k")
def sub_value_top_k(embeds, mask, dims, strength, noise):
    x = embeds.float()
    idx = _top_k(x, dims)
    return _finish(embeds, mask, x.scatter_add(-1, idx, torch.full(idx.shape, -strength, device=x.device)))


def _permute_masked(embeds: torch.Tensor, mask: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Reorder the masked positions of each row by ``keys``; unmasked positions stay in place.

    ``dest`` lists masked positions in sequence order, then unmasked ones; ``src`` lists masked
    positions in key order, then the same unmasked ones. Writing ``src`` into ``dest`` permutes
    masked positions among themselves and maps every unmasked position onto itself.
    """
    seq = torch.arange(mask.shape[1], device=mask.device, dtype=torch.float32).expand_as(keys)
    beyond = seq + keys.abs().max() + mask.shape[1] + 2.0
    dest = torch.where(mask, seq, beyond).argsort(dim=1, stable=True)
    src = torch.where(mask, keys, beyond).argsort(dim=1, stable=True)
    width = embeds.shape[-1]
    moved = embeds.gather(1, src.unsqueeze(-1).expand(-1, -1, width))
    return torch.empty_like(embeds).scatter(1, dest.unsqueeze(-1).expand(-1, -1, width), moved)


@CORRUPTIONS.register("shuffle")
def shuffle(embeds, mask, dims, strength, noise):
    return _permute_masked(embeds, mask, noise.rand())


@CORRUPTIONS.register("reverse_order")
def reverse_order(embeds, mask, dims, strength, noise):
    seq = torch.arange(mask.shape[1], device=mask.device, dtype=torch.float32)
    return _permute_masked(embeds, mask, (-seq).expand(mask.shape))
