"""eco-pack deploy: rendered manifests validate against Kubernetes schemas (strict), reference secrets
only by name, and applying fails clearly without kubectl or a current context."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from guards.errors import EcoPackError
from packager.cli import cli
from packager.distribution import deploy
from packager.distribution.artifact import read_artifact
from tests.packager.conftest import assert_no_secrets

K8S_VERSION = "1.33.0"  # current (and oldest shipped) schema set of kubernetes-validate, checked offline
IMAGE = "ghcr.io/acme/demo-guard:0.1.0"
URL = "s3://models/guards/demo-guard/0.1.0"


def render_k8s(artifact: Path, *extra: str) -> tuple[list[dict], str]:
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--image", IMAGE, "--artifact-url", URL,
                                      "--dry-run", *extra])
    assert result.exit_code == 0, result.output
    return [doc for doc in yaml.safe_load_all(result.output) if doc], result.output


@pytest.mark.parametrize("version", [K8S_VERSION, kubernetes_validate.utils.latest_version()])
def test_manifests_validate_strictly(artifact, version):
    docs, _ = render_k8s(artifact)
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_deployment_is_gpu_hardened_and_fetches_the_artifact(artifact):
    docs, _ = render_k8s(artifact, "--gpus", "2", "--replicas", "2", "5")
    deployment, _, hpa, pdb = docs
    pod = deployment["spec"]["template"]["spec"]
    server, init = pod["containers"][0], pod["initContainers"][0]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert server["resources"]["requests"]["cpu"] and server["resources"]["requests"]["memory"]
    assert pod["nodeSelector"] and pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert server["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in (server, init):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/artifact", "/tmp", "/cache"}
    assert URL in init["command"] and init["image"] == server["image"] == IMAGE
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_secrets_are_referenced_never_inlined(artifact, fake_secrets, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "FAKEawsSecretNeverWritten55")
    docs, text = render_k8s(artifact)
    assert_no_secrets([*fake_secrets.values(), "FAKEawsSecretNeverWritten55"], text)
    assert not any(doc["kind"] == "Secret" for doc in docs)
    pod = docs[0]["spec"]["template"]["spec"]
    for container in pod["containers"] + pod["initContainers"]:
        for env in container.get("env", []):
            assert "value" in env or "secretKeyRef" in env["valueFrom"]
            if "value" in env:
                assert env["name"] not in ("HF_TOKEN", "ECO_GUARD_KEY", "AWS_SECRET_ACCESS_KEY")
    assert {"secretRef": {"name": "eco-pack-credentials", "optional": True}} in pod["initContainers"][0]["envFrom"]


def test_bentocloud_config_has_the_documented_shape(artifact, fake_secrets):
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--target", "bentocloud", "--artifact-url", URL,
                                      "--replicas", "1", "4", "--dry-run"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.output)
    assert config["name"] == "demo-guard" and config["bento"] == "demo-guard:0.1.0"
    assert config["secrets"] == ["eco-pack-credentials"]
    assert {"name": "ECO_ARTIFACT_URL", "value": URL} in config["envs"]
    (service,) = config["services"].values()
    assert service["scaling"] == {"min_replicas": 1, "max_replicas": 4} and service["instance_type"]
    assert_no_secrets(list(fake_secrets.values()), result.output)


def test_values_cannot_break_the_yaml(artifact):
    config = deploy.config_for(read_artifact(artifact), image='evil"\nkind: Secret', artifact_url=URL)
    docs = list(yaml.safe_load_all(deploy.render("k8s", config)))
    assert docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] == 'evil"\nkind: Secret'


def test_no_current_context_fails_clearly(artifact, tmp_path, monkeypatch):
    empty = tmp_path / "kubeconfig"
    empty.write_text("")
    monkeypatch.setenv("KUBECONFIG", str(empty))
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--image", IMAGE, "--artifact-url", URL])
    assert isinstance(result.exception, EcoPackError), result.output
    assert "no current context" in str(result.exception) and "--dry-run" in str(result.exception)


def test_missing_kubectl_fails_clearly(artifact, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no kubectl anywhere
    with pytest.raises(EcoPackError, match="`kubectl` was not found"):
        deploy.apply_k8s("---\n")
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--image", IMAGE, "--artifact-url", URL])
    assert "kubectl" in str(result.exception)


def test_bad_settings_are_usage_errors(artifact):
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--image", IMAGE, "--artifact-url", "ftp://x",
                                      "--dry-run"])
    assert result.exit_code == 2 and "artifact_url" in result.output
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--artifact-url", URL, "--dry-run"])
    assert result.exit_code == 2 and "--image" in result.output


@pytest.mark.parametrize("version", [K8S_VERSION, kubernetes_validate.utils.latest_version()])
def test_vllm_pod_validates_strictly_and_keeps_vllm_on_loopback(artifact, version):
    docs, _ = render_k8s(artifact, "--engine", "vllm", "--vllm-arg=--max-model-len=4096")
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    deployment, service, _, _ = docs
    guard, vllm = deployment["spec"]["template"]["spec"]["containers"]
    assert (guard["name"], vllm["name"]) == ("guard", "vllm")
    args = vllm["args"]
    assert args[args.index("--host") + 1] == "127.0.0.1" and "--enable-prompt-embeds" in args
    assert args[args.index("--model") + 1] == "/artifact/current/base"  # the fetched artifact's own base weights
    assert args[-1] == "--max-model-len=4096"
    port = args[args.index("--port") + 1]
    # no containerPort, no Service port and no kubelet HTTP probe reach vLLM: only the guard front does
    assert "ports" not in vllm and all("httpGet" not in vllm[p] for p in ("startupProbe", "livenessProbe"))
    assert f"127.0.0.1:{port}/health" in vllm["startupProbe"]["exec"]["command"][-1]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    assert [p["name"] for p in guard["ports"]] == ["http"] and guard["ports"][0]["containerPort"] != int(port)
    env = {e["name"]: e.get("value") for e in guard["env"]}
    assert env["ECO_ENGINE"] == "vllm" and env["ECO_VLLM_URL"] == f"http://127.0.0.1:{port}"
    # the GPU goes to vLLM; the front holds the tokenizer, the embedding matrix and the classifier
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 1 and "nvidia.com/gpu" not in guard["resources"]["limits"]
    assert vllm["securityContext"]["readOnlyRootFilesystem"] is True
    vllm_env = {e["name"]: e.get("value") for e in vllm["env"]}
    assert vllm_env["TQDM_DISABLE"] == "1"  # its log is read line by line: no progress bars


def test_vllm_flags_that_would_expose_it_are_refused(artifact):
    for flag in ("--vllm-arg=--host=0.0.0.0", "--vllm-arg=--port=3000"):
        result = CliRunner().invoke(cli, ["deploy", str(artifact), "--engine", "vllm", "--image", IMAGE,
                                          "--artifact-url", URL, "--dry-run", flag])
        assert result.exit_code == 2 and "may not set" in result.output


def test_bentocloud_vllm_config_starts_the_bentos_own_vllm(artifact):
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--target", "bentocloud", "--artifact-url", URL,
                                      "--engine", "vllm", "--vllm-arg", "--max-model-len", "--vllm-arg", "4096",
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    envs = {e["name"]: e["value"] for e in yaml.safe_load(result.output)["envs"]}
    assert envs["ECO_ENGINE"] == "vllm" and envs["ECO_VLLM_PYTHON"] == "/opt/vllm/bin/python"
    assert envs["ECO_VLLM_ARGS"] == "--max-model-len 4096" and "ECO_VLLM_URL" not in envs


@pytest.mark.parametrize("version", [K8S_VERSION, kubernetes_validate.utils.latest_version()])
def test_each_container_is_sized_by_its_options(artifact, version):
    docs, _ = render_k8s(artifact, "--engine", "vllm", "--cpu", "8", "--memory", "48Gi", "--front-cpu", "3500m",
                         "--front-memory", "6Gi")
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    guard, vllm = docs[0]["spec"]["template"]["spec"]["containers"]
    assert guard["resources"]["requests"] == {"cpu": "3500m", "memory": "6Gi"}
    assert vllm["resources"]["requests"] == {"cpu": "8", "memory": "48Gi"}
    docs, _ = render_k8s(artifact, "--cpu", "6", "--memory", "24Gi")  # the hf engine: one serving container
    (server,) = docs[0]["spec"]["template"]["spec"]["containers"]
    assert server["resources"]["requests"] == {"cpu": "6", "memory": "24Gi"}


@pytest.mark.parametrize(("options", "message"), [
    (["--engine", "vllm", "--front-cpu", "2 cores"], "`front_cpu` '2 cores' is not a Kubernetes quantity"),
    (["--memory", "0Gi"], "`memory` '0Gi' is not a Kubernetes quantity above 0"),
    (["--front-cpu", "4"], "need --engine vllm"),  # the hf engine's pod has no front container
])
def test_bad_sizes_are_usage_errors_naming_the_option(artifact, options, message):
    result = CliRunner().invoke(cli, ["deploy", str(artifact), "--image", IMAGE, "--artifact-url", URL,
                                      "--dry-run", *options])
    assert result.exit_code == 2 and message in result.output, result.output
