"""Bad input gets a 4xx naming the field; a flood of it leaves the server healthy."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

LONG = "word " * 400  # more tokens than the tiny model's 256-token context window
USER = [{"role": "user", "content": "Where was he born?"}]

# (path, raw body, field the error must name)
CASES = [
    ("/v1/chat/completions", b'{"messages": [', "body"),
    ("/v1/completions", b"not json at all", "body"),
    ("/v1/chat/completions", {"max_tokens": 4}, "messages"),
    ("/v1/completions", {"max_tokens": 4}, "prompt"),
    ("/v1/chat/completions", {"messages": "hello"}, "messages"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ("/v1/chat/completions", {"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ("/v1/chat/completions", {"messages": [{"role": "system", "content": "hi"}]}, "messages"),
    ("/v1/chat/completions", {"messages": USER, "max_tokens": "8"}, "max_tokens"),
    ("/v1/chat/completions", {"messages": USER, "temperature": "hot"}, "temperature"),
    ("/v1/chat/completions", {"messages": USER, "temperature": 3}, "temperature"),
    ("/v1/chat/completions", {"messages": USER, "top_p": 0}, "top_p"),
    ("/v1/chat/completions", {"messages": USER, "stream": "yes"}, "stream"),
    ("/v1/chat/completions", {"messages": USER, "seed": 1.5}, "seed"),
    ("/v1/chat/completions", {"messages": USER, "stop": 7}, "stop"),
    ("/v1/chat/completions", {"messages": USER, "n": 2}, "n"),
    ("/v1/completions", {"prompt": ["a", "b"]}, "prompt"),
    ("/v1/completions", {"prompt": [1, 2, 3]}, "prompt"),  # token ids would reach the model unread
    ("/v1/completions", {"prompt": "hi", "prompt_embeds": "AAAA"}, "prompt_embeds"),  # raw embeddings too
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "prompt_token_ids": [1]},
     "prompt_token_ids"),
    ("/v1/chat/completions", {"messages": USER, "max_tokens": 65}, "max_tokens"),
    ("/v1/completions", {"prompt": "hi", "max_tokens": 10_000}, "max_tokens"),
    ("/v1/completions", {"prompt": LONG}, "prompt"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": LONG}]}, "messages"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "  \n"}]}, "messages[0].content"),
    ("/v1/completions", {"prompt": ""}, "prompt"),
    ("/v1/completions", {"prompt": "hi", "model": "gpt-4"}, "model"),
]


def _post(url: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(("path", "body", "field"), CASES, ids=[f"{i}-{c[2]}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_4xx_naming_the_field(server, path, body, field):
    status, payload = _post(server.url + path, body)
    assert 400 <= status < 500
    error = payload["error"]
    assert error["param"] == field
    assert (f"`{field}`" in error["message"]) or (field == "body" and "JSON" in error["message"])
    assert error["type"] == "invalid_request_error"


def test_official_client_sees_a_bad_request(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.chat.completions.create(model="tiny-guard", messages=USER, max_tokens=1000)


def test_a_hundred_bad_requests_then_a_good_one(server):
    statuses = [_post(server.url + path, body)[0] for path, body, _ in (CASES * 4)[:100]]
    assert all(400 <= s < 500 for s in statuses)
    status, payload = _post(server.url + "/v1/chat/completions", {"messages": USER, "max_tokens": 4})
    assert status == 200 and payload["choices"][0]["message"]["role"] == "assistant"
