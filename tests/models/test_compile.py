"""The model traces into single graphs under torch.compile.

Inductor code generation for the CPU takes over a minute, so this uses the `eager` backend with
fullgraph=True: it fails on any graph break in the encoder, approximator or decoder.
"""

from collections.abc import Callable

import torch

from upt_models import UPT

ModelFactory = Callable[..., UPT]


def test_modules_compile_without_graph_breaks(make_model: ModelFactory) -> None:
    model = make_model(num_cond_scalars=1, condition_codec=True).train()
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(0)
    fields, coords = torch.randn(2, 30, 2, generator=gen), torch.rand(2, 30, 2, generator=gen)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 20:] = False
    cond = model.conditioner(torch.tensor([[0.1], [0.2]]))
    compiled = {
        name: torch.compile(getattr(model, name), fullgraph=True, backend="eager")
        for name in ("encoder", "approximator", "decoder")
    }
    model.eval()
    latent = compiled["encoder"](fields, coords, mask, cond)
    torch.testing.assert_close(latent, model.encoder(fields, coords, mask, cond))
    out = compiled["decoder"](compiled["approximator"](latent, cond), coords, cond)
    torch.testing.assert_close(out, model.decoder(model.approximator(latent, cond), coords, cond))
    out.sum().backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
