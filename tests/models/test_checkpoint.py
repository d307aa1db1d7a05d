import dataclasses
import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from upt_models import UPT, CheckpointError, UPTConfig, load_upt, read_config, save_upt

ModelFactory = Callable[..., UPT]


@pytest.fixture
def saved(tmp_path: Path, make_model: ModelFactory) -> tuple[UPT, Path]:
    model = make_model(seed=1, num_cond_scalars=2, condition_codec=True)
    path = tmp_path / "model.safetensors"
    save_upt(model, path)
    return model, path


def test_round_trip_gives_identical_outputs(saved: tuple[UPT, Path]) -> None:
    model, path = saved
    loaded = load_upt(path, config=model.config).eval()
    assert loaded.config == model.config
    gen = torch.Generator().manual_seed(0)
    fields, coords = torch.randn(2, 30, 2, generator=gen), torch.rand(2, 30, 2, generator=gen)
    cond = torch.rand(2, 2, generator=gen)
    assert torch.equal(
        loaded(fields, coords, coords, cond=cond), model(fields, coords, coords, cond=cond)
    )
    assert read_config(path) == model.config


def test_file_is_plain_safetensors_with_json_config(saved: tuple[UPT, Path]) -> None:
    model, path = saved
    (header_len,) = struct.unpack("<Q", path.read_bytes()[:8])
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert UPTConfig.from_dict(json.loads(header["__metadata__"]["config"])) == model.config


def test_config_mismatch_names_the_first_differing_field(saved: tuple[UPT, Path]) -> None:
    model, path = saved
    other = dataclasses.replace(
        model.config, encoder=dataclasses.replace(model.config.encoder, depth=3)
    )
    with pytest.raises(
        CheckpointError, match=r"config mismatch at 'encoder\.depth': file has 1, expected 3"
    ):
        load_upt(path, config=other)


def test_tensor_shape_mismatch_names_the_tensor(
    tmp_path: Path, make_model: ModelFactory, small_config: Callable[..., UPTConfig]
) -> None:
    wide = UPT(dataclasses.replace(small_config(), num_channels=5))
    path = tmp_path / "forged.safetensors"
    metadata = {"format": "upt-models/1", "config": json.dumps(small_config().to_dict())}
    save_file({k: v.contiguous() for k, v in wide.state_dict().items()}, path, metadata)
    with pytest.raises(
        CheckpointError,
        match=r"tensor 'decoder.head.bias' has shape \[5\], the "
        r"model expects \[2\]",
    ):
        load_upt(path)
    state = make_model().state_dict()
    del state["encoder.query"]
    save_file(state, path, metadata)
    with pytest.raises(CheckpointError, match=r"missing tensor 'encoder\.query'"):
        load_upt(path)


@pytest.mark.parametrize("keep", [0, 5, 8, 100, -1])
def test_truncated_files_are_rejected(saved: tuple[UPT, Path], keep: int) -> None:
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(CheckpointError, match=r"truncated|too short"):
        load_upt(path)


def _with_header(header: bytes, data_bytes: int = 0) -> bytes:
    return struct.pack("<Q", len(header)) + header + bytes(data_bytes)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 this is a zip file, not safetensors", "truncated or not a safetensors"),
        (struct.pack("<Q", 4) + b"\xff\xfe{]", "not valid JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (_with_header(b'{"w": {"dtype": "F32", "shape": 1}}'), "malformed header"),
        (
            _with_header(b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}', 8),
            "offsets",
        ),
    ],
)
def test_foreign_files_are_rejected(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_upt(path)


def test_safetensors_without_upt_metadata_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="no upt-models metadata"):
        load_upt(path)


def test_config_from_dict_rejects_unknown_keys(make_model: ModelFactory) -> None:
    data = make_model().config.to_dict()
    data["encoder"]["dept"] = 2
    with pytest.raises(ValueError, match=r"encoder: unknown keys \['dept'\]"):
        UPTConfig.from_dict(data)
