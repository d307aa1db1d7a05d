"""Run configuration: typed, frozen dataclasses loaded from YAML and checked on load.

An unknown key is rejected with the nearest valid key, a wrong type or range with the key's dotted
path and what was expected. Dotted overrides (`training.lambda_inv_enc=0.1`) apply on top of the
file. Configs name presets and options; they never import or instantiate arbitrary names.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from upt_models import PRESETS

# configs/ of the working directory first, then the configs shipped inside this package (the
# repository's configs/ links to them, so editable and non-editable installs find the same files).
CONFIG_DIRS = (Path("configs"), Path(__file__).resolve().parent / "configs")


MAX_BATCH_SIZE = 65_536
MAX_UNROLL_STEPS = 64


class ConfigError(ValueError):
    """A config that cannot be loaded; the message names the key and what was expected."""


def _require(condition: bool, key: str, expected: str, value: object) -> None:
    if not condition:
        raise ConfigError(f"{key}: expected {expected}; got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """Where the store lives; what it holds (everything the generator takes: a missing store is
    generated from it, an existing one is checked against it); how training samples it.
    `random_shift` moves every training sample by a random offset on its periodic domain (for
    translation-invariant equations such as Burgers; see upt_data.NextStepDataset).

    `equation`: "burgers" (1D; `resolution` stored points) or "ns2d" (2D Navier-Stokes;
    `resolution` x `resolution` grid, frames `final_time / (num_frames - 1)` apart, one point
    cloud of `min_points`..`max_points` points per trajectory). `points`: train on the stored
    grid ("grid": every `data.resolution / train_resolution`-th point) or on each trajectory's
    point cloud ("cloud")."""

    store: str = "data/burgers.zarr"
    equation: Literal["burgers", "ns2d"] = "burgers"
    viscosity: float = 0.01
    resolution: int = 1024
    num_frames: int = 201
    final_time: float = 2.0
    num_train: int = 64
    num_valid: int = 8
    num_test: int = 16
    seed: int = 0
    stride: int = 1
    train_resolution: int | None = 256
    input_points: int | None = None
    query_points: int | None = 256
    random_shift: bool = False
    points: Literal["grid", "cloud"] = "grid"
    min_points: int = 1000
    max_points: int = 3000
    num_workers: int = 0

    def __post_init__(self) -> None:
        _require(self.viscosity > 0, "data.viscosity", "a positive number", self.viscosity)
        for key in ("resolution", "num_train", "stride"):
            value = getattr(self, key)
            _require(value >= 1, f"data.{key}", "an integer >= 1", value)
        for key in ("num_valid", "num_test", "seed"):
            value = getattr(self, key)
            _require(value >= 0, f"data.{key}", "an integer >= 0", value)
        _require(self.num_frames >= 2, "data.num_frames", "an integer >= 2", self.num_frames)
        _require(self.final_time > 0, "data.final_time", "a positive number", self.final_time)
        _require(
            self.stride < self.num_frames,
            "data.stride",
            f"an integer below data.num_frames ({self.num_frames})",
            self.stride,
        )
        for key in ("input_points", "query_points"):
            value = getattr(self, key)
            _require(value is None or value >= 1, f"data.{key}", "null or an integer >= 1", value)
        _require(self.num_workers >= 0, "data.num_workers", "an integer >= 0", self.num_workers)
        train = self.train_resolution
        _require(
            train is None or (train >= 2 and self.resolution % train == 0),
            "data.train_resolution",
            f"null or a divisor of data.resolution ({self.resolution})",
            train,
        )

        _require(
            1 <= self.min_points <= self.max_points,
            "data.min_points",
            f"an integer in [1, data.max_points ({self.max_points})]",
            self.min_points,
        )
        _require(
            self.points == "grid" or self.equation == "ns2d",
            "data.points",
            "'grid' for Burgers (only ns2d stores hold point clouds)",
            self.points,
        )
        points = self.min_points if self.points == "cloud" else train or self.resolution
        where = (
            "the smallest cloud (data.min_points)"
            if self.points == "cloud"
            else ("data.train_resolution")
        )
        for key in ("input_points", "query_points"):
            value = getattr(self, key)
            _require(
                value is None or value <= points,
                f"data.{key}",
                f"null or at most the {points} training points ({where})",
                value,
            )

    @property
    def grid_stride(self) -> int:
        """Every how many stored points the model sees one in training."""
        return self.resolution // (self.train_resolution or self.resolution)


@dataclass(frozen=True)
class ModelConfig:
    """A named preset from upt-models, optionally with another number of latent tokens (for the
    grid latent, a power of the number of coordinate axes: 64 or 128 in 1D, 256 = 16^2 in 2D)."""

    preset: str = "tiny"
    num_latent_tokens: int | None = None

    def __post_init__(self) -> None:
        _require(self.preset in PRESETS, "model.preset", f"one of {sorted(PRESETS)}", self.preset)
        tokens = self.num_latent_tokens
        _require(tokens is None or tokens >= 1, "model.num_latent_tokens", "null or >= 1", tokens)


@dataclass(frozen=True)
class TrainingConfig:
    """Optimization, and the inverse losses under the keys users of the earlier system know.

    `loss`: "relative" (per sample ||pred - true||^2 / ||true||^2, weighted as the nRMSE metric
    weights samples) or "mse". `unroll_steps`: latent steps per sample, each decoded and scored
    against its true frame (1 = next step only); training the rollout it is evaluated on.
    `weight_decay` applies to weight matrices only, never to biases, norms or learned widths.
    `compile` runs the objective through torch.compile in `compile_mode` (on a GPU,
    "reduce-overhead" replays each step as CUDA graphs).
    `inv_loss_batch_fraction`: the share of each batch's samples the inverse losses are
    computed on (the first ones; batches are shuffled): an unbiased estimate of the same terms
    for that share of their cost.
    """

    max_steps: int = 1000
    batch_size: int = 16
    grad_accum_steps: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    min_lr: float = 1e-5
    grad_clip: float = 1.0
    seed: int = 0
    amp: bool = True
    compile: bool = False
    compile_mode: Literal["default", "reduce-overhead", "max-autotune-no-cudagraphs"] = "default"
    use_upt_inverse_losses: bool = True
    lambda_inv_enc: float = 0.5
    lambda_inv_dec: float = 0.5
    inv_enc_query_points: int | None = 2048
    inv_dec_query_points: int | None = 1024
    inv_loss_batch_fraction: float = 1.0
    detach_inverse_decoding_target: bool = True
    lambda_latent: float = 0.0
    loss: Literal["mse", "relative"] = "relative"
    unroll_steps: int = 1
    log_every: int = 10
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        for key in (
            "max_steps",
            "batch_size",
            "grad_accum_steps",
            "unroll_steps",
            "log_every",
            "checkpoint_every",
        ):
            value = getattr(self, key)
            _require(value >= 1, f"training.{key}", "an integer >= 1", value)
        for key in (
            "lr",
            "weight_decay",
            "min_lr",
            "grad_clip",
            "lambda_inv_enc",
            "lambda_inv_dec",
            "lambda_latent",
        ):
            value = getattr(self, key)
            _require(value >= 0, f"training.{key}", "a number >= 0", value)
        _require(self.lr > 0, "training.lr", "a positive number", self.lr)
        _require(
            self.batch_size <= MAX_BATCH_SIZE,
            "training.batch_size",
            f"at most {MAX_BATCH_SIZE}",
            self.batch_size,
        )
        _require(
            self.unroll_steps <= MAX_UNROLL_STEPS,
            "training.unroll_steps",
            f"at most {MAX_UNROLL_STEPS}",
            self.unroll_steps,
        )
        _require(
            self.warmup_steps >= 0, "training.warmup_steps", "an integer >= 0", self.warmup_steps
        )
        _require(self.seed >= 0, "training.seed", "an integer >= 0", self.seed)
        _require(
            self.batch_size % self.grad_accum_steps == 0,
            "training.batch_size",
            f"a multiple of training.grad_accum_steps ({self.grad_accum_steps})",
            self.batch_size,
        )
        fraction = self.inv_loss_batch_fraction
        _require(
            0 < fraction <= 1, "training.inv_loss_batch_fraction", "a number in (0, 1]", fraction
        )
        for key in ("inv_enc_query_points", "inv_dec_query_points"):
            value = getattr(self, key)
            _require(
                value is None or value >= 1, f"training.{key}", "null or an integer >= 1", value
            )


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation on `split` (the test split unless told): rollouts, correlation time, other
    resolutions."""

    split: Literal["train", "valid", "test"] = "test"
    batch_size: int = 16
    rollout_steps: int | None = None
    correlation_threshold: float = 0.8
    super_resolution: tuple[int, ...] = (512, 1024)
    plot_trajectories: int = 3

    def __post_init__(self) -> None:
        _require(self.batch_size >= 1, "eval.batch_size", "an integer >= 1", self.batch_size)
        _require(
            self.rollout_steps is None or self.rollout_steps >= 1,
            "eval.rollout_steps",
            "null or an integer >= 1",
            self.rollout_steps,
        )
        _require(
            0 < self.correlation_threshold < 1,
            "eval.correlation_threshold",
            "a number in (0, 1)",
            self.correlation_threshold,
        )
        _require(
            all(r >= 2 for r in self.super_resolution),
            "eval.super_resolution",
            "a list of resolutions >= 2",
            self.super_resolution,
        )


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; `name` names the run folder under `out_dir`."""

    name: str = "burgers"
    out_dir: str = "runs"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        _require(
            re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name) is not None,
            "name",
            "letters, digits, '.', '_' and '-' (it names the run folder inside out_dir)",
            self.name,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples), ready for YAML or JSON."""
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# YAML 1.1 (PyYAML) reads "3e-4" as a string; accept such scientific notation for float keys.
_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(annotation)[0])}"
    if annotation is type(None):
        return "null"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _convert(annotation: Any, value: Any, key: str) -> Any:
    """Check `value` against a field's type; ints are accepted for floats, lists for tuples."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        return _build(annotation, value, key)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _convert(option, value, key)
            except ConfigError:
                continue
    elif origin is Literal:
        if value in typing.get_args(annotation):
            return value
    elif origin is tuple:
        if isinstance(value, list | tuple):
            item_type = typing.get_args(annotation)[0]
            return tuple(_convert(item_type, v, f"{key}[{i}]") for i, v in enumerate(value))
    elif annotation is type(None):
        if value is None:
            return None
    elif annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value):
            return float(value)
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, annotation):
        return value
    raise ConfigError(f"{key}: expected {_describe(annotation)}; got {value!r}")


def _build(cls: type, values: Any, prefix: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping of keys; got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            nearest = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            hint = (
                f"; did you mean '{prefix + '.' if prefix else ''}{nearest[0]}'?" if nearest else ""
            )
            raise ConfigError(f"unknown key '{path}'{hint} (valid: {', '.join(names)})")
        kwargs[key] = _convert(hints[key], value, path)
    return cls(**kwargs)


def parse_override(override: str) -> tuple[list[str], Any]:
    """'training.lambda_inv_enc=0.1' -> (['training', 'lambda_inv_enc'], 0.1); values are YAML."""
    key, sep, raw = override.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"bad override {override!r}: expected dotted.key=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise ConfigError(f"bad override {override!r}: the value is not valid YAML") from error
    return key.split("."), value


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted override in a nested mapping (a copy); key checks happen when building."""
    merged = _plain(values)
    for override in overrides:
        parts, value = parse_override(override)
        node = merged
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"bad override {override!r}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return merged


def resolve_config_path(name_or_path: str) -> Path:
    """A name from configs/ ('burgers') or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_dir():
        if path.is_dir():
            raise ConfigError(f"config {path} is a folder; give a .yaml file or a config name")
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    for config_dir in CONFIG_DIRS:
        candidate = config_dir / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    available = sorted({p.stem for d in CONFIG_DIRS for p in d.glob("*.yaml")})
    raise ConfigError(
        f"no config named {name_or_path!r} in configs/; available: {', '.join(available)}"
        " (or give a path to a .yaml file)"
    )


def load_config(name_or_path: str, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config (a name from configs/ or a path), apply dotted overrides, check it."""
    path = resolve_config_path(name_or_path)
    try:
        values = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    if values is None:
        raise ConfigError(f"{path} is empty; a config needs at least its data and training keys")
    return config_from_dict(values, overrides)


def config_from_dict(values: dict[str, Any], overrides: list[str] | None = None) -> RunConfig:
    """Build a RunConfig from nested plain data plus dotted overrides."""
    return _build(RunConfig, apply_overrides(values, overrides or []), "")
