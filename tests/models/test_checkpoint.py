import dataclasses
import json
import re
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
    tmp_path: Path, small_config: Callable[..., UPTConfig], latent: str
) -> None:
    config = small_config(latent=latent)
    state = UPT(config).state_dict()
    wide = UPT(dataclasses.replace(config, num_channels=5)).state_dict()
    changed = sorted(k for k in state if wide[k].shape != state[k].shape)
    path = tmp_path / "forged.safetensors"
    metadata = {"format": "upt-models/1", "config": json.dumps(config.to_dict())}
    save_file({k: v.contiguous() for k, v in wide.items()}, path, metadata)
    expected = f"tensor '{changed[0]}' has shape {list(wide[changed[0]].shape)}, the model"
    with pytest.raises(CheckpointError, match=re.escape(expected)):
        load_upt(path)
    removed = sorted(state)[0]
    del state[removed]
    save_file(state, path, metadata)
    with pytest.raises(CheckpointError, match=re.escape(f"missing tensor '{removed}'")):
        load_upt(path)


@pytest.mark.parametrize("keep", [0, 5, 8, 100, -1])
def test_truncated_files_are_rejected(saved: tuple[UPT, Path], keep: int) -> None:
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_upt(path)


def _with_header(header: bytes, data_bytes: int = 0) -> bytes:
    return struct.pack("<Q", len(header)) + header + bytes(data_bytes)


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 this is a zip file, not safetensors",
        struct.pack("<Q", 4) + b"\xff\xfe{]",
        struct.pack("<Q", 2) + b"[]",
        _with_header(b'{"w": {"dtype": "F32", "shape": 1}}'),
        _with_header(b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}', 8),
        struct.pack("<Q", 2**40) + b"{}",
    ],
)
def test_foreign_files_are_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_upt(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_upt(tmp_path / "nothing.safetensors")


def test_non_finite_weights_are_refused(saved: tuple[UPT, Path]) -> None:
    model, path = saved
    state = {k: v.clone() for k, v in model.state_dict().items()}
    name = sorted(state)[0]
    state[name].view(-1)[0] = torch.nan
    metadata = {"format": "upt-models/1", "config": json.dumps(model.config.to_dict())}
    save_file(state, path, metadata)
    with pytest.raises(CheckpointError, match=re.escape(f"tensors ['{name}'] hold NaN or Inf")):
        load_upt(path)


def test_a_forged_huge_config_is_refused_before_any_allocation(
    tmp_path: Path, make_model: ModelFactory
) -> None:
    """A small file whose config claims an enormous model: the shapes are compared on the meta
    device, so the error comes without allocating the model it claims."""
    import resource

    model = make_model()
    config = model.config.to_dict()
    config["approximator"]["dim"] = 65536
    config["encoder"]["dim"] = 65536
    path = tmp_path / "forged.safetensors"
    metadata = {"format": "upt-models/1", "config": json.dumps(config)}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path, metadata)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match="has shape"):
        load_upt(path)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 500


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
