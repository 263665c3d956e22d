"""Where corruption noise comes from: keyed, fixed or fresh.

Every policy reduces to an HMAC key. A flagged sequence's noise generator is seeded with
HMAC-SHA256(key, its token ids), so a sequence always gets the same noise under one key and
re-asking a question cannot average the noise away. ``keyed`` takes a secret key from the
environment (never written to an artifact), ``fixed`` derives the key from a public seed for
benchmarks, and ``fresh`` draws a new key per call.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from guards.config import SeedPolicy

log = logging.getLogger(__name__)


def fixed_key(seed: int) -> bytes:
    return f"eco-pack-fixed-seed:{int(seed)}".encode()


class NoiseKeys:
    """Resolves a SeedPolicy to keys and per-sequence generators."""

    def __init__(self, policy: SeedPolicy) -> None:
        self.policy = policy
        self._key: bytes | None = None  # resolved on first use: an unguarded call needs no key

    @staticmethod
    def _resolve_key(policy: SeedPolicy) -> bytes | None:
        if policy.kind == "fixed":
            return fixed_key(policy.seed or 0)
        if policy.kind == "fresh":
            return None
        secret = os.environ.get(policy.key_env)
        key_file = os.environ.get(f"{policy.key_env}_FILE")
        if secret:
            return secret.encode()
        if key_file:
            return Path(key_file).read_bytes().strip()
        log.warning(
            "no guard key in $%s or $%s_FILE: using a random key for this process; "
            "replicas will corrupt the same prompt differently",
            policy.key_env,
            policy.key_env,
        )
        return secrets.token_bytes(32)

    def call_key(self, seed: int | None) -> bytes:
        """The key for one call: an explicit seed overrides the policy, as ``fixed`` would."""
        if seed is not None:
            return fixed_key(seed)
        if self.policy.kind == "fresh":
            return secrets.token_bytes(32)
        if self._key is None:
            self._key = self._resolve_key(self.policy)
        return self._key

    @staticmethod
    def generator(key: bytes, token_ids: Sequence[int], device: torch.device) -> torch.Generator:
        payload = np.asarray(token_ids, dtype="<i8").tobytes()
        digest = hmac.new(key, payload, hashlib.sha256).digest()
        seed = int.from_bytes(digest[:8], "little") & (2**63 - 1)
        return torch.Generator(device=device).manual_seed(seed)
