"""SharedGeometry: a memo keyed by tensor identity that also serves first-sample views of what
it holds."""

import torch

from upt_models.sharing import FirstSamples, SharedGeometry


def test_views_are_made_once_per_tensor_and_count_and_known_by_identity() -> None:
    views, held = FirstSamples(), torch.arange(24.0).reshape(4, 3, 2)
    first = views.of(held, 3)
    assert views.of(held, 3) is first
    assert views.count(first, held) == 3
    assert views.count(views.of(held, 2), held) == 2
    assert views.count(held[:3], held) is None  # the same values, but not a view it made
    assert views.count(first, first) is None


def test_first_sample_views_of_held_keys_get_the_first_samples_of_the_value() -> None:
    memo, calls, views = SharedGeometry(), [], FirstSamples()

    def compute(coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(coords.shape[0])
        return coords * 2, coords.sum(dim=(1, 2))

    coords, cond = torch.rand(4, 5, 1), torch.rand(4, 2)
    memo.start(views)
    whole = memo.get((coords, None), lambda: compute(coords))
    part = views.of(coords, 2)
    served = memo.get((part, None), lambda: compute(part))
    assert calls == [4]
    torch.testing.assert_close(served, (coords[:2] * 2, coords[:2].sum(dim=(1, 2))))
    assert isinstance(served, tuple)
    assert served[0].data_ptr() == whole[0].data_ptr()
    memo.get((coords[:2], None), lambda: compute(coords[:2]))  # not made as a view: computed
    memo.get((coords, cond), lambda: compute(coords))
    # every key a view of its held key, of one count: served; views of two counts: computed
    memo.get((part, views.of(cond, 2)), lambda: compute(part))
    memo.get((part, views.of(cond, 3)), lambda: compute(part))
    assert calls == [4, 2, 4, 2]
    memo.stop()
    memo.get((coords, None), lambda: compute(coords))  # inactive: computed every time
    assert calls == [4, 2, 4, 2, 4]
