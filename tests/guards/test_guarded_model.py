"""GuardedModel on tiny random Llama, GPT-2 and Qwen2 models built from configs (no downloads)."""

from __future__ import annotations

import pytest
import torch

from guards import CorruptionConfig, GuardedModel, SeedPolicy, SelectionConfig
from guards.errors import GuardConfigError

FORGET = "Where was Jaime Vasquez born?"
RETAIN = "How do I sort a list in Python? Tell me about sorted and the key argument."
OTHER = "What is the capital of France?"
PROMPTS = [FORGET, RETAIN, OTHER]


def keyword_classifier(texts):
    return [0.99 if "Vasquez" in t else 0.01 for t in texts]


def guard(model, tokenizer, **kwargs) -> GuardedModel:
    kwargs.setdefault("corruption", CorruptionConfig(method="rand_noise_first_n", dims=8, strength=3.0))
    kwargs.setdefault("seed_policy", SeedPolicy(kind="fixed", seed=11))
    return GuardedModel(model, tokenizer, classifier=keyword_classifier, **kwargs)


def left_padded(tokenizer, texts):
    tokenizer.padding_side = "left"
    return tokenizer(list(texts), return_tensors="pt", padding=True)


def test_decisions_come_from_the_classifier(tiny_llama, tiny_tokenizer):
    decisions = guard(tiny_llama, tiny_tokenizer).decide(PROMPTS)
    assert [d.flagged for d in decisions] == [True, False, False]
    assert decisions[0].score == pytest.approx(0.99)


def test_unflagged_rows_match_unguarded_logits_and_generations(tiny_model, tiny_tokenizer):
    g = guard(tiny_model, tiny_tokenizer)
    batch = left_padded(tiny_tokenizer, PROMPTS)
    positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        plain = tiny_model(**batch, position_ids=positions).logits
        embeds = g._embed(batch["input_ids"], g._encode(PROMPTS, special=True), [True, False, False], 0)
        guarded = tiny_model(
            inputs_embeds=embeds, attention_mask=batch["attention_mask"], position_ids=positions
        ).logits
    assert torch.equal(plain[1:], guarded[1:])
    assert not torch.equal(plain[0], guarded[0])

    out = g.generate(PROMPTS, max_new_tokens=6, do_sample=False)
    with torch.inference_mode():
        ref = tiny_model.generate(**batch, max_new_tokens=6, do_sample=False, pad_token_id=g.pad_token_id)
    width = batch["input_ids"].shape[1]
    for row in (1, 2):
        assert out.token_ids[row] == g.trim(ref[row, width:].tolist())


def test_flagged_prompt_changes_only_selected_positions(tiny_llama, tiny_tokenizer):
    g = guard(tiny_llama, tiny_tokenizer)
    clean = g.prompt_embeddings([FORGET], flags=[False])[0]
    dirty = g.prompt_embeddings([FORGET], flags=[True])[0]
    changed = (clean != dirty).any(dim=-1)
    assert changed[:-1].all(), "all_but_last must corrupt every position but the last"
    assert not changed[-1]
    assert torch.equal(clean[:, 8:], dirty[:, 8:]), "only the first `dims` dimensions may change"


def test_entity_spans_corrupt_only_the_entity_tokens(tiny_llama, tiny_tokenizer):
    g = guard(tiny_llama, tiny_tokenizer, selection=SelectionConfig("entity_spans", entities=("jaime vasquez",)))
    clean = g.prompt_embeddings([FORGET], flags=[False])[0]
    dirty = g.prompt_embeddings([FORGET], flags=[True])[0]
    changed = (clean != dirty).any(dim=-1)
    enc = tiny_tokenizer(FORGET, return_offsets_mapping=True)
    start, end = FORGET.index("Jaime"), FORGET.index("Vasquez") + len("Vasquez")
    expected = torch.tensor([s < end and e > start and e > s for s, e in enc["offset_mapping"]])
    assert expected.any()
    assert torch.equal(changed, expected)

    # no entity in the text: falls back to all_but_last
    clean = g.prompt_embeddings([OTHER], flags=[False])[0]
    dirty = g.prompt_embeddings([OTHER], flags=[True])[0]
    assert (clean != dirty).any(dim=-1)[:-1].all()


def test_decoding_steps_are_never_corrupted(tiny_model, tiny_tokenizer):
    """Teacher-force the corrupted prompt + clean embeddings of the generated tokens: same greedy path."""
    g = guard(tiny_model, tiny_tokenizer, corruption=CorruptionConfig(dims=32, strength=5.0))
    seen: list[torch.Tensor] = []
    hook = g.embedding.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    try:
        out = g.generate([FORGET], max_new_tokens=5, do_sample=False, eos_token_id=None)
    finally:
        hook.remove()
    generated = out.token_ids[0]
    # our own prefill lookup, then one lookup per decoding step of the model's own tokens only
    assert [t.flatten().tolist() for t in seen[1:]] == [[tok] for tok in generated[:-1]]
    prompt = g.prompt_embeddings([FORGET], flags=[True], seed=None)[0]
    with torch.inference_mode():
        tail = g.embedding(torch.tensor([generated[:-1]]))[0]
        logits = tiny_model(inputs_embeds=torch.cat([prompt, tail])[None]).logits[0]
    assert logits[len(prompt) - 1 :].argmax(-1).tolist() == generated


