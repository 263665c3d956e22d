"""``eco-pack push``, ``eco-pack pull`` and ``eco-pack deploy``: thin commands over packager.distribution."""

from __future__ import annotations

from pathlib import Path

import click

from guards.errors import GuardConfigError
from guards.remote import S3URL, fetch, parse_url
from packager.distribution.artifact import read_artifact
from packager.distribution.deploy import DeployConfig

ARTIFACT = click.Path(exists=True, file_okay=False, path_type=Path)


@click.command()
@click.argument("artifact", type=ARTIFACT)
@click.option("--to", "target", required=True, help="hf://org/name[@revision] or s3://bucket/prefix")
@click.option("--private", is_flag=True, help="Hub: create the repo as private.")
@click.option("--include-base", is_flag=True, help="Hub: upload base/ too (default: the card names the base).")
@click.option("--s3-endpoint", envvar="AWS_ENDPOINT_URL", help="S3: endpoint URL (default: AWS_ENDPOINT_URL or AWS).")
@click.option("--bento", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="S3: a `bentoml export` file to store under the version as bento/<file>.")
def push(
    artifact: Path, target: str, private: bool, include_base: bool, s3_endpoint: str | None, bento: Path | None
) -> None:
    """Verify ARTIFACT and publish it to the Hub or S3 (a version is never overwritten on S3).

    \b
    Examples:
      eco-pack push dist/tofu-guard-1.0.0 --to hf://my-org/tofu-guard --private
      eco-pack push dist/tofu-guard-1.0.0 --to s3://models/guards --bento tofu-guard.bento
    Credentials: HF_TOKEN / `hf auth login`; AWS via boto3's standard chain (env, profile, role).
    """
    url, art = parse_url(target), read_artifact(artifact)
    if isinstance(url, S3URL):
        from packager.distribution.s3 import push_to_s3

        result = push_to_s3(art, url, endpoint=s3_endpoint, bento=bento)
        click.echo(f"pushed {art.name} {art.version} to {result.url} ({result.objects} objects)")
    else:
        from packager.distribution.hub import push_to_hub

        result = push_to_hub(art, url, private=private, include_base=include_base)
        click.echo(f"pushed {art.name} {art.version} to {result.url}: {result.commit_url}")


@click.command()
@click.argument("url")
@click.option("--dest", type=click.Path(path_type=Path), help="Folder to create (default: dist/<last URL part>).")
@click.option("--force", is_flag=True, help="Replace --dest if it exists.")
@click.option("--attempts", default=3, show_default=True, help="Downloads tried before a corrupt copy is refused.")
@click.option("--s3-endpoint", envvar="AWS_ENDPOINT_URL", help="S3: endpoint URL.")
def pull(url: str, dest: Path | None, force: bool, attempts: int, s3_endpoint: str | None) -> None:
    """Download URL, verify every sha256 against its manifest, and only then publish it at --dest.

    \b
    Examples:
      eco-pack pull hf://my-org/tofu-guard@v1 --dest artifacts/tofu-guard
      eco-pack pull s3://models/guards/tofu-guard            # the `latest` version
      eco-pack pull s3://models/guards/tofu-guard/1.0.0
    """
    dest = dest or Path("dist") / url.rstrip("/").rsplit("/", 1)[-1].replace("@", "-")
    path = fetch(url, dest, overwrite=force, attempts=attempts, s3_endpoint=s3_endpoint)
    click.echo(f"pulled {url} into {path} (all checksums verified)")


@click.command()
@click.argument("artifact", type=ARTIFACT)
@click.option("--target", type=click.Choice(["k8s", "bentocloud"]), default="k8s", show_default=True)
@click.option("--image", help="k8s: the bento's container image (from `bentoml containerize`).")
@click.option("--artifact-url", required=True, help="hf://... or s3://... where the artifact was pushed.")
@click.option("--namespace", default="default", show_default=True)
@click.option("--gpus", default=1, show_default=True, help="nvidia.com/gpu per pod (0 for CPU).")
@click.option("--replicas", default=(1, 3), nargs=2, type=int, show_default=True, help="Min and max replicas.")
@click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), help="infra/ folder.")
@click.option("--engine", type=click.Choice(["hf", "vllm"]), default="hf", show_default=True,
              help="hf: the guard generates. vllm: k8s, a vLLM container (the GPU) on the pod's loopback "
                   "behind the guard; bentocloud, a bento built with `--engine vllm` starts vLLM itself.")
