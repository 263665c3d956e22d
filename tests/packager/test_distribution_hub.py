"""push/pull through huggingface_hub against a LOCAL STAND-IN of the Hub API (tests/packager/hub_standin.py).

The real Hub cannot be reached from here. The stand-in is not the Hub: it implements only the
endpoints huggingface_hub 2.x calls for create_repo, create_branch, upload_folder and hf_hub_download,
so these tests check our use of the client library and our verification, not Hub behaviour.
"""

from __future__ import annotations

import json

import huggingface_hub.constants
import pytest
from click.testing import CliRunner
from huggingface_hub import metadata_load

from guards import load_bundle
from guards.base_model import hash_weights
from guards.errors import BundleError, EcoPackError
from guards.manifest import sha256_file, write_manifest
from packager.cli import cli
from tests.packager.conftest import assert_no_secrets
from tests.packager.hub_standin import HubStandIn


@pytest.fixture
def hub(monkeypatch, fake_secrets):
    with HubStandIn() as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        # huggingface_hub read these at import time, under the suite's HF_HUB_OFFLINE=1.
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
        yield standin


def test_push_without_base_points_the_card_at_it_and_pulls_back(artifact, hub, fake_secrets, tmp_path):
    runner = CliRunner()
    pushed = runner.invoke(cli, ["push", str(artifact), "--to", "hf://acme/demo-guard", "--private"])
    assert pushed.exit_code == 0, pushed.output
    assert hub.repos["acme/demo-guard"]["private"] is True
    files = hub.files("acme/demo-guard")
    assert not any(path.startswith("base/") for path in files)
    assert set(json.loads(files["manifest.json"])["files"]) == set(files) - {"manifest.json"}
    assert f"Bearer {fake_secrets['HF_TOKEN']}" in hub.authorizations

    dest = tmp_path / "pulled"
    pulled = runner.invoke(cli, ["pull", "hf://acme/demo-guard", "--dest", str(dest)])
    assert pulled.exit_code == 0, pulled.output
    assert metadata_load(dest / "README.md")["base_model"] == "example-org/tiny-llama"
    assert sha256_file(dest / "guard" / "eco_guard.json") == sha256_file(artifact / "guard" / "eco_guard.json")
    assert not (dest / "base").exists()
    assert_no_secrets(list(fake_secrets.values()), dest, pushed.output, pulled.output)
    assert all(fake_secrets["HF_TOKEN"].encode() not in content for content in files.values())


def test_push_with_base_to_a_revision_round_trips_the_weights(artifact, hub, tmp_path):
    result = CliRunner().invoke(cli, ["push", str(artifact), "--to", "hf://acme/demo-guard@v1", "--include-base"])
    assert result.exit_code == 0, result.output
    assert "base/model.safetensors" in hub.files("acme/demo-guard", "v1")
    assert hub.files("acme/demo-guard", "main") == {}  # the branch got the commit, main did not

    dest = tmp_path / "pulled"
    result = CliRunner().invoke(cli, ["pull", "hf://acme/demo-guard@v1", "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    bundle = load_bundle(dest / "guard")
    assert hash_weights(dest / "base") == bundle.config.base_model.weights_sha256


def test_tampered_hub_file_is_refused(artifact, hub, tmp_path):
    assert CliRunner().invoke(cli, ["push", str(artifact), "--to", "hf://acme/demo-guard"]).exit_code == 0
    hub.tamper("acme/demo-guard", "guard/classifier/config.json")
    dest = tmp_path / "out" / "pulled"
    result = CliRunner().invoke(cli, ["pull", "hf://acme/demo-guard", "--dest", str(dest), "--attempts", "2"])
    assert isinstance(result.exception, BundleError)
    assert "still corrupt after 2 download attempts" in str(result.exception)
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_local_only_base_without_a_name_asks_for_include_base(artifact, hub):
    card = artifact / "README.md"
    card.write_text(card.read_text().replace("base_model: example-org/tiny-llama\n", ""))
    write_manifest(artifact)
    result = CliRunner().invoke(cli, ["push", str(artifact), "--to", "hf://acme/demo-guard"])
    assert isinstance(result.exception, EcoPackError)
    assert "--include-base" in str(result.exception)
    assert hub.files("acme/demo-guard") == {}


def test_unreachable_repo_names_the_fix(hub, tmp_path):
    result = CliRunner().invoke(cli, ["pull", "hf://acme/missing", "--dest", str(tmp_path / "x")])
    assert isinstance(result.exception, EcoPackError)
    assert "HF_TOKEN" in str(result.exception) and not (tmp_path / "x").exists()