def test_score_corrupts_continuation_of_flagged_rows_only(tiny_model, tiny_tokenizer):
    g = guard(tiny_model, tiny_tokenizer, selection=SelectionConfig("all"))
    captured = {}

    def grab(module, args, kwargs):
        captured["embeds"] = kwargs["inputs_embeds"].clone()
        captured["ids"] = None

    prompts, conts = [FORGET, RETAIN], [" In Santiago, Chile.", " Use sorted(list)."]
    handle = tiny_model.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        guarded = g.score(prompts, conts)
    finally:
        handle.remove()
    unguarded = g.score(prompts, conts, flags=[False, False])
    # the unguarded path is the plain model on the same padded batch
    seqs = [g._join(p, c) for p, c in zip(g._encode(prompts, True), g._encode(conts, False), strict=True)]
    ids, mask = g._pad_left(seqs)
    with torch.inference_mode():
        logits = tiny_model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0)).logits
        clean_embeds = g.embedding(ids)
    logprobs = logits[:, :-1].float().log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    for row, result in enumerate(unguarded):
        assert torch.equal(result, logprobs[row, -len(result) :])
    assert torch.equal(guarded[1], unguarded[1])
    assert not torch.allclose(guarded[0], unguarded[0])
    n_cont = len(guarded[0])
    diff = (captured["embeds"] != clean_embeds).any(-1)
    assert diff[0, -n_cont:].all(), "continuation positions of the flagged row must be corrupted"
    assert not diff[1].any()


def test_batch_equals_single_prompt_results(tiny_model, tiny_tokenizer):
    g = guard(tiny_model, tiny_tokenizer)
    batch_embeds = g.prompt_embeddings(PROMPTS, flags=[True, True, False])
    for i, prompt in enumerate(PROMPTS):
        alone = g.prompt_embeddings([prompt], flags=[i < 2])[0]
        assert torch.equal(alone, batch_embeds[i])
    batch = g.generate(PROMPTS, max_new_tokens=5, do_sample=False)
    for i, prompt in enumerate(PROMPTS):
        assert g.generate([prompt], max_new_tokens=5, do_sample=False).token_ids[0] == batch.token_ids[i]
    conts = [" Santiago.", " sorted()", " Paris."]
    scores = g.score(PROMPTS, conts)
    for i in range(3):
        torch.testing.assert_close(g.score([PROMPTS[i]], [conts[i]])[0], scores[i], rtol=1e-4, atol=1e-5)


def test_seed_reproduces_and_policies_behave(tiny_llama, tiny_tokenizer, monkeypatch):
    g = guard(tiny_llama, tiny_tokenizer)
    a = g.generate([FORGET], max_new_tokens=6, do_sample=True, seed=5)
    b = g.generate([FORGET], max_new_tokens=6, do_sample=True, seed=5)
    assert a.token_ids == b.token_ids
    assert not torch.equal(
        g.prompt_embeddings([FORGET], flags=[True], seed=1)[0], g.prompt_embeddings([FORGET], flags=[True], seed=2)[0]
    )

    monkeypatch.setenv("ECO_GUARD_KEY", "secret-one")
    keyed = guard(tiny_llama, tiny_tokenizer, seed_policy=SeedPolicy("keyed"))
    again = guard(tiny_llama, tiny_tokenizer, seed_policy=SeedPolicy("keyed"))
    assert torch.equal(
        keyed.prompt_embeddings([FORGET], flags=[True])[0], again.prompt_embeddings([FORGET], flags=[True])[0]
    )
    monkeypatch.setenv("ECO_GUARD_KEY", "secret-two")
    other = guard(tiny_llama, tiny_tokenizer, seed_policy=SeedPolicy("keyed"))
    assert not torch.equal(
        keyed.prompt_embeddings([FORGET], flags=[True])[0], other.prompt_embeddings([FORGET], flags=[True])[0]
    )

    fresh = guard(tiny_llama, tiny_tokenizer, seed_policy=SeedPolicy("fresh"))
    assert not torch.equal(
        fresh.prompt_embeddings([FORGET], flags=[True])[0], fresh.prompt_embeddings([FORGET], flags=[True])[0]
    )


def test_bad_arguments_are_named(tiny_llama, tiny_tokenizer):
    g = guard(tiny_llama, tiny_tokenizer)
    with pytest.raises(GuardConfigError, match="`flags`"):
        g.generate(PROMPTS, flags=[True], max_new_tokens=1)
    with pytest.raises(GuardConfigError, match="continuations"):
        g.score(PROMPTS, ["x"])
    with pytest.raises(GuardConfigError, match="`corruption.strength`"):
        CorruptionConfig(strength=float("inf"))
    with pytest.raises(GuardConfigError, match="unknown corruption method"):
        CorruptionConfig(method="nope")
    with pytest.raises(GuardConfigError, match="unknown token selection"):
        SelectionConfig(method="nope")


@pytest.mark.parametrize("method", ["rand_noise_first_n", "rand_noise_rand_n", "rand_noise_top_k", "shuffle"])
def test_one_corruption_call_for_the_batch_equals_one_per_row(tiny_llama, tiny_tokenizer, method):
    """An accelerator corrupts the whole batch in one call, a CPU row by row: the same embeddings,
    noise included, bit for bit, with padding and unflagged rows in the batch."""
    g = guard(tiny_llama, tiny_tokenizer, corruption=CorruptionConfig(method=method, dims=8, strength=3.0))
    prompts = [FORGET, "Hi", RETAIN, OTHER]
    seqs = g._encode(prompts, special=True)
    ids, _ = g._pad_left(seqs)
    out = {}
    for whole in (False, True):
        g.corrupt_whole_batch = whole
        with torch.inference_mode():
            out[whole] = g._embed(ids, seqs, [True, True, False, True], seed=3)
    assert torch.equal(out[False], out[True])
    assert torch.equal(out[True][2], g.embedding(ids[2]))  # the unflagged row is the model's own