@click.option("--vllm-image", default=DeployConfig.vllm_image, show_default=True,
              help="k8s with --engine vllm: the vLLM container image.")
@click.option("--vllm-arg", "vllm_args", multiple=True, metavar="FLAG",
              help="With --engine vllm: one more vLLM flag (repeat), e.g. --vllm-arg=--max-model-len=4096.")
@click.option("--cpu", default=DeployConfig.cpu, show_default=True,
              help="k8s: CPU request of the serving container (with --engine vllm, of vLLM's).")
@click.option("--memory", default=DeployConfig.memory, show_default=True,
              help="k8s: memory request and limit of the serving container (with --engine vllm, of vLLM's).")
@click.option("--front-cpu", help=f"k8s with --engine vllm: the guard front's CPU request [default: "
                                  f"{DeployConfig.front_cpu}]. It grows with requests/s and with flagged prompt "
                                  "tokens/s; docs/distribution.md gives the rule.")
@click.option("--front-memory", help=f"k8s with --engine vllm: the guard front's memory [default: "
                                     f"{DeployConfig.front_memory}].")
@click.option("--dry-run", is_flag=True, help="Print the manifests instead of applying them.")
def deploy(artifact: Path, target: str, image: str | None, artifact_url: str, namespace: str, gpus: int,
           replicas: tuple[int, int], templates: Path | None, engine: str, vllm_image: str,
           vllm_args: tuple[str, ...], cpu: str, memory: str, front_cpu: str | None, front_memory: str | None,
           dry_run: bool) -> None:
    """Render infra/ templates for ARTIFACT and apply them (kubectl, current context) or send them to BentoCloud.

    \b
    Examples:
      eco-pack deploy dist/tofu-guard-1.0.0 --image ghcr.io/me/tofu-guard:1.0.0 \\
          --artifact-url s3://models/guards/tofu-guard/1.0.0 --dry-run
      eco-pack deploy dist/tofu-guard-1.0.0 --target bentocloud --artifact-url hf://my-org/tofu-guard
      eco-pack deploy dist/tofu-guard-1.0.0 --engine vllm --image ghcr.io/me/tofu-guard:1.0.0 \\
          --artifact-url s3://models/guards/tofu-guard/1.0.0 --vllm-arg=--max-model-len=4096 --dry-run
    """
    from packager.distribution import deploy as d

    if target == "k8s" and not image:
        raise click.UsageError("--image is required for --target k8s")
    front = {name: value for name, value in (("front_cpu", front_cpu), ("front_memory", front_memory)) if value}
    if front and (engine != "vllm" or target != "k8s"):
        raise click.UsageError("--front-cpu and --front-memory size the guard front's container beside vLLM's: "
                               "they need --engine vllm and --target k8s (the hf engine's pod has one container, "
                               "sized by --cpu and --memory)")
    try:
        config = d.config_for(read_artifact(artifact), image=image or "", artifact_url=artifact_url,
                              namespace=namespace, gpus=gpus, min_replicas=replicas[0], max_replicas=replicas[1],
                              engine=engine, vllm_image=vllm_image, vllm_args=vllm_args, cpu=cpu, memory=memory,
                              **front)
    except (ValueError, GuardConfigError) as exc:
        raise click.UsageError(str(exc)) from None
    text = d.render(target, config, templates or d.INFRA)
    if dry_run:
        click.echo(text, nl=False)
        return
    click.echo(d.apply_k8s(text) if target == "k8s" else d.apply_bentocloud(text))
