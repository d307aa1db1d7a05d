"""Configs, the training loop, evaluation and the `upt-train` command for UPT.

The public API: what the command, the harness and the benchmarks build on.
"""

from upt_train.batches import Batch, BatchSchedule, collate
from upt_train.config import (
    ConfigError,
    DataConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TrainingConfig,
    config_from_dict,
    load_config,
)
from upt_train.data import TrainingData, ensure_store, trajectories_for
from upt_train.distributed import Distributed
from upt_train.evaluate import Evaluation, evaluate
from upt_train.forecast import (
    Autoencoder,
    Forecaster,
    LatentForecaster,
    Persistence,
    UPTForecaster,
)
from upt_train.host_memory import keep_freed_host_memory
from upt_train.loop import build_model, data_geometry, make_optimizer, train
from upt_train.losses import next_step_loss, relative_squared_error
from upt_train.measure import peak_cuda_mib, peak_rss_mib, reset_peak, synchronize
from upt_train.metrics import correlation_per_step, correlation_time, nrmse, nrmse_per_step
from upt_train.objective import UPTObjective
from upt_train.report import read_metrics
from upt_train.run import (
    Learner,
    LearnerFactory,
    RunResult,
    evaluate_run,
    load_run_config,
    run,
    upt_learner,
)
from upt_train.schedule import learning_rate, set_learning_rate
from upt_train.seeds import derive_seed
from upt_train.step import (
    NonFiniteGuard,
    NonFiniteLossError,
    StepResult,
    compile_objective,
    train_step,
)
from upt_train.trajectories import PointSet, Trajectories, load_trajectories

__all__ = [
    "Autoencoder",
    "Batch",
    "BatchSchedule",
    "ConfigError",
    "DataConfig",
    "Distributed",
    "EvalConfig",
    "Evaluation",
    "Forecaster",
    "LatentForecaster",
    "Learner",
    "LearnerFactory",
    "ModelConfig",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "Persistence",
    "PointSet",
    "RunConfig",
    "RunResult",
    "StepResult",
    "TrainingConfig",
    "TrainingData",
    "Trajectories",
    "UPTForecaster",
    "UPTObjective",
    "build_model",
    "collate",
    "compile_objective",
    "config_from_dict",
    "correlation_per_step",
    "correlation_time",
    "data_geometry",
    "derive_seed",
    "ensure_store",
    "evaluate",
    "evaluate_run",
    "keep_freed_host_memory",
    "learning_rate",
    "load_config",
    "load_run_config",
    "load_trajectories",
    "make_optimizer",
    "next_step_loss",
    "nrmse",
    "nrmse_per_step",
    "peak_cuda_mib",
    "peak_rss_mib",
    "read_metrics",
    "relative_squared_error",
    "reset_peak",
    "run",
    "set_learning_rate",
    "synchronize",
    "train",
    "train_step",
    "trajectories_for",
    "upt_learner",
]
