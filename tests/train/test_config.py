"""Config loading: typed values, nearest-key suggestions, overrides, and the shipped configs."""

from pathlib import Path

import pytest
import torch

from upt_train import build_model
from upt_train.config import (
    CONFIG_DIRS,
    ConfigError,
    RunConfig,
    config_from_dict,
    load_config,
    parse_override,
)

SHIPPED = sorted(p.stem for p in CONFIG_DIRS[1].glob("*.yaml"))


def test_every_shipped_config_loads() -> None:
    assert {"burgers", "burgers_golden", "burgers_upt_losses"} <= set(SHIPPED)
    for name in SHIPPED:
        assert isinstance(load_config(name), RunConfig)


def test_every_shipped_config_builds_its_model_for_burgers_data() -> None:
    for name in SHIPPED:
        config = load_config(name)
        with torch.device("meta"):
            model = build_model(
                config, coord_dim=1, num_channels=1, periodic=True, translation_invariant=True
            )
        assert model.config.periodic


def test_upt_losses_config_keeps_the_seed_keys_and_values() -> None:
    golden, upt = load_config("burgers_golden"), load_config("burgers_upt_losses")
    assert not golden.training.use_upt_inverse_losses
    assert upt.training.use_upt_inverse_losses
    assert (upt.training.lambda_inv_enc, upt.training.lambda_inv_dec) == (0.5, 0.5)
    assert (upt.training.inv_enc_query_points, upt.training.inv_dec_query_points) == (2048, 1024)
    # Same model and budget: only the inverse-loss switch differs.
    assert golden.model == upt.model
    assert golden.data == upt.data
    assert golden.training.max_steps == upt.training.max_steps


def test_overrides_apply_with_yaml_types() -> None:
    config = load_config(
        "burgers",
        ["training.lambda_inv_enc=0.1", "training.max_steps=200", "eval.rollout_steps=null"],
    )
    assert config.training.lambda_inv_enc == 0.1
    assert config.training.max_steps == 200
    assert config.eval.rollout_steps is None


def test_scientific_notation_is_a_float_even_where_yaml_reads_a_string() -> None:
    assert load_config("burgers", ["training.lr=3e-4"]).training.lr == 3e-4
    assert config_from_dict({"training": {"min_lr": "1E-6"}}).training.min_lr == 1e-6


def test_integers_are_accepted_for_floats_and_lists_for_tuples() -> None:
    config = config_from_dict({"training": {"lr": 1}, "eval": {"super_resolution": [512, 4096]}})
    assert config.training.lr == 1.0
    assert isinstance(config.training.lr, float)
    assert config.eval.super_resolution == (512, 4096)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"training": {"lamda_inv_enc": 0.1}},
            "unknown key 'training.lamda_inv_enc'; did you mean 'training.lambda_inv_enc'",
        ),
        ({"trainig": {}}, "unknown key 'trainig'; did you mean 'training'"),
        (
            {"training": {"max_steps": "many"}},
            "training.max_steps: expected an integer; got 'many'",
        ),
        (
            {"training": {"use_upt_inverse_losses": 1}},
            "training.use_upt_inverse_losses: expected true or false",
        ),
        ({"training": {"lr": -1.0}}, "training.lr: expected a number >= 0; got -1.0"),
        (
            {"training": {"inv_enc_query_points": 0}},
            "training.inv_enc_query_points: expected null or an integer >= 1",
        ),
        (
            {"training": {"compile_mode": "fast"}},
            "training.compile_mode: expected one of 'default', 'reduce-overhead', "
            "'max-autotune-no-cudagraphs'; got 'fast'",
        ),
        (
            {"training": {"inv_loss_batch_fraction": 0}},
            "training.inv_loss_batch_fraction: expected a number in (0, 1]; got 0",
        ),
        (
            {"training": {"inv_loss_batch_fraction": 1.5}},
            "training.inv_loss_batch_fraction: expected a number in (0, 1]; got 1.5",
        ),
        (
            {"training": {"batch_size": 6, "grad_accum_steps": 4}},
            "a multiple of training.grad_accum_steps",
        ),
        ({"device": "tpu"}, "device: expected one of 'auto', 'cpu', 'cuda'; got 'tpu'"),
        (
            {"eval": {"super_resolution": [1]}},
            "eval.super_resolution: expected a list of resolutions",
        ),
        ({"data": 3}, "data: expected a mapping of keys; got 3"),
        ({"name": "../escape"}, "name: expected letters, digits"),
        ({"name": "a/b"}, "name: expected letters, digits"),
        ({"model": {"preset": "upt-1b"}}, "model.preset: expected one of ['grid-17m'"),
        ({"training": {"batch_size": 10**9}}, "training.batch_size: expected at most 65536"),
        ({"training": {"unroll_steps": 0}}, "training.unroll_steps: expected an integer >= 1"),
        ({"training": {"loss": "l1"}}, "training.loss: expected one of 'mse', 'relative'"),
        ({"data": {"query_points": 1024}}, "data.query_points: expected null or at most the 256"),
    ],
)
def test_bad_values_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict(values)
    assert message in str(error.value)


@pytest.mark.parametrize("override", ["training.max_steps", "=3", "training..lr=1", "a.b=[1,"])
def test_bad_override_syntax_is_rejected(override: str) -> None:
    with pytest.raises(ConfigError, match="bad override"):
        parse_override(override)


def test_override_into_a_value_is_rejected() -> None:
    with pytest.raises(ConfigError, match="'name' is not a section"):
        load_config("burgers", ["name.x=1"])


def test_empty_configs_and_folders_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(str(empty))
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(str(folder))
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(str(tmp_path))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="no config named 'nonexistent' in configs/; available: burgers, "
    ):
        load_config("nonexistent")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("training: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(str(broken))
