"""The Universal Physics Transformer: encode -> step (k times) -> decode, all in latent space."""

import contextlib
import math
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Literal

import torch
from einops import rearrange
from torch import Tensor, nn

from upt_models.anchors import anchor_points
from upt_models.approximator import Approximator, ApproximatorConfig
from upt_models.conditioning import ScalarConditioner
from upt_models.decoder import DecoderConfig, PerceiverDecoder
from upt_models.encoder import EncoderConfig, PointEncoder
from upt_models.geometry import grid_anchors, grid_side
from upt_models.grid_decoder import GridDecoder
from upt_models.grid_encoder import GridEncoder
from upt_models.relative_position import RelativePositionBias
from upt_models.sharing import FirstSamples, SharedGeometry


@dataclass(frozen=True)
class UPTConfig:
    """Full model configuration; the latent width D is `approximator.dim`.

    `latent` chooses the latent design. "grid" (the default): token l sits at anchor a_l of a
    regular grid in the unit cube (`encoder.num_latent_tokens` must be a `coord_dim`-th power),
    the encoder pools each anchor's nearest points with a learned kernel, every transformer
    block has a relative position bias, and the decoder reads each query's nearest anchors
    (`upt_models.grid_encoder`, `upt_models.grid_decoder`). `periodic` treats [0, 1)^d as a
    torus (nearest-image offsets); `translation_invariant` (periodic only) also drops every
    absolute position, so the model commutes with shifts by whole cells: for equations with no
    preferred position (Burgers; not a flow with a fixed forcing). "perceiver": the official
    UPT's supernode pooling and perceivers.

    `num_cond_scalars` > 0 conditions the approximator on that many scalars through adaLN (the
    condition vector has width 4 * D); `condition_codec` also conditions every encoder and
    decoder block, as the official UPT does (then `encode` and `decode` need `cond` too).
    Coordinates and scalars are multiplied by `embed_scale` before their sin-cos embedding:
    normalize them to about [0, 1]. For the perceiver latent, `anchored_latent` pins each token
    to a point of the unit cube and biases the cross-attention between points and tokens by
    their distance (see `upt_models.anchors`); False gives the official UPT's unbiased perceivers.

    `encode` and `step` return layer-normalized tokens (no affine): the latent keeps one scale,
    so latent-space losses (UPT's inverse decoding loss) cannot grow by inflating it.
    """

    coord_dim: int
    num_channels: int
    encoder: EncoderConfig
    approximator: ApproximatorConfig
    decoder: DecoderConfig
    num_cond_scalars: int = 0
    condition_codec: bool = False
    embed_scale: float = 1000.0
    anchored_latent: bool = True
    latent: Literal["grid", "perceiver"] = "grid"
    periodic: bool = False
    translation_invariant: bool = False

    def __post_init__(self) -> None:
        _check_sizes(self)
        if self.condition_codec and self.num_cond_scalars == 0:
            raise ValueError("condition_codec=True needs num_cond_scalars > 0")
        if self.translation_invariant and not self.periodic:
            raise ValueError("translation_invariant=True needs a periodic domain (periodic=True)")
        if self.latent == "grid":
            grid_side(self.encoder.num_latent_tokens, self.coord_dim)
        elif self.latent == "perceiver":
            needed = {
                "encoder.gnn_dim": self.encoder.gnn_dim,
                "encoder.perceiver_num_heads": self.encoder.perceiver_num_heads,
                "encoder.num_supernodes": self.encoder.num_supernodes,
                "decoder.perceiver_dim": self.decoder.perceiver_dim,
                "decoder.perceiver_num_heads": self.decoder.perceiver_num_heads,
            }
            if missing := [key for key, value in needed.items() if value is None]:
                raise ValueError(f"the perceiver latent needs {', '.join(missing)}")
            if self.periodic:
                raise ValueError("periodic domains need the grid latent (latent='grid')")
        else:
            raise ValueError(f"latent must be 'grid' or 'perceiver'; got {self.latent!r}")

    @property
    def cond_dim(self) -> int | None:
        return 4 * self.approximator.dim if self.num_cond_scalars else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "UPTConfig":
        """Inverse of `to_dict`; unknown or missing keys raise ValueError. A config without a
        `latent` key predates the grid latent and describes a perceiver model."""
        nested = {
            "encoder": EncoderConfig,
            "approximator": ApproximatorConfig,
            "decoder": DecoderConfig,
        }
        _check_keys("config", data, cls)
        values = {"latent": "perceiver", **data}
        for key, sub_cls in nested.items():
            _check_keys(key, values[key], sub_cls)
            values[key] = sub_cls(**values[key])
        return cls(**values)


