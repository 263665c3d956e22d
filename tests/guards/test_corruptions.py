"""Property tests for every corruption function: shape, dtype, unmasked positions untouched, finite."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from guards.corruptions import CORRUPTIONS
from guards.errors import GuardConfigError

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


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
    out = CORRUPTIONS.get(name)(embeds, mask, dims, strength, torch.Generator().manual_seed(seed))
    assert out.shape == embeds.shape
    assert out.dtype == embeds.dtype
    assert torch.equal(embeds, before), "the input tensor must not be modified in place"
    assert torch.equal(out[~mask], embeds[~mask]), "an unmasked position changed"
    assert torch.isfinite(out.float()).all(), "NaN or inf emitted"


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_same_generator_seed_reproduces(name):
    embeds = torch.randn(2, 5, 8)
    mask = torch.ones(2, 5, dtype=torch.bool)
    a = CORRUPTIONS.get(name)(embeds, mask, 3, 2.0, torch.Generator().manual_seed(7))
    b = CORRUPTIONS.get(name)(embeds, mask, 3, 2.0, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, embeds), f"{name} left fully masked embeddings unchanged"


def test_first_n_touches_only_first_dims():
    embeds = torch.randn(1, 4, 10)
    mask = torch.tensor([[True, False, True, True]])
    out = CORRUPTIONS.get("rand_noise_first_n")(embeds, mask, 3, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(out[..., 3:], embeds[..., 3:])
    assert not torch.equal(out[0, 0, :3], embeds[0, 0, :3])
    assert torch.equal(out[0, 1], embeds[0, 1])


def test_top_k_variants_pick_largest_magnitudes():
    embeds = torch.tensor([[[0.5, -5.0, 2.0, 0.25]]])
    mask = torch.ones(1, 1, dtype=torch.bool)
    gen = torch.Generator()
    assert CORRUPTIONS.get("zero_out_top_k")(embeds, mask, 2, 0.0, gen).tolist() == [[[0.5, 0.0, 0.0, 0.25]]]
    assert CORRUPTIONS.get("flip_sign_top_k")(embeds, mask, 1, 0.0, gen).tolist() == [[[0.5, 5.0, 2.0, 0.25]]]
    # sub_value_top_k and add_value_least_k rank by value, as the reference does
    assert CORRUPTIONS.get("sub_value_top_k")(embeds, mask, 1, 1.0, gen).tolist() == [[[0.5, -5.0, 1.0, 0.25]]]
    assert CORRUPTIONS.get("add_value_least_k")(embeds, mask, 1, 1.0, gen).tolist() == [[[0.5, -4.0, 2.0, 0.25]]]


def test_shuffle_and_reverse_permute_only_masked_positions():
    embeds = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1)
    mask = torch.tensor([[False, True, True, False, True, False]])
    rev = CORRUPTIONS.get("reverse_order")(embeds, mask, 1, 0.0, torch.Generator())
    assert rev.flatten().tolist() == [0.0, 4.0, 2.0, 3.0, 1.0, 5.0]
    shuf = CORRUPTIONS.get("shuffle")(embeds, mask, 1, 0.0, torch.Generator().manual_seed(3))
    assert sorted(shuf[0, [1, 2, 4], 0].tolist()) == [1.0, 2.0, 4.0]


def test_huge_sigma_saturates_in_fp16():
    embeds = torch.zeros(1, 3, 4, dtype=torch.float16)
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = CORRUPTIONS.get("rand_noise_first_n")(embeds, mask, 4, 1e6, torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    assert out.abs().max().item() == torch.finfo(torch.float16).max


def test_unknown_name_lists_valid_ones():
    with pytest.raises(GuardConfigError, match="rand_noise_first_n") as info:
        CORRUPTIONS.get("rand_noise_frist_n")
    assert "Valid names" in str(info.value)
    assert len(CORRUPTIONS) == 14
