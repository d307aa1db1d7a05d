"""What a comparison runs: the entries (golden, inverse losses, ablation, peers) and the settings.

An entry is a model and a training recipe; every entry of a comparison trains on the same store,
with the same seeds, batch schedule and step budget. UPT entries are the base config plus dotted
overrides; peers name their runner and its hyperparameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

LAMBDAS = (0.0, 0.1, 0.5, 1.0)
INVERSE_DEFAULT = (0.5, 0.5)

Ablation = Literal["tied", "grid", "none"]


@dataclass(frozen=True)
class Entry:
    """One line of the leaderboard. `runner` is 'upt', 'fno' or 'gino'; `options` go to that
    runner."""

    name: str
    runner: Literal["upt", "fno", "gino"]
    description: str
    overrides: tuple[str, ...] = ()
    options: dict[str, float] = field(default_factory=dict)


GOLDEN = Entry(
    "golden",
    "upt",
    "the base config with the inverse losses off",
    ("training.use_upt_inverse_losses=false",),
)


def inverse_entry(lambda_enc: float, lambda_dec: float, name: str | None = None) -> Entry:
    return Entry(
        name or f"inv enc={lambda_enc:g} dec={lambda_dec:g}",
        "upt",
        f"inverse losses on, lambda_inv_enc={lambda_enc:g}, lambda_inv_dec={lambda_dec:g}",
        (
            "training.use_upt_inverse_losses=true",
            f"training.lambda_inv_enc={lambda_enc}",
            f"training.lambda_inv_dec={lambda_dec}",
        ),
    )


INVERSE = inverse_entry(*INVERSE_DEFAULT, name="inverse losses")


def ablation_pairs(ablation: Ablation) -> list[tuple[float, float]]:
    """(lambda_inv_enc, lambda_inv_dec) pairs; 'tied' sets both to each value, 'grid' crosses them.

    (0, 0) trains exactly as the golden config does (both terms weigh nothing; their sampling uses
    its own generator) and (0.5, 0.5) is the inverse-loss entry, so neither is run twice.
    """
    if ablation == "none":
        pairs = []
    elif ablation == "tied":
        pairs = [(value, value) for value in LAMBDAS]
    else:
        pairs = [(enc, dec) for enc in LAMBDAS for dec in LAMBDAS]
    return [pair for pair in pairs if pair not in ((0.0, 0.0), INVERSE_DEFAULT)]


def _sizes(options: dict[str, float]) -> str:
    return ", ".join(f"{key}={value:g}" for key, value in options.items())


def fno_entry(quick: bool, grid_of_clouds: bool = False) -> Entry:
    """neuraloperator's FNO on the full training grid; the quick size only checks that the path
    runs. On a point-cloud workload it gets the store's full regular grid instead of the clouds:
    an advantage the leaderboard states."""
    options = (
        {"n_modes": 4, "hidden_channels": 8, "n_layers": 2}
        if quick
        else {"n_modes": 16 if not grid_of_clouds else 12, "hidden_channels": 64, "n_layers": 4}
    )
    overrides = ("data.input_points=null", "data.query_points=null")
    if grid_of_clouds:
        overrides += ("data.points=grid",)
    name = "FNO on the full grid (neuraloperator)" if grid_of_clouds else "FNO (neuraloperator)"
    return Entry(name, "fno", f"neuralop.models.FNO, {_sizes(options)}", overrides, options)


def gino_entry(quick: bool) -> Entry:
    """neuraloperator's GINO on the same point clouds as UPT (pure-torch neighbour search)."""
    options = (
        {
            "latent_side": 8,
            "n_modes": 3,
            "hidden_channels": 8,
            "n_layers": 1,
            "radius": 0.2,
            "gno_hidden": 8,
        }
        if quick
        else {
            "latent_side": 32,
            "n_modes": 12,
            "hidden_channels": 32,
            "n_layers": 4,
            "radius": 0.05,
            "gno_hidden": 64,
        }
    )
    return Entry(
        "GINO (neuraloperator)", "gino", f"neuralop.models.GINO, {_sizes(options)}", (), options
    )


def entries_for(workload: str, ablation: Ablation, peers: bool, quick: bool) -> list[Entry]:
    """Golden, inverse losses, the ablation, then the peers: the FNO for Burgers; GINO on the
    clouds and the FNO on the full grid for ns2d."""
    entries = [GOLDEN, INVERSE, *(inverse_entry(e, d) for e, d in ablation_pairs(ablation))]
    if peers and workload == "ns2d":
        entries += [gino_entry(quick), fno_entry(quick, grid_of_clouds=True)]
    elif peers:
        entries.append(fno_entry(quick))
    return entries