def _check_sizes(config: "UPTConfig") -> None:
    """Every width, depth, count and scale a positive finite number (depths may be 0)."""
    checks = {"coord_dim": config.coord_dim, "num_channels": config.num_channels}
    for part in ("encoder", "approximator", "decoder"):
        for item in fields(getattr(config, part)):
            checks[f"{part}.{item.name}"] = getattr(getattr(config, part), item.name)
    for name, value in checks.items():
        if value is None or isinstance(value, bool):
            continue
        low = 0 if name.endswith("depth") else 1
        valid = isinstance(value, int) and value >= low
        if name.endswith("radius"):
            valid = isinstance(value, int | float) and math.isfinite(value) and value > 0
        if not valid:
            raise ValueError(f"{name} must be {'> 0' if low else '>= 0'}; got {value!r}")
    if not (math.isfinite(config.embed_scale) and config.embed_scale > 0):
        raise ValueError(f"embed_scale must be a positive finite number; got {config.embed_scale}")
    if config.num_cond_scalars < 0:
        raise ValueError(f"num_cond_scalars must be >= 0; got {config.num_cond_scalars}")


def _check_keys(name: str, data: dict[str, Any], cls: type) -> None:
    names = {f.name for f in fields(cls)}
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    if unknown := sorted(set(data) - names):
        raise ValueError(f"{name}: unknown keys {unknown}; valid keys are {sorted(names)}")
    if missing := sorted(required - set(data)):
        raise ValueError(f"{name}: missing keys {missing}")


def _check_shape(name: str, tensor: Tensor, expected: tuple[int | None, ...], axes: str) -> None:
    if tensor.ndim != len(expected) or any(
        e is not None and e != actual for e, actual in zip(expected, tensor.shape, strict=False)
    ):
        raise ValueError(f"{name} must have shape ({axes}); got {tuple(tensor.shape)}")


