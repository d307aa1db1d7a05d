import torch

from upt_models.encoder import SupernodePooling
from upt_models.graph import neighbour_graph, select_supernodes


def test_pooling_is_the_mean_of_per_edge_messages() -> None:
    """Against a loop over edges with the textbook message MLP(concat(source, supernode))."""
    torch.manual_seed(0)
    pool = SupernodePooling(num_channels=2, coord_dim=2, dim=8, embed_scale=10.0)
    fields, coords = torch.randn(2, 30, 2), torch.rand(2, 30, 2)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 17:] = False
    index, valid = select_supernodes(mask, 6, random=True)
    neighbours, edge_valid = neighbour_graph(coords, mask, index, valid, 5, radius=0.3)
    pooled = pool(fields, coords, index, neighbours, edge_valid)

    points = pool.field_embed(fields) + pool.pos_embed(coords)
    for b in range(2):
        for s in range(6):
            centre = points[b, index[b, s]]
            messages = [
                pool.message(torch.cat([points[b, j], centre]))
                for j, ok in zip(neighbours[b, s], edge_valid[b, s], strict=True)
                if ok
            ]
            expected = torch.stack(messages).mean(0) if messages else torch.zeros(8)
            torch.testing.assert_close(pooled[b, s], expected, atol=1e-5, rtol=1e-5)
