"""`build_bento` works offline and targets a CUDA image."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from bentos.build import build_bento
from tests.conftest import REPO


def test_bento_builds_offline_with_artifact_and_cuda_image(tiny_artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "True")
    monkeypatch.setenv("PATH", f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    tag = build_bento(tiny_artifact.path, version="0.1.0")
    assert tag == "eco_guard:0.1.0"
    import bentoml

    bento = Path(bentoml.get(tag).path)  # BentoML fixes its store's home at its first use in a process
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM nvidia/cuda:" in dockerfile
    spec = yaml.safe_load((bento / "bento.yaml").read_text())
    assert spec["labels"]["eco-guard"] == "tiny-guard"
    src = bento / "src"
    assert (src / "bentos" / "service.py").is_file() and (src / "guards" / "guarded_model.py").is_file()
    copied = json.loads((src / "artifact" / "manifest.json").read_text())["files"]
    original = json.loads((tiny_artifact.path / "manifest.json").read_text())["files"]
    assert copied == original  # the same files, byte for byte
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "transformers" in requirements and "packager" not in requirements


def test_vllm_bento_holds_vllm_in_its_own_environment(tiny_artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "True")
    monkeypatch.setenv("PATH", f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    tag = build_bento(tiny_artifact.path, version="0.1.0-vllm", engine="vllm")
    import bentoml

    bento = Path(bentoml.get(tag).path)
    spec = yaml.safe_load((bento / "bento.yaml").read_text())
    envs = {e["name"]: e["value"] for e in spec["envs"]}
    assert envs == {"ECO_ENGINE": "vllm", "ECO_VLLM_PYTHON": "/opt/vllm/bin/python"}
    assert spec["labels"]["engine"] == "vllm"
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert "setup_script" in dockerfile
    setup = (bento / "env" / "docker" / "setup_script").read_text()
    assert "/opt/vllm" in setup and "vllm==" in setup
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "vllm" not in requirements  # not in the guard's environment: its pins clash with ours


def test_the_bento_installs_every_library_the_serving_code_imports():
    """Each third-party module that guards/ or bentos/ imports (lazily too) comes from a package the
    bentofile lists, or bentoml, or what those depend on; an s3:// artifact needs boto3 in the image."""
    import ast
    import sys
    from importlib.metadata import PackageNotFoundError, packages_distributions, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    modules = set()
    for path in [*REPO.joinpath("guards").glob("*.py"), *REPO.joinpath("bentos").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules.add(node.module.split(".")[0])
    modules -= {*sys.stdlib_module_names, "__future__", "guards", "bentos"}
    listed = yaml.safe_load((REPO / "bentos" / "bentofile.yaml").read_text())["python"]["packages"]
    provided, queue = set(), [Requirement(spec).name for spec in [*listed, "bentoml"]]
    while queue:  # the listed packages and everything they install
        name = canonicalize_name(queue.pop())
        if name not in provided:
            provided.add(name)
            try:
                queue += [Requirement(r).name for r in requires(name) or [] if "extra ==" not in r]
            except PackageNotFoundError:  # a dependency for another platform
                pass
    distributions = packages_distributions()
    missing = {m for m in modules if not {canonicalize_name(d) for d in distributions.get(m, [])} & provided}
    assert "boto3" in modules and "lazy_loader" in modules  # the walk sees lazy imports
    assert missing == set(), f"bentos/bentofile.yaml lacks the packages of {sorted(missing)}"
