"""nRMSE and the autoencoder floor after a short, seeded run, with and without the inverse losses.

Both runs are `configs/burgers_small.yaml` (inverse losses off / on: same steps, seeds and data on
a small generated store) through upt-train's own `run`, on one thread. The suite tracks each
nRMSE, the reconstruction nRMSE decode(encode(u)) (the floor under anything predicted through the
latent, so that it is never hidden), and the ratio inverse / golden (below 1: the inverse losses
help at this budget).
"""

import tempfile
from pathlib import Path

from upt_train import Distributed, load_config, run

from .common import INVERSE, LABELS, require_device

METRICS = {
    "one-step": "one_step_nrmse",
    "latent rollout": "latent_rollout_nrmse",
    "autoregressive rollout": "autoregressive_rollout_nrmse",
    "reconstruction": "reconstruction_nrmse",
}


def short_run(label: str, folder: Path) -> dict[str, float]:
    config = load_config(
        "burgers_small",
        [
            f"data.store={folder / 'small.zarr'}",
            f"training.use_upt_inverse_losses={INVERSE[label]}",
        ],
    )
    world = Distributed(rank=0, world_size=1, device=require_device("cpu"))
    result = run(config, folder / label, progress=False, world=world)
    return {key: float(result.summary[key]) for key in METRICS.values()}


def setup_cache():
    """Train both configs once per commit; the track_ benchmarks read the figures."""
    with tempfile.TemporaryDirectory() as folder:
        return {label: short_run(label, Path(folder)) for label in LABELS}


setup_cache.timeout = 600


def track_nrmse(results, config, metric):
    """Test nRMSE (PDEBench, physical units) after the short seeded run."""
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
