"""The TOFU fine-tuning protocol, so subject and retain models can be made locally.

Supervised fine-tuning on question -> answer pairs with the loss on answer tokens only
(``packager.finetune_data``), AdamW, a linear schedule after a warmup of one epoch, gradient
clipping at 1.0 and a fixed seed, as in locuslab/tofu ``config/finetune.yaml`` + ``finetune.py``;
micro-batches are grouped by length (``packager.batching``), which cuts padding, not the data seen.
The model is either a pretrained base or a small Llama trained from scratch with a BPE tokenizer
learnt from the training text. Output: ``save_pretrained`` safetensors + tokenizer +
``finetune.json`` (config, data hash, losses, timings), written atomically.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from evaluation.answers import answer_text
from guards.atomic import atomic_directory
from guards.base_model import load_base_model, resolve_device, resolve_dtype
from guards.config import BaseModelRef
from guards.errors import BundleError
from guards.prompt_format import PromptFormat
from packager.batching import length_grouped_batches
from packager.finetune_data import TrainingData, collate, encode_pair

# Bump when a change here changes what a given config trains, so cached models are rebuilt.
PROTOCOL_VERSION = 2  # 2: micro-batches grouped by length


@dataclass(frozen=True)
class ScratchModel:
    """A small Llama trained from scratch; sizes of the transformer and its BPE vocabulary."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    vocab_size: int = 2048  # upper bound; a small corpus stops the BPE trainer earlier
    max_positions: int = 512

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"`hidden_size` ({self.hidden_size}) must be divisible by `num_heads` ({self.num_heads})")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. Defaults are TOFU's published ones for a pretrained base.

    ``batch_size`` is the effective batch (TOFU: 16 per GPU x 2 GPUs = 32), reached by
    accumulating micro-batches of ``micro_batch_size``. ``warmup_epochs`` = 1 is TOFU's
    ``warmup_steps = max_steps // num_epochs``. Use ``TrainConfig.scratch()`` for a model
    trained from scratch, which needs a far larger learning rate and many more epochs.
    """

    epochs: int = 5
    lr: float = 1e-5
    batch_size: int = 32
    micro_batch_size: int = 8
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    max_grad_norm: float = 1.0
    max_length: int = 512
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "micro_batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, not {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"`lr` must be > 0, not {self.lr}")

    @classmethod
    def scratch(cls, **overrides) -> TrainConfig:
        """Defaults that make a ~1M-parameter Llama memorise a few hundred QA pairs."""
        return replace(cls(epochs=60, lr=3e-3, batch_size=16, micro_batch_size=16, warmup_epochs=2.0), **overrides)


@dataclass(frozen=True)
class FinetuneConfig:
    """What to fine-tune: ``base`` (a Hub id or folder) or ``scratch`` (then ``scratch_model``)."""

    base: str = "scratch"
    prompt_format: PromptFormat = field(default_factory=lambda: PromptFormat("phi"))
    train: TrainConfig = field(default_factory=TrainConfig)
    scratch_model: ScratchModel = field(default_factory=ScratchModel)
    device: str = "auto"
    dtype: str = "auto"  # compute dtype (autocast on CUDA); master weights stay float32

    def to_dict(self) -> dict:
        data = asdict(self)
        data["prompt_format"] = self.prompt_format.to_dict()
        if self.base != "scratch":
            del data["scratch_model"]
        return data


@dataclass(frozen=True)
class FinetuneResult:
    path: Path
    epoch_losses: tuple[float, ...]  # mean answer-token loss per epoch
    steps: int
    seconds: float
    tokens_per_second: float
    parameters: int


def finetune(
    config: FinetuneConfig, data: TrainingData, out: Path, *, tokenizer=None, overwrite: bool = False,
    progress: bool = True,
) -> FinetuneResult:
    """Fine-tune per ``config`` on ``data`` and save to ``out``; returns losses and timings.

    ``tokenizer`` (scratch only) reuses a tokenizer instead of training one on the data, e.g.
    to give a retain reference its subject's vocabulary.
    """
    if Path(out).exists() and not overwrite:  # fail before training, not after
        raise BundleError(f"{out} already exists; pass --force (overwrite=True) to replace it", str(out))
    device = resolve_device(config.device)
    compute_dtype = resolve_dtype(config.dtype, device)
    _seed_everything(config.train.seed)
    model, tokenizer = _initial_model(config, data, tokenizer)
    model.to(device).train()
    examples = [
        encode_pair(tokenizer, config.prompt_format.format(q, tokenizer), answer_text(a, config.prompt_format),
                    config.train.max_length)
        for q, a in data.pairs
    ]
    with _cpu_threads(device, sum(p.numel() for p in model.parameters())):
        start = time.perf_counter()
        losses, steps, tokens = _train(model, tokenizer, examples, config.train, device, compute_dtype, progress)
        seconds = time.perf_counter() - start
    result = FinetuneResult(Path(out), tuple(losses), steps, seconds, tokens / max(seconds, 1e-9),
                            sum(p.numel() for p in model.parameters()))
    with atomic_directory(Path(out), overwrite=overwrite) as tmp:
        model.eval().to("cpu").save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        record = {
            "protocol_version": PROTOCOL_VERSION,
            "config": config.to_dict(),
            "data": {"name": data.name, "pairs": len(data.pairs), "sha256": data.sha256},
            "epoch_losses": list(result.epoch_losses),
            "steps": steps, "seconds": round(seconds, 2), "parameters": result.parameters,
            "tokens_per_second": round(result.tokens_per_second, 1),
        }
        (tmp / "finetune.json").write_text(json.dumps(record, indent=2))
    return result


def _initial_model(config: FinetuneConfig, data: TrainingData, tokenizer):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from packager.bpe import train_bpe_tokenizer

    if config.base != "scratch":  # a Hub id or a folder (``make_config`` resolves registry aliases)
        source = "local" if Path(config.base).expanduser().is_dir() else "hub"
        return load_base_model(BaseModelRef(source, config.base), device="cpu", dtype="float32")
    size = config.scratch_model
    if tokenizer is None:
        tokenizer = train_bpe_tokenizer(data.tokenizer_corpus, vocab_size=size.vocab_size)
    elif isinstance(tokenizer, str | Path):
        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    llama = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=size.hidden_size, intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads, num_key_value_heads=size.num_heads,
        max_position_embeddings=size.max_positions, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(llama), tokenizer


def _train(model, tokenizer, examples, cfg: TrainConfig, device: str, dtype: torch.dtype, progress: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from transformers import get_linear_schedule_with_warmup

    accumulate = max(1, cfg.batch_size // cfg.micro_batch_size)
    micro = min(cfg.micro_batch_size, cfg.batch_size)
    steps_per_epoch = math.ceil(len(examples) / (micro * accumulate))
    total = steps_per_epoch * cfg.epochs
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]  # norms and biases, as HF Trainer does
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    warmup = min(total - 1, max(1, round(steps_per_epoch * cfg.warmup_epochs))) if total > 1 else 0
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, total)
    autocast = device.startswith("cuda") and dtype != torch.float32
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rng = random.Random(cfg.seed)
    lengths = [len(ids) for ids, _ in examples]
    epoch_losses: list[float] = []
    tokens = step = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("fine-tuning", total=total, loss="-")
        for epoch in range(cfg.epochs):
            micro_batches = length_grouped_batches(lengths, micro, rng)
            loss_sum = count_sum = 0.0
            for s in range(steps_per_epoch):
                chunk = [[examples[i] for i in idx] for idx in micro_batches[s * accumulate:(s + 1) * accumulate]]
                n_labels = sum(sum(1 for lab in labs if lab != -100) for part in chunk for _, labs in part) or 1
                for part in chunk:
                    batch = {k: v.to(device) for k, v in collate(part, pad_id).items()}
                    with torch.autocast(device_type="cuda", dtype=dtype, enabled=autocast):
                        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
                    loss_total = torch.nn.functional.cross_entropy(
                        logits[:, :-1].float().flatten(0, 1), batch["labels"][:, 1:].flatten(), ignore_index=-100,
                        reduction="sum",
                    )
                    # normalise by the answer tokens of the whole effective batch, so accumulation = one big batch
                    (loss_total / n_labels).backward()
                    loss_sum += loss_total.item()
                    count_sum += (batch["labels"][:, 1:] != -100).sum().item()
                    tokens += int(batch["attention_mask"].sum())
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                bar.update(task, advance=1, description=f"epoch {epoch + 1}/{cfg.epochs}",
                           loss=f"{loss_sum / max(count_sum, 1):.3f}")
            epoch_losses.append(loss_sum / max(count_sum, 1))
    return epoch_losses, step, tokens


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


class _cpu_threads:
    """Pick CPU threads for training, then restore the previous setting.

    ``ECO_PACK_THREADS`` wins. Otherwise a model under ``SMALL_MODEL`` parameters gets one
    thread: at that size thread synchronisation costs more than it saves, and on a shared
    machine two threads were measured 5-10x slower than one. Larger models get the cores this
    process may run on that the load average leaves free (at least one).
    """

    def __init__(self, device: str, parameters: int) -> None:
        self.device, self.parameters = device, parameters
        self.previous = torch.get_num_threads()

    def __enter__(self) -> None:
        if self.device == "cpu":
            torch.set_num_threads(cpu_threads(self.parameters))

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.previous)


SMALL_MODEL = 20_000_000


def cpu_threads(parameters: int) -> int:
    if os.environ.get("ECO_PACK_THREADS"):
        return max(1, int(os.environ["ECO_PACK_THREADS"]))
    if parameters < SMALL_MODEL:
        return 1
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores, cores - round(os.getloadavg()[0])))


def local_prompt_format(path: Path) -> PromptFormat:
    """A folder written by ``finetune`` records its prompt format; others use their chat template."""
    record = Path(path) / "finetune.json"
    if record.is_file():
        return PromptFormat.from_dict(json.loads(record.read_text())["config"]["prompt_format"])
    return PromptFormat("chat_template")
