"""The inverse losses against values computed by hand, and their error messages."""

import pytest
import torch
from torch import Tensor

from upt_losses import upt_inverse_decoding_loss, upt_inverse_encoding_loss


def scale_decoder(latent: Tensor, query_coords: Tensor) -> Tensor:
    """u(x) = s * x with s = latent[:, 0, 0]."""
    return latent[:, :1, :1] * query_coords


def mean_decoder(latent: Tensor, query_coords: Tensor) -> Tensor:
    """u(x) = mean(latent) * x."""
    return latent.mean(dim=(1, 2)).view(-1, 1, 1) * query_coords


def mean_encoder(fields: Tensor, coords: Tensor) -> Tensor:
    """Every one of 2 tokens (width 1) is the mean of the field."""
    return fields.mean(dim=(1, 2)).view(-1, 1, 1).expand(-1, 2, 1)


COORDS = torch.tensor([[[0.0], [1.0], [2.0]], [[1.0], [2.0], [3.0]]])
FIELDS = torch.tensor([[[0.0], [2.0], [2.0]], [[1.0], [1.0], [1.0]]])
SCALES = torch.tensor([1.0, 0.5]).view(2, 1, 1)


def test_inverse_encoding_matches_hand_computation() -> None:
    # Sample 0 decodes to [0, 1, 2]: squared errors [0, 1, 0], mean 1/3.
    # Sample 1 decodes to [0.5, 1, 1.5]: squared errors [0.25, 0, 0.25], mean 1/6.
    loss = upt_inverse_encoding_loss(FIELDS, COORDS, SCALES, scale_decoder)
    assert loss.item() == pytest.approx((1 / 3 + 1 / 6) / 2)
    weighted = upt_inverse_encoding_loss(FIELDS, COORDS, SCALES, scale_decoder, weight=0.5)
    assert weighted.item() == pytest.approx(0.125)


def test_inverse_encoding_ignores_padded_points() -> None:
    # Sample 1 loses its last point: squared errors [0.25, 0], mean 1/8. The padded field is NaN.
    mask = torch.tensor([[True, True, True], [True, True, False]])
    fields = FIELDS.clone()
    fields[1, 2] = float("nan")
    loss = upt_inverse_encoding_loss(fields, COORDS, SCALES, scale_decoder, mask=mask)
    assert loss.item() == pytest.approx((1 / 3 + 1 / 8) / 2)


def test_inverse_decoding_matches_hand_computation() -> None:
    # Sample 0: latent [1, 3], mean 2; decoded at [0, 1, 2] -> [0, 2, 4]; re-encoded [2, 2];
    #   squared errors against [1, 3]: [1, 1], mean 1.
    # Sample 1: latent [0, 2], mean 1; decoded at [1, 1, 4] -> [1, 1, 4]; re-encoded [2, 2];
    #   squared errors against [0, 2]: [4, 0], mean 2.
    latent = torch.tensor([[[1.0], [3.0]], [[0.0], [2.0]]])
    query_coords = torch.tensor([[[0.0], [1.0], [2.0]], [[1.0], [1.0], [4.0]]])
    loss = upt_inverse_decoding_loss(latent, mean_decoder, mean_encoder, query_coords)
    assert loss.item() == pytest.approx(1.5)
    weighted = upt_inverse_decoding_loss(
        latent, mean_decoder, mean_encoder, query_coords, weight=2.0
    )
    assert weighted.item() == pytest.approx(3.0)


def test_inverse_decoding_gradient_matches_hand_computation() -> None:
    # One sample, latent z = [1, 3] (L=2, D=1), query points [0, 1, 2] with mean 1.
    # r = mean(z) * mean(x) = 2 for both tokens; loss = ((r - z1)^2 + (r - z2)^2) / 2.
    # Target detached: d loss / d z_i = (r - z1 + r - z2) * dr/dz_i = 0 * 0.5 = 0.
    # Target attached: add -(r - z_i): [-1, 1].
    query_coords = torch.tensor([[[0.0], [1.0], [2.0]]])
    for detach_target, expected in [(True, [0.0, 0.0]), (False, [-1.0, 1.0])]:
        latent = torch.tensor([[[1.0], [3.0]]], requires_grad=True)
        loss = upt_inverse_decoding_loss(
            latent, mean_decoder, mean_encoder, query_coords, detach_target=detach_target
        )
        loss.backward()
        assert latent.grad.flatten().tolist() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("fields", "coords", "latent", "message"),
    [
        (
            torch.zeros(2, 3),
            COORDS,
            SCALES,
            r"input_fields must have shape \(B, N, C\); got \(2, 3\)",
        ),
        (
            FIELDS,
            torch.zeros(2, 4, 1),
            SCALES,
            r"input_fields \(2, 3, 1\) and input_coords \(2, 4, 1\)",
        ),
        (FIELDS, COORDS, torch.zeros(3, 1, 1), r"latent \(3, 1, 1\) has batch size 3"),
        (FIELDS, COORDS, torch.zeros(2, 1), r"latent must have shape \(B, L, D\); got \(2, 1\)"),
        (FIELDS, torch.zeros(2, 3, 1, dtype=torch.long), SCALES, "floating-point"),
    ],
)
def test_inverse_encoding_rejects_bad_shapes(
    fields: Tensor, coords: Tensor, latent: Tensor, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        upt_inverse_encoding_loss(fields, coords, latent, scale_decoder)


def test_decoder_output_of_wrong_shape_is_named() -> None:
    def two_channel_decoder(latent: Tensor, query_coords: Tensor) -> Tensor:
        return query_coords.expand(-1, -1, 2)

    with pytest.raises(
        ValueError, match=r"decoder must return shape .*\(2, 3, 1\); got \(2, 3, 2\)"
    ):
        upt_inverse_encoding_loss(FIELDS, COORDS, SCALES, two_channel_decoder)


def test_encoder_output_of_wrong_shape_is_named() -> None:
    latent = torch.zeros(2, 2, 1)

    def wide_encoder(fields: Tensor, coords: Tensor) -> Tensor:
        return torch.zeros(2, 2, 5)

    with pytest.raises(
        ValueError, match=r"encoder must return shape .*\(2, 2, 1\); got \(2, 2, 5\)"
    ):
        upt_inverse_decoding_loss(latent, mean_decoder, wide_encoder, COORDS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_query_points": 0}, "num_query_points must be at least 1"),
        ({"num_query_points": 2.5}, "num_query_points must be a positive int"),
        ({"weight": -1.0}, "weight must be finite and non-negative"),
        ({"weight": float("nan")}, "weight must be finite and non-negative"),
        ({"mask": torch.ones(2, 3)}, "mask must be a bool tensor"),
        ({"mask": torch.ones(2, 4, dtype=torch.bool)}, r"mask must have shape \(B, N\) = \(2, 3\)"),
        ({"mask": torch.tensor([[True] * 3, [False] * 3])}, r"mask rows \[1\] have no real points"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        upt_inverse_encoding_loss(FIELDS, COORDS, SCALES, scale_decoder, **kwargs)
    with pytest.raises(ValueError, match=message):
        upt_inverse_decoding_loss(
            torch.zeros(2, 2, 1), mean_decoder, mean_encoder, COORDS, **kwargs
        )


def test_padding_needs_an_encoder_that_takes_a_mask() -> None:
    mask = torch.tensor([[True, True, True], [True, False, False]])
    with pytest.raises(ValueError, match="encoder must accept a `mask=` keyword"):
        upt_inverse_decoding_loss(
            torch.zeros(2, 2, 1), mean_decoder, mean_encoder, COORDS, mask=mask, num_query_points=2
        )