def _init_linear(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases, as the official UPT (perceiver latent only; with
    PyTorch's default init its field embedding starts far smaller than the position embedding)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class UPT(nn.Module):
    """Universal Physics Transformer (Alkin et al. 2024).

    `encode` and `decode` follow the encoder/decoder signatures of upt-losses, so
    `encoder=model.encode, decoder=model.decode` plug in directly (for models with
    `condition_codec`, bind `cond` first, e.g. with functools.partial).
    """

    def __init__(self, config: UPTConfig) -> None:
        super().__init__()
        self.config = config
        latent_dim, cond_dim = config.approximator.dim, config.cond_dim
        codec_cond_dim = cond_dim if config.condition_codec else None
        self.conditioner = (
            ScalarConditioner(config.num_cond_scalars, latent_dim, cond_dim, config.embed_scale)
            if cond_dim
            else None
        )
        if config.latent == "grid":
            self._build_grid(config, latent_dim, cond_dim, codec_cond_dim)
        else:
            self._build_perceiver(config, latent_dim, cond_dim, codec_cond_dim)
        self.latent_norm = nn.LayerNorm(latent_dim, eps=1e-6, elementwise_affine=False)
        self.shared_decodes = SharedGeometry()

    def _build_grid(
        self, config: UPTConfig, latent_dim: int, cond_dim: int | None, codec_cond: int | None
    ) -> None:
        anchors = grid_anchors(config.encoder.num_latent_tokens, config.coord_dim)
        args = (config.coord_dim, config.num_channels, latent_dim, anchors, config.periodic)
        self.encoder = GridEncoder(config.encoder, *args, codec_cond, config.translation_invariant)
        bias = RelativePositionBias(
            grid_side(len(anchors), config.coord_dim),
            config.coord_dim,
            config.periodic,
            config.approximator.num_heads,
            config.approximator.depth,
        )
        self.approximator = Approximator(config.approximator, cond_dim, bias)
        self.decoder = GridDecoder(config.decoder, *args, codec_cond)

    def _build_perceiver(
        self, config: UPTConfig, latent_dim: int, cond_dim: int | None, codec_cond: int | None
    ) -> None:
        anchors = (
            anchor_points(config.encoder.num_latent_tokens, config.coord_dim)
            if config.anchored_latent
            else None
        )
        args = (config.coord_dim, config.num_channels, latent_dim, codec_cond)
        self.encoder = PointEncoder(config.encoder, *args, config.embed_scale, anchors)
        self.approximator = Approximator(config.approximator, cond_dim)
        self.decoder = PerceiverDecoder(config.decoder, *args, config.embed_scale, anchors)
        self.apply(_init_linear)
        self.encoder.pool.balance_field_embedding()

    @contextlib.contextmanager
    def sharing_geometry(self) -> Iterator[FirstSamples]:
        """Within the block, what depends only on points and parameters is computed once:
        encodes and decodes at the same coordinate tensors (the same objects) share their
        neighbour search and kernel weights, decodes of the same latent share its decoder
        blocks, a decode of the same latent at the same query tensor (and cond) is the same
        output, and each relative position bias is computed once (the grid latent's). For one
        training step: what is kept holds its graph. Yields a `FirstSamples`: its views `x[:n]`
        of tensors used whole get the first n samples of what was computed for them."""
        memos = [
            value
            for module in self.modules()
            for value in vars(module).values()
            if isinstance(value, SharedGeometry)
        ]
        views = FirstSamples()
        for memo in memos:
            memo.start(views)
        try:
            yield views
        finally:
            for memo in memos:
                memo.stop()

    def _condition(self, cond: Tensor | None, batch: int, required: bool) -> Tensor | None:
        n = self.config.num_cond_scalars
        if cond is None:
            if required:
                raise ValueError(
                    f"this model is conditioned on {n} scalars: pass cond of shape ({batch}, {n})"
                )
            return None
        if self.conditioner is None:
            raise ValueError("cond was given but the model has num_cond_scalars=0")
        _check_shape("cond", cond, (batch, n), f"batch={batch}, num_cond_scalars={n}")
        return self.conditioner(cond) if required else None

    def encode(
        self,
        fields: Tensor,
        coords: Tensor,
        mask: Tensor | None = None,
        cond: Tensor | None = None,
    ) -> Tensor:
        """fields (B, N, C), coords (B, N, d), mask (B, N) bool (True = real point),
        cond (B, num_cond_scalars) -> latent (B, L, D)."""
        c, d = self.config.num_channels, self.config.coord_dim
        _check_shape("fields", fields, (None, None, c), f"batch, points, channels={c}")
        b, n = fields.shape[:2]
        _check_shape("coords", coords, (b, n, d), f"batch={b}, points={n}, coord_dim={d}")
        if mask is not None:
            _check_shape("mask", mask, (b, n), f"batch={b}, points={n}")
            if mask.dtype != torch.bool:
                raise ValueError(f"mask must be bool (True = real point); got {mask.dtype}")
            if not mask.any(dim=1).all():
                raise ValueError("every point cloud needs at least one real point")
        condition = self._condition(cond, b, self.config.condition_codec)
        return self.latent_norm(self.encoder(fields, coords, mask, condition))

    def _check_latent(self, latent: Tensor) -> None:
        tokens, dim = self.config.encoder.num_latent_tokens, self.config.approximator.dim
        _check_shape("latent", latent, (None, tokens, dim), f"batch, tokens={tokens}, dim={dim}")

    def step(self, latent: Tensor, cond: Tensor | None = None) -> Tensor:
        """latent (B, L, D), cond (B, num_cond_scalars) -> latent one time step later (B, L, D)."""
        self._check_latent(latent)
        required = self.conditioner is not None
        condition = self._condition(cond, latent.shape[0], required)
        return self.latent_norm(self.approximator(latent, condition))

    def rollout(self, latent: Tensor, num_steps: int, cond: Tensor | None = None) -> Tensor:
        """latent (B, L, D) -> the next `num_steps` latents (B, num_steps, L, D)."""
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1; got {num_steps}")
        latents = []
        for _ in range(num_steps):
            latent = self.step(latent, cond)
            latents.append(latent)
        return rearrange(latents, "t b l d -> b t l d")

    def decode(self, latent: Tensor, query_coords: Tensor, cond: Tensor | None = None) -> Tensor:
        """latent (B, L, D), query_coords (B, Q, d), cond (B, num_cond_scalars) -> (B, Q, C)."""
        self._check_latent(latent)
        b, d = latent.shape[0], self.config.coord_dim
        _check_shape(
            "query_coords", query_coords, (b, None, d), f"batch={b}, queries, coord_dim={d}"
        )
        return self.shared_decodes.get(
            (latent, query_coords, cond),
            lambda: self.decoder(
                latent, query_coords, self._condition(cond, b, self.config.condition_codec)
            ),
        )

    def forward(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        mask: Tensor | None = None,
        cond: Tensor | None = None,
    ) -> Tensor:
        """One step ahead: fields at coords (B, N, C) -> fields at query_coords (B, Q, C)."""
        latent = self.encode(fields, coords, mask, cond)
        return self.decode(self.step(latent, cond), query_coords, cond)
