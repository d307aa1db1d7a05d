"""nRMSE after a short, seeded training run, for the inverse losses and for the golden config.

Both runs train the tiny default (configs/burgers.yaml, inverse losses off / on) for the same
steps, seeds and data on a small generated store, through upt-train's own loop and evaluation, on
one thread. The suite tracks each nRMSE and the ratio inverse / golden (below 1: the inverse
losses help at this budget).
"""

import tempfile
from pathlib import Path

from upt_train.config import load_config
from upt_train.data import TrainingData
from upt_train.distributed import Distributed
from upt_train.evaluate import evaluate
from upt_train.train import train

from .common import CONFIGS, INVERSE, LABELS, SMALL_STORE, require_device, small_store

METRICS = {
    "one-step": "one_step_nrmse",
    "latent rollout": "latent_rollout_nrmse",
    "re-encode rollout": "reencode_rollout_nrmse",
}
SHORT_RUN = [
    f"data.viscosity={SMALL_STORE.viscosity}",
    f"data.resolution={SMALL_STORE.resolution}",
    "data.train_resolution=64",
    "data.query_points=null",
    "eval.super_resolution=[128]",
    "training.max_steps=40",
    "training.warmup_steps=5",
    "training.batch_size=8",
    "training.seed=0",
    "training.inv_enc_query_points=null",
    "training.inv_dec_query_points=null",
    "training.log_every=40",
    "training.checkpoint_every=40",
    "device=cpu",
]


def short_run(label: str, store: str, run_dir: Path) -> dict[str, float]:
    config = load_config(
        str(CONFIGS / "burgers.yaml"),
        [
            *SHORT_RUN,
            f"data.store={store}",
            f"training.use_upt_inverse_losses={INVERSE[label]}",
        ],
    )
    data = TrainingData(config, rank=0, world_size=1)
    run_dir.mkdir(parents=True)
    world = Distributed(rank=0, world_size=1, device=require_device("cpu"))
    model = train(config, run_dir, data, world, resume=False)
    evaluation = evaluate(
        model,
        data.test_trajectories(world.device),
        rollout_steps=None,
        super_resolution_points={},
        correlation_threshold=config.eval.correlation_threshold,
        batch_size=config.eval.batch_size,
    )
    return {key: float(evaluation.scalars[key]) for key in METRICS.values()}


def setup_cache():
    """Train both configs once per commit; the track_ benchmarks read the figures."""
    with tempfile.TemporaryDirectory() as folder:
        store = small_store(Path(folder) / "small.zarr")
        return {label: short_run(label, store, Path(folder) / label) for label in LABELS}


setup_cache.timeout = 600


def track_nrmse(results, config, metric):
    """Test nRMSE (PDEBench, physical units) after 40 seeded steps."""
    return results[config][METRICS[metric]]


track_nrmse.params = (list(LABELS), list(METRICS))
track_nrmse.param_names = ["config", "metric"]
track_nrmse.unit = "nRMSE"


def track_nrmse_ratio_to_golden(results, metric):
    """nRMSE with the inverse losses / nRMSE of the golden config, same steps, seed and data."""
    return results["inverse losses"][METRICS[metric]] / results["golden"][METRICS[metric]]


track_nrmse_ratio_to_golden.params = list(METRICS)
track_nrmse_ratio_to_golden.param_names = ["metric"]
track_nrmse_ratio_to_golden.unit = "ratio"
