"""The real server, driven by the official `openai` client."""

from __future__ import annotations

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from guards.bundle import load_bundle

MAX = 12


@pytest.fixture(scope="session")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture(scope="session")
def model_id(client) -> str:
    return client.models.list().data[0].id


@pytest.fixture(scope="session")
def reference(tiny_artifact):
    """The bundle's own GuardedModel, loaded in the test process: what the server must reproduce."""
    return load_bundle(tiny_artifact.path / "guard").guarded_model("cpu")


def _chat(client, model_id, question: str, **options):
    raw = client.chat.completions.with_raw_response.create(
        model=model_id, messages=[{"role": "user", "content": question}], **options
    )
    return raw.parse(), raw.headers.get("x-eco-guard")


def _local(reference, question: str, *, flags=None, seed=None, **kwargs) -> str:
    result = reference.generate([reference.format(question)], queries=[question], flags=flags, seed=seed, **kwargs)
    return result.texts[0]


def test_models_and_health(server, client, model_id):
    assert model_id == "tiny-guard"
    for path in ("/readyz", "/livez"):
        with urllib.request.urlopen(server.url + path, timeout=5) as response:
            assert response.status == 200


def test_forget_prompt_is_guarded_and_matches_bundle_generate(client, model_id, reference, tiny_artifact):
    question = tiny_artifact.forget_prompt
    response, header = _chat(client, model_id, question, max_tokens=MAX, temperature=0, seed=7)
    assert header.startswith("flagged=1")
    assert reference.decide([question])[0].flagged
    guarded = _local(reference, question, seed=7, max_new_tokens=MAX, do_sample=False)
    unguarded = _local(reference, question, flags=[False], seed=7, max_new_tokens=MAX, do_sample=False)
    assert response.choices[0].message.content == guarded
    assert guarded != unguarded


def test_seeded_sampling_reproduces_bundle_generate(client, model_id, reference, tiny_artifact):
    question = tiny_artifact.forget_prompt
    options = dict(max_tokens=MAX, temperature=0.9, top_p=0.95, seed=11)
    first, _ = _chat(client, model_id, question, **options)
    second, _ = _chat(client, model_id, question, **options)
    expected = _local(reference, question, seed=11, max_new_tokens=MAX, do_sample=True, temperature=0.9,
                      top_p=0.95, top_k=0)
    assert first.choices[0].message.content == second.choices[0].message.content == expected


def test_retain_prompt_equals_unguarded_model(client, model_id, reference, tiny_artifact):
    question = tiny_artifact.retain_prompt
    response, header = _chat(client, model_id, question, max_tokens=MAX, temperature=0, seed=3)
    assert header.startswith("flagged=0")
    unguarded = _local(reference, question, flags=[False], seed=3, max_new_tokens=MAX, do_sample=False)
    assert response.choices[0].message.content == unguarded
    assert response.usage.completion_tokens <= MAX


def test_completions_use_the_raw_prompt(client, model_id, reference, tiny_artifact):
    prompt = tiny_artifact.forget_prompt
    response = client.completions.create(model=model_id, prompt=prompt, max_tokens=MAX, temperature=0, seed=5)
    expected = reference.generate([prompt], seed=5, max_new_tokens=MAX, do_sample=False).texts[0]
    assert response.choices[0].text == expected
    assert response.choices[0].finish_reason in ("stop", "length")


def test_streaming_matches_non_streaming(client, model_id, tiny_artifact):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": tiny_artifact.retain_prompt}]
    options = dict(model=model_id, messages=messages, max_tokens=MAX, temperature=0)
    full = client.chat.completions.create(**options).choices[0].message.content
    chunks = list(client.chat.completions.create(stream=True, **options))
    assert len(chunks) >= 3  # role, content, finish
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == full
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    text = client.completions.create(model=model_id, prompt="Who wrote", max_tokens=MAX, temperature=0)
    streamed = client.completions.create(model=model_id, prompt="Who wrote", max_tokens=MAX, temperature=0,
                                         stream=True)
    assert "".join(c.choices[0].text for c in streamed) == text.choices[0].text


@pytest.mark.parametrize("stream", [False, True])
def test_stop_cuts_the_text(client, model_id, stream):
    options = dict(model=model_id, prompt="Where was", max_tokens=MAX, temperature=0)
    full = client.completions.create(**options).choices[0].text
    visible = full.strip()
    assert len(visible) >= 4, full
    stop = visible[len(visible) // 2 : len(visible) // 2 + 2]
    expected = full[: full.find(stop)]
    if stream:
        chunks = list(client.completions.create(stop=[stop, "never-appears"], stream=True, **options))
        text, finish = "".join(c.choices[0].text for c in chunks), chunks[-1].choices[0].finish_reason
    else:
        choice = client.completions.create(stop=stop, **options).choices[0]
        text, finish = choice.text, choice.finish_reason
    assert text == expected
    assert finish == "stop"


def test_max_tokens_is_honoured(client, model_id):
    response = client.completions.create(model=model_id, prompt="Tell me", max_tokens=3, temperature=0)
    assert response.usage.completion_tokens <= 3
    if response.usage.completion_tokens == 3:
        assert response.choices[0].finish_reason == "length"


def test_concurrent_requests_are_batched_and_unchanged(server, client, model_id, tiny_artifact):
    questions = [tiny_artifact.forget_prompt, tiny_artifact.retain_prompt] * 4
    alone = [_chat(client, model_id, q, max_tokens=MAX, temperature=0)[0].choices[0].message.content
             for q in questions[:2]]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(
            lambda q: _chat(client, model_id, q, max_tokens=MAX, temperature=0)[0].choices[0].message.content,
            questions,
        ))
    assert together == alone * 4
    total, count = _batched_requests(server)
    assert total > count  # at least one generate call served several requests


