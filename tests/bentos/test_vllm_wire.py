"""The flagged prompt's wire format for vLLM: base64 of a ``torch.save``d tensor, spliced into the JSON body."""

from __future__ import annotations

import base64
import io
import json

import pytest
import torch

from bentos.vllm_backend import completion_body, encode_embeddings


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_embeddings_load_back_as_vllm_reads_them(dtype):
    embeddings = torch.randn(7, 16).to(dtype)
    wire = encode_embeddings(embeddings[:, :12])  # a view, not contiguous: sent dense
    loaded = torch.load(io.BytesIO(base64.b64decode(wire, validate=True)), weights_only=True)
    assert loaded.dtype == dtype and torch.equal(loaded, embeddings[:, :12])


@pytest.mark.parametrize("fields", [
    {"model": "eco-base", "max_tokens": 8, "temperature": 0.0, "seed": None, "stop": ["\n", 'say "hi"']},
    {},
])
def test_the_body_is_the_fields_and_the_embeddings_as_json_would_write_them(fields):
    wire = encode_embeddings(torch.randn(5, 8))
    body = json.loads(completion_body(fields, wire))
    assert body == {**fields, "prompt_embeds": wire.decode()}
