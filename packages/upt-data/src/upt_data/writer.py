"""Writing a field store so that an interrupted write never looks finished.

Local stores are written under a hidden temporary name next to the target and renamed when
complete; stores at other fsspec URLs carry `complete = false` until the last write.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from upt_data.errors import InvalidArgumentError, StoreExistsError
from upt_data.store import LAYOUT_VERSION, SPLITS, is_local, local_path, store_exists, zarr_store


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(final: Path) -> None:
    """Delete the hidden partial copies of `final` that writers killed mid-way left behind
    (`.NAME.partial-PID` whose PID no longer runs)."""
    for partial in final.parent.glob(f".{final.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


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
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise InvalidArgumentError(f"cannot create {final.parent}: {error}") from error
            remove_stale_partials(final)
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

    def add_clouds(self, split: str, counts: list[int], num_frames: int, channels: int) -> None:
        """Make room for one point cloud per trajectory of `split` (`counts` points each):
        `{split}/cloud_offsets` (trajectory + 1,), `{split}/cloud_coords` (point, coord_dim) and
        `{split}/cloud_fields` (point, time, channel), the points of all clouds one after
        another, so ragged clouds are stored without padding."""
        offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        total, dims = int(offsets[-1]), self.group["coords"].shape[1]
        compressor = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
        chunk = max(1, min(total, 8192))
        self.group.create_array(f"{split}/cloud_offsets", data=offsets)
        for name, shape in (
            ("cloud_coords", (total, dims)),
            ("cloud_fields", (total, num_frames, channels)),
        ):
            self.group.create_array(
                f"{split}/{name}",
                shape=shape,
                chunks=(chunk, *shape[1:]),
                dtype="float32",
                compressors=compressor,
                fill_value=np.nan,
            )

    def write_cloud(self, split: str, index: int, coords: np.ndarray, fields: np.ndarray) -> None:
        """Cloud `index` of `split`: coords (n, coord_dim), fields (n, time, channel)."""
        offsets = self.group[f"{split}/cloud_offsets"]
        start, stop = (int(v) for v in offsets[index : index + 2])
        if len(coords) != stop - start:
            raise InvalidArgumentError(
                f"cloud {index} of {split} was given {len(coords)} points; room was made for "
                f"{stop - start}"
            )
        self.group[f"{split}/cloud_coords"][start:stop] = coords.astype(np.float32)
        self.group[f"{split}/cloud_fields"][start:stop] = fields.astype(np.float32)

    def write(self, split: str, start: int, fields: np.ndarray) -> None:
        """fields (k, time, point, channel) into trajectories start .. start + k of `split`."""
        self.group[f"{split}/fields"][start : start + len(fields)] = fields.astype(np.float32)
        if split == "train":
            values = fields.reshape(-1, fields.shape[-1]).astype(np.float64)
            self._sum += values.sum(axis=0)
            self._sum_squares += np.square(values).sum(axis=0)
            self._count += len(values)

    def finish(self) -> str:
        """Record train-split statistics, mark complete, move into place; return the URL.

        A train split without data, or whose field does not vary, is refused (there is nothing
        to normalize by). When another process finished the same store first, that one stays
        and this copy is dropped."""
        if self._count == 0:
            raise InvalidArgumentError("the train split holds no data; a store needs some")
        mean = self._sum / self._count
        std = np.sqrt(np.maximum(self._sum_squares / self._count - mean**2, 0.0))
        constant = np.flatnonzero(std <= 1e-12 * np.maximum(np.abs(mean), 1.0)).tolist()
        if constant:
            raise InvalidArgumentError(
                f"the train split's field is constant in channels {constant} "
                "(standard deviation 0): there is nothing to learn or to normalize by"
            )
        self.group.attrs.update(
            {"normalization": {"mean": mean.tolist(), "std": std.tolist()}, "complete": True}
        )
        if self.target != self.url:
            try:
                os.rename(self.target, local_path(self.url))
            except OSError:
                if not store_exists(self.url):
                    raise
                shutil.rmtree(self.target, ignore_errors=True)  # another process won the race
        return self.url

    def abort(self) -> None:
        """Remove a local partial store (remote ones stay marked incomplete)."""
        if self.target != self.url:
            shutil.rmtree(self.target, ignore_errors=True)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *details: object) -> None:
        """Finish when the block completed, abort when it raised (or when finishing did)."""
        if kind is not None:
            self.abort()
            return
        try:
            self.finish()
        except BaseException:
            self.abort()
            raise
