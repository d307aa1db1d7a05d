"""Writing a field store so that an interrupted write never looks finished.

Local stores are written under a hidden temporary name next to the target and renamed when
complete; stores at other fsspec URLs carry `complete = false` until the last write.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from upt_data.errors import StoreExistsError
from upt_data.store import LAYOUT_VERSION, SPLITS, is_local, local_path, store_exists, zarr_store


class StoreWriter:
    """Create a store, fill its splits batch by batch, then `finish()` it."""

    def __init__(
        self,
        url: str,
        coords: np.ndarray,
        times: np.ndarray,
        split_sizes: dict[str, int],
        num_channels: int,
        attrs: dict[str, Any],
    ) -> None:
        if store_exists(url):
            raise StoreExistsError(f"{url} already exists; remove it or choose another --out")
        self.url = url
        self.target = url
        if is_local(url):
            final = local_path(url)
            final.parent.mkdir(parents=True, exist_ok=True)
            self.target = str(final.with_name(f".{final.name}.partial-{os.getpid()}"))
            shutil.rmtree(self.target, ignore_errors=True)
        self.group = zarr.open_group(zarr_store(self.target, read_only=False), mode="w")
        self.group.attrs.update({**attrs, "layout_version": LAYOUT_VERSION, "complete": False})
        self.group.create_array("coords", data=np.asarray(coords, dtype=np.float64))
        self.group.create_array("times", data=np.asarray(times, dtype=np.float64))
        compressor = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
        shape = (len(times), len(coords), num_channels)
        for split in SPLITS:
            self.group.create_array(
                f"{split}/fields",
                shape=(split_sizes[split], *shape),
                chunks=(1, *shape),
                dtype="float32",
                compressors=compressor,
                fill_value=np.nan,  # a chunk that goes missing reads as NaN, never as zeros
            )
        self._sum = np.zeros(num_channels)
        self._sum_squares = np.zeros(num_channels)
        self._count = 0

    def write(self, split: str, start: int, fields: np.ndarray) -> None:
        """fields (k, time, point, channel) into trajectories start .. start + k of `split`."""
        self.group[f"{split}/fields"][start : start + len(fields)] = fields.astype(np.float32)
        if split == "train":
            values = fields.reshape(-1, fields.shape[-1]).astype(np.float64)
            self._sum += values.sum(axis=0)
            self._sum_squares += np.square(values).sum(axis=0)
            self._count += len(values)

    def finish(self) -> str:
        """Record train-split statistics, mark complete, move into place; return the URL."""
        mean = self._sum / self._count
        std = np.sqrt(np.maximum(self._sum_squares / self._count - mean**2, 0.0))
        self.group.attrs.update(
            {
                "normalization": {"mean": mean.tolist(), "std": np.maximum(std, 1e-12).tolist()},
                "complete": True,
            }
        )
        if self.target != self.url:
            os.rename(self.target, local_path(self.url))
        return self.url

    def abort(self) -> None:
        """Remove a local partial store (remote ones stay marked incomplete)."""
        if self.target != self.url:
            shutil.rmtree(self.target, ignore_errors=True)