def test_requests_of_different_lengths_share_a_batch_and_each_keeps_its_own(server, client, model_id, tiny_artifact):
    questions = [tiny_artifact.forget_prompt, tiny_artifact.retain_prompt]
    lengths = list(range(MAX - 7, MAX + 1))  # eight requests, no two of the same length
    jobs = [(questions[i % 2], n) for i, n in enumerate(lengths)]

    def ask(job):
        response = _chat(client, model_id, job[0], max_tokens=job[1], temperature=0)[0]
        return response.choices[0].message.content, response.usage.completion_tokens

    alone = {job: ask(job) for job in jobs}
    before = _batched_requests(server)
    with ThreadPoolExecutor(len(jobs)) as pool:
        together = list(pool.map(ask, jobs))
    assert together == [alone[job] for job in jobs]  # each request's text and length, as if alone
    assert all(tokens <= n for (_, tokens), n in zip(together, lengths, strict=True))
    after = _batched_requests(server)
    requests, calls = after[0] - before[0], after[1] - before[1]
    assert requests == len(jobs) and calls < requests  # lengths apart, yet some shared a generate call


def _batched_requests(server) -> tuple[float, float]:
    """(requests, generate calls) the hf engine has served so far."""
    metrics = _metrics(server)
    count = float(re.search(r'eco_guard_batch_size_count\{stage="generate"\} (\S+)', metrics).group(1))
    total = float(re.search(r'eco_guard_batch_size_sum\{stage="generate"\} (\S+)', metrics).group(1))
    return total, count


def _metrics(server) -> str:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        return response.read().decode()


def test_metrics_show_the_guard_counters(server, client, model_id, tiny_artifact):
    _chat(client, model_id, tiny_artifact.forget_prompt, max_tokens=2, temperature=0)
    metrics = _metrics(server)
    flagged = re.search(r'eco_guard_flagged_total\{endpoint="chat"\} (\S+)', metrics)
    requests = re.search(r'eco_guard_requests_total\{endpoint="chat"\} (\S+)', metrics)
    assert flagged and float(flagged.group(1)) >= 1
    assert requests and float(requests.group(1)) > float(flagged.group(1))
    for name in ("eco_guard_tokens_generated_total", "eco_guard_classification_seconds_bucket",
                 "eco_guard_generation_seconds_bucket"):
        assert name in metrics


def test_server_log_has_no_prompt_text(server, client, model_id):
    secret = "Zanzibar quokka marmalade"
    _chat(client, model_id, secret, max_tokens=2, temperature=0)
    client.completions.create(model=model_id, prompt=secret + " again", max_tokens=2, stream=True).close()
    log = server.log.read_text()
    assert "path=/v1/chat/completions" in log  # the access log is being captured
    assert secret not in log and "quokka" not in log


def test_server_log_is_lines_without_progress_bars(server):
    """A server's log is read line by line (kubectl logs): no library's progress bars, while loading the model."""
    log = server.log.read_text()
    assert "loaded guard" in log  # the start-up was captured
    assert "it/s]" not in log and "\r" not in log


@pytest.mark.parametrize("role", ["system", "earlier turn"])
def test_a_forget_mention_outside_the_last_message_is_flagged(client, model_id, reference, tiny_artifact, role):
    """The guard reads the whole conversation: the in-scope text sits in the system message or in an
    earlier user turn, and the last message alone would pass."""
    last = tiny_artifact.retain_prompt
    assert not reference.decide([last])[0].flagged
    if role == "system":
        messages = [{"role": "system", "content": tiny_artifact.forget_prompt}, {"role": "user", "content": last}]
    else:
        messages = [{"role": "user", "content": tiny_artifact.forget_prompt},
                    {"role": "assistant", "content": "Noted."}, {"role": "user", "content": last}]  # fmt: skip
    raw = client.chat.completions.with_raw_response.create(model=model_id, messages=messages, max_tokens=4)
    assert raw.headers.get("x-eco-guard").startswith("flagged=1")
    wrapped = f"Please be concise. {tiny_artifact.forget_prompt} Thanks a lot!"  # a benign wrapper
    completion = client.completions.with_raw_response.create(model=model_id, prompt=wrapped, max_tokens=4)
    assert completion.headers.get("x-eco-guard").startswith("flagged=1")
