"""``eco-pack finetune`` and ``eco-pack models``: thin commands over packager.finetune / packager.models."""

from __future__ import annotations

from pathlib import Path

import click

DEVICE = click.Choice(["auto", "cpu", "cuda"])


@click.command()
@click.option("--model", default="scratch", show_default=True,
              help="`scratch` (a small Llama + BPE tokenizer), a registry alias, a Hub id or a local folder.")
@click.option("--data", default="demo", show_default=True,
              help="demo | tofu:full | tofu:retain90|95|99 | tofu:forget05 | custom:<path>")
@click.option("--part", type=click.Choice(["all", "forget", "retain"]), default="all", show_default=True,
              help="Which QA of a forget set: forget + retain, or one of them (tofu:full/retainNN fix it).")
@click.option("--general/--no-general", default=False, help="Also train on the set's real-author/world-fact QA.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder to write the model to.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--epochs", type=int, help="Default: 5 (pretrained, TOFU) or 60 (scratch).")
@click.option("--lr", type=float, help="Default: 1e-5 (2e-5 phi; TOFU) or 3e-3 (scratch).")
@click.option("--batch-size", type=int, help="Effective batch. Default: 32 (TOFU) or 16 (scratch).")
@click.option("--hidden", default=128, show_default=True, help="Scratch: hidden size.")
@click.option("--layers", default=4, show_default=True, help="Scratch: transformer layers.")
@click.option("--heads", default=4, show_default=True, help="Scratch: attention heads.")
@click.option("--intermediate", default=384, show_default=True, help="Scratch: MLP size.")
@click.option("--vocab", default=2048, show_default=True, help="Scratch: BPE vocabulary size (upper bound).")
@click.option("--tokenizer", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Scratch: reuse this model folder's tokenizer (give retain models their subject's).")
@click.option("--seed", default=42, show_default=True)
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--dtype", default="auto", show_default=True, help="Compute dtype: auto|float32|bfloat16|float16.")
@click.option("--data-dir", envvar="ECO_PACK_DATA_DIR", type=click.Path(path_type=Path),
              help="TOFU JSON Lines folder (default: $ECO_PACK_DATA_DIR).")
def finetune(model, data, part, general, out, force, epochs, lr, batch_size, hidden, layers, heads, intermediate,
             vocab, tokenizer, seed, device, dtype, data_dir) -> None:
    """Fine-tune MODEL on question -> answer pairs with the TOFU protocol (loss on answers only).

    \b
    Examples:
      eco-pack finetune --data tofu:full --out models/subject --hidden 256 --layers 6 --epochs 12
      eco-pack finetune --data tofu:retain90 --tokenizer models/subject --out models/retain90 ...
      eco-pack finetune --model phi-1.5 --data tofu:full --out models/phi-tofu --device cuda
    """
    from packager.finetune import ScratchModel
    from packager.finetune import finetune as run
    from packager.finetune_data import select_training_data
    from packager.finetune_defaults import make_config

    sizes = ScratchModel(hidden_size=hidden, num_layers=layers, num_heads=heads, intermediate_size=intermediate,
                         vocab_size=vocab)
    config = make_config(model, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device, dtype=dtype,
                         scratch_model=sizes)
    qa = select_training_data(data, part, general=general, data_dir=data_dir)
    result = run(config, qa, out, tokenizer=tokenizer, overwrite=force)
    losses = result.epoch_losses
    click.echo(f"fine-tuned {model} on {qa.name} ({len(qa.pairs)} QA, {result.parameters:,} parameters) in "
               f"{result.seconds:.0f}s: loss {losses[0]:.3f} -> {losses[-1]:.3f}; saved {out}")


@click.command()
def models() -> None:
    """List the model registry: aliases, bases, prompt formats and published TOFU models.

    \b
    Example:
      eco-pack models
      eco-pack build --model llama-2-7b-chat --forget tofu:forget05
    """
    from rich.console import Console
    from rich.table import Table

    from packager.models import MODELS, TOFU_RETAIN

    table = Table("alias", "base", "format", "TOFU subject (retain refs)", "license")
    for spec in MODELS.values():
        retain = [TOFU_RETAIN[f] for f in TOFU_RETAIN if spec.tofu_retain(f)]
        tofu = f"{spec.tofu_subject}\n({', '.join(retain) or 'none'})" if spec.tofu_subject else "-"
        table.add_row(spec.name, spec.base, spec.prompt_format.name, tofu, spec.license)
    console = Console()
    console.print(table)
    for spec in MODELS.values():
        console.print(f"[bold]{spec.name}[/bold]: {spec.notes}")
    console.print("Any Hub id (`org/name`) or local model folder is accepted too.")
