"""SharedGeometry: a memo keyed by tensor identity that also serves the first samples of what
it holds."""

import torch

from upt_models.sharing import SharedGeometry, leading_samples


def test_only_a_leading_slice_of_the_same_memory_counts_as_first_samples() -> None:
    held = torch.arange(24.0).reshape(4, 3, 2)
    assert leading_samples(held[:3], held) == 3
    assert leading_samples(held, held) == 4
    assert leading_samples(held[1:3], held) is None  # starts elsewhere
    assert leading_samples(held[:3].clone(), held) is None  # equal values, other memory
    assert leading_samples(held[:3, :2], held) is None  # fewer points per sample
    assert leading_samples(held[::2], held) is None  # every other sample
    assert leading_samples(held[:3].double(), held) is None


def test_first_samples_of_held_keys_get_the_first_samples_of_the_value() -> None:
    memo, calls = SharedGeometry(), []

    def compute(coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(coords.shape[0])
        return coords * 2, coords.sum(dim=(1, 2))

    coords = torch.rand(4, 5, 1)
    memo.start()
    whole = memo.get((coords, None), lambda: compute(coords))
    part = memo.get((coords[:2], None), lambda: compute(coords[:2]))
    assert calls == [4]
    torch.testing.assert_close(part, (coords[:2] * 2, coords[:2].sum(dim=(1, 2))))
    assert isinstance(part, tuple)
    assert part[0].data_ptr() == whole[0].data_ptr()
    other = coords[1:3]
    memo.get((other, None), lambda: compute(other))  # not a leading slice: computed
    memo.get((coords[:2], coords), lambda: compute(coords))  # a key that holds None there
    assert calls == [4, 2, 4]
    memo.stop()
    memo.get((coords, None), lambda: compute(coords))  # inactive: computed every time
    assert calls == [4, 2, 4, 4]
