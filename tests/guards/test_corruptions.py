"""Property tests for every corruption function: shape, dtype, unmasked positions untouched, finite."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from guards.corruptions import CORRUPTIONS, RowNoise
from guards.errors import GuardConfigError

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def seeded(seed: int, batch: int = 1, length: int = 1) -> RowNoise:
    """Draws for ``batch`` full rows of ``length``, row r from a generator seeded ``seed + r``."""
    return RowNoise([torch.Generator().manual_seed(seed + r) for r in range(batch)], [length] * batch, length, "cpu")


@st.composite
def cases(draw):
    batch = draw(st.integers(1, 3))
    length = draw(st.integers(1, 7))
    width = draw(st.integers(1, 12))
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    embeds = (torch.randn((batch, length, width), generator=gen) * draw(st.sampled_from([1.0, 100.0]))).to(dtype)
    mask = torch.rand((batch, length), generator=gen) < draw(st.floats(0.0, 1.0))
    dims = draw(st.integers(1, width + 3))
    strength = draw(st.sampled_from([0.0, 0.5, 3.0, 1e6, 1e30]))
    return embeds, mask, dims, strength, seed


@pytest.mark.parametrize("name", CORRUPTIONS.names())
@settings(max_examples=40, deadline=None)
@given(case=cases())
def test_corruption_properties(name, case):
    embeds, mask, dims, strength, seed = case
    before = embeds.clone()
    out = CORRUPTIONS.get(name)(embeds, mask, dims, strength, seeded(seed, *mask.shape))
    assert out.shape == embeds.shape
    assert out.dtype == embeds.dtype
    assert torch.equal(embeds, before), "the input tensor must not be modified in place"
    assert torch.equal(out[~mask], embeds[~mask]), "an unmasked position changed"
    assert torch.isfinite(out.float()).all(), "NaN or inf emitted"


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_same_generator_seed_reproduces(name):
    embeds = torch.randn(2, 5, 8)
    mask = torch.ones(2, 5, dtype=torch.bool)
    a = CORRUPTIONS.get(name)(embeds, mask, 3, 2.0, seeded(7, 2, 5))
    b = CORRUPTIONS.get(name)(embeds, mask, 3, 2.0, seeded(7, 2, 5))
    assert torch.equal(a, b)
    assert not torch.equal(a, embeds), f"{name} left fully masked embeddings unchanged"


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_a_row_in_a_padded_batch_is_corrupted_as_it_would_be_alone(name):
    """One call corrupts the whole left-padded batch, yet each row's result, noise included, is the
    one it gets alone: its batch-mates, the padding and the unflagged rows change nothing."""
    lengths, width, dim = [5, 2, 7, 3], 7, 6
    alone = [torch.randn(1, n, dim) for n in lengths]
    masks = [torch.rand(1, n) < 0.7 for n in lengths]
    flagged = [True, True, False, True]
    embeds = torch.zeros(len(lengths), width, dim)
    mask = torch.zeros(len(lengths), width, dtype=torch.bool)
    for row, (e, m, n) in enumerate(zip(alone, masks, lengths, strict=True)):
        embeds[row, width - n :] = e[0]
        mask[row, width - n :] = m[0] & flagged[row]
    generators = [torch.Generator().manual_seed(100 + r) if f else None for r, f in enumerate(flagged)]
    out = CORRUPTIONS.get(name)(embeds, mask, 3, 2.0, RowNoise(generators, lengths, width, "cpu"))
    for row, (e, m, n) in enumerate(zip(alone, masks, lengths, strict=True)):
        if flagged[row]:
            own = RowNoise([torch.Generator().manual_seed(100 + row)], [n], n, "cpu")
            assert torch.equal(out[row, width - n :], CORRUPTIONS.get(name)(e, m, 3, 2.0, own)[0]), row
        else:
            assert torch.equal(out[row], embeds[row])
    assert torch.equal(out[1, :5], embeds[1, :5])  # padding untouched


def test_first_n_touches_only_first_dims():
    embeds = torch.randn(1, 4, 10)
    mask = torch.tensor([[True, False, True, True]])
    out = CORRUPTIONS.get("rand_noise_first_n")(embeds, mask, 3, 1.0, seeded(0, 1, 4))
    assert torch.equal(out[..., 3:], embeds[..., 3:])
    assert not torch.equal(out[0, 0, :3], embeds[0, 0, :3])
    assert torch.equal(out[0, 1], embeds[0, 1])


def test_top_k_variants_pick_largest_magnitudes():
    embeds = torch.tensor([[[0.5, -5.0, 2.0, 0.25]]])
    mask = torch.ones(1, 1, dtype=torch.bool)
    gen = seeded(0)
    assert CORRUPTIONS.get("zero_out_top_k")(embeds, mask, 2, 0.0, gen).tolist() == [[[0.5, 0.0, 0.0, 0.25]]]
    assert CORRUPTIONS.get("flip_sign_top_k")(embeds, mask, 1, 0.0, gen).tolist() == [[[0.5, 5.0, 2.0, 0.25]]]
    # sub_value_top_k and add_value_least_k rank by value, as the reference does
    assert CORRUPTIONS.get("sub_value_top_k")(embeds, mask, 1, 1.0, gen).tolist() == [[[0.5, -5.0, 1.0, 0.25]]]
    assert CORRUPTIONS.get("add_value_least_k")(embeds, mask, 1, 1.0, gen).tolist() == [[[0.5, -4.0, 2.0, 0.25]]]


def test_shuffle_and_reverse_permute_only_masked_positions():
    embeds = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1)
    mask = torch.tensor([[False, True, True, False, True, False]])
    rev = CORRUPTIONS.get("reverse_order")(embeds, mask, 1, 0.0, seeded(0, 1, 6))
    assert rev.flatten().tolist() == [0.0, 4.0, 2.0, 3.0, 1.0, 5.0]
    shuf = CORRUPTIONS.get("shuffle")(embeds, mask, 1, 0.0, seeded(3, 1, 6))
    assert sorted(shuf[0, [1, 2, 4], 0].tolist()) == [1.0, 2.0, 4.0]


def test_huge_sigma_saturates_in_fp16():
    embeds = torch.zeros(1, 3, 4, dtype=torch.float16)
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = CORRUPTIONS.get("rand_noise_first_n")(embeds, mask, 4, 1e6, seeded(0, 1, 3))
    assert torch.isfinite(out).all()
    assert out.abs().max().item() == torch.finfo(torch.float16).max


def test_unknown_name_lists_valid_ones():
    with pytest.raises(GuardConfigError, match="rand_noise_first_n") as info:
        CORRUPTIONS.get("rand_noise_frist_n")
    assert "Valid names" in str(info.value)
    assert len(CORRUPTIONS) == 14
