"""Render ``infra/`` templates for an artifact and apply them (kubectl) or hand them to BentoCloud.

Templates are the single source of the manifests; nobody edits rendered output. Every value is
inserted with ``tojson`` (a JSON string is valid YAML), so a name can never break the YAML. Secrets
are only ever *referenced* by name (``secretRef`` / ``secretKeyRef`` / BentoCloud secrets).
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bentos.settings import ENGINES
from bentos.vllm_process import check_vllm_args
from guards.bundle import load_bundle
from guards.errors import EcoPackError
from packager.distribution.artifact import Artifact

INFRA = Path(__file__).resolve().parents[2] / "infra"
POD_ARTIFACT = "/artifact/current"  # where the init container puts the artifact (infra/k8s/deployment.yaml.j2)
# a Kubernetes resource quantity above 0: 2, 0.5, 500m, 16Gi, 1e3 (CPU or memory)
QUANTITY = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE]\d+|[mkMGTPE]|[KMGTPE]i)?")
TARGETS = {"k8s": ("k8s/deployment.yaml.j2", "k8s/service.yaml.j2", "k8s/hpa.yaml.j2", "k8s/pdb.yaml.j2"),
           "bentocloud": ("bentocloud/deployment.yaml.j2",)}


@dataclass(frozen=True)
class DeployConfig:
    """What the templates need; every field has a production-sane default except the two URLs."""

    name: str                                   # Kubernetes object / BentoCloud deployment name
    version: str                                # artifact version, recorded as a label
    image: str                                  # the bento's container image (`bentoml containerize`)
    artifact_url: str                           # hf://... or s3://..., fetched by the init container
    namespace: str = "default"
    gpus: int = 1                               # nvidia.com/gpu limit per pod
    gpu_node_selector: dict[str, str] = field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    cpu: str = "4"                              # requests
    memory: str = "16Gi"
    min_replicas: int = 1
    max_replicas: int = 3
    target_cpu_utilization: int = 70           # HPA target, percent of the CPU request
    port: int = 3000                            # BentoML's HTTP port
    secret_name: str = "eco-pack-credentials"  # holds HF_TOKEN / AWS_* / ECO_GUARD_KEY; never rendered
    config_map: str = "eco-pack-config"        # optional non-secret settings (e.g. AWS_ENDPOINT_URL)
    run_as_user: int = 1034                     # the `bentoml` user of images built by `bentoml build`
    service_name: str = "eco_guard"             # the @bentoml.service name (bentos/service.py), for BentoCloud
    instance_type: str = "gpu.l4.1"             # BentoCloud instance type
    cluster: str | None = None                  # BentoCloud cluster (None: the account default)
    bento: str | None = None                    # BentoCloud bento tag (None: "<name>:<version>")
    engine: str = "hf"                          # hf: the guard generates; vllm: a vLLM container beside it
    vllm_image: str = "vllm/vllm-openai:v0.32.0"  # k8s, engine vllm: the GPU container (CUDA vllm)
    vllm_model: str = ""                        # engine vllm: what vLLM loads (config_for: the artifact's base)
    vllm_revision: str | None = None            # ... its Hub revision, for a Hub base model
    vllm_port: int = 8000                       # engine vllm: on the pod's loopback only, in no Service
    vllm_args: tuple[str, ...] = ()             # more vLLM flags, e.g. ("--max-model-len", "4096")
    front_cpu: str = "2"                        # engine vllm: the guard front's requests (tokenizer, embeddings,
    front_memory: str = "4Gi"                   # classifier); `cpu` and `memory` go to the vLLM container

    def __post_init__(self) -> None:
        for name in ("cpu", "memory", "front_cpu", "front_memory"):
            value = getattr(self, name)
            match = QUANTITY.fullmatch(value)
            if not match or float(match.group(1)) <= 0:
                raise ValueError(f"`{name}` {value!r} is not a Kubernetes quantity above 0 (e.g. 2, 500m, 16Gi)")
        if self.gpus < 0:
            raise ValueError("`gpus` must be >= 0")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError("`min_replicas` must be >= 1 and <= `max_replicas`")
        if not self.artifact_url.startswith(("hf://", "s3://")):
            raise ValueError(f"`artifact_url` {self.artifact_url!r} must be hf://... or s3://...")
        if self.engine not in ENGINES:
            raise ValueError(f"`engine` {self.engine!r} must be one of {', '.join(ENGINES)}")
        if self.engine == "vllm":
            if not self.vllm_model:
                raise ValueError("`vllm_model` is empty: an --engine vllm deployment needs the base model to load")
            if self.vllm_port == self.port:
                raise ValueError(f"`vllm_port` {self.vllm_port} is the guard's own port")
            check_vllm_args(self.vllm_args)


def config_for(artifact: Artifact, *, image: str, artifact_url: str, **overrides) -> DeployConfig:
    """A DeployConfig named after the artifact (Kubernetes names are lowercase DNS labels).

    With ``engine="vllm"`` vLLM loads the artifact's base model: its folder in the pod's fetched
    artifact, or the Hub id and revision the bundle references.
    """
    name = overrides.pop("name", None) or artifact.name.lower().replace("_", "-").replace(".", "-")
    if overrides.get("engine") == "vllm" and "vllm_model" not in overrides:
        ref = load_bundle(artifact.path / "guard", hash_files=False).config.base_model
        if ref.source == "local":
            overrides["vllm_model"] = posixpath.normpath(posixpath.join(POD_ARTIFACT, "guard", ref.name_or_path))
        else:
            overrides.update(vllm_model=ref.name_or_path, vllm_revision=ref.revision)
    return DeployConfig(name=name, version=artifact.version, image=image, artifact_url=artifact_url, **overrides)


def render(target: str, config: DeployConfig, templates: Path = INFRA) -> str:
    """The manifests for ``target`` as one multi-document YAML string."""
    import jinja2

    if target not in TARGETS:
        raise ValueError(f"`--target {target}` is unknown; choose one of {', '.join(TARGETS)}")
    if not (templates / TARGETS[target][0]).is_file():
        raise EcoPackError(f"templates not found under {templates}; pass --templates PATH_TO/infra")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    env.filters["shlex_join"] = shlex.join
    docs = [env.get_template(name).render(**asdict(config)).strip() for name in TARGETS[target]]
    return "---\n" + "\n---\n".join(docs) + "\n"


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, **kwargs)


def apply_k8s(manifests: str, kubectl: str = "kubectl") -> str:
    """``kubectl apply -f -`` against the current context; fails clearly without kubectl or a context."""
    binary = shutil.which(kubectl)
    if binary is None:
        raise EcoPackError(f"`{kubectl}` was not found on PATH; install kubectl, or use --dry-run "
                           "to print the manifests")
    context = _run([binary, "config", "current-context"])
    if context.returncode != 0 or not context.stdout.strip():
        where = os.environ.get("KUBECONFIG", "~/.kube/config")
        raise EcoPackError(f"kubectl has no current context (kubeconfig: {where}); run "
                           "`kubectl config use-context NAME`, or use --dry-run to print the manifests")
    result = _run([binary, "apply", "-f", "-"], input=manifests)
    if result.returncode != 0:
        raise EcoPackError(f"kubectl apply failed in context `{context.stdout.strip()}`: {result.stderr.strip()}")
    return result.stdout


def apply_bentocloud(config_yaml: str, bentoml: str = "bentoml") -> str:
    """``bentoml deployment apply -f`` (create or update); login comes from `bentoml cloud login`."""
    binary = shutil.which(bentoml)
    if binary is None:
        raise EcoPackError("`bentoml` was not found on PATH; install eco-pack[serve], or use --dry-run")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="eco-pack-bentocloud-") as fh:
        fh.write(config_yaml)
        fh.flush()
        result = _run([binary, "deployment", "apply", "-f", fh.name])
    if result.returncode != 0:
        raise EcoPackError(f"bentoml deployment apply failed (run `bentoml cloud login` first?): "
                           f"{result.stderr.strip()[-500:]}")
    return result.stdout
