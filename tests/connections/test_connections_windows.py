"""Conv2d, LocallyConnected2d and MaxPool2d: hand-computed examples, torch references, geometry errors."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from spikerl.connections import Conv2d, LocallyConnected2d, MaxPool2d

# A 4 x 4 single-channel spike map used by the hand-computed examples.
MAP = torch.tensor([[1, 0, 0, 1],
                    [0, 0, 1, 1],
                    [0, 0, 0, 0],
                    [1, 1, 0, 1]], dtype=torch.bool)


def test_output_shape_formula():
    for h, w, k, s, p in [(28, 28, 5, 1, 0), (28, 28, 5, 2, 2), (7, 9, 3, 3, 1), (5, 5, 5, 1, 0)]:
        conv = Conv2d((2, h, w), 4, k, stride=s, padding=p)
        assert conv.target_shape == (4, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        assert LocallyConnected2d((2, h, w), 4, k, stride=s, padding=p).target_shape == conv.target_shape


def test_conv_counts_spikes_per_window():
    """All-ones 2x2 kernel, stride 2: each output is the number of spikes in its 2x2 block."""
    conv = Conv2d((1, 4, 4), 1, 2, stride=2, w=torch.ones(1, 1, 2, 2))
    expected = torch.tensor([[1.0, 3.0], [2.0, 1.0]])
    assert torch.equal(conv(MAP.reshape(1, 1, 4, 4))[0, 0], expected)


def test_conv_padding_sees_zeros():
    """3x3 ones kernel with padding 1: output = number of spikes in the 3x3 neighbourhood (clipped)."""
    conv = Conv2d((1, 4, 4), 1, 3, padding=1, w=torch.ones(1, 1, 3, 3))
    m = MAP.float()
    expected = torch.tensor([[sum(m[r, q] for r in range(y - 1, y + 2) for q in range(x - 1, x + 2)
                                  if 0 <= r < 4 and 0 <= q < 4) for x in range(4)] for y in range(4)])
    assert torch.equal(conv(MAP.reshape(1, 1, 4, 4))[0, 0], expected)


def test_conv_matches_torch_and_its_weight_gradient():
    g = torch.Generator().manual_seed(0)
    conv = Conv2d((3, 9, 8), 4, (3, 2), stride=(2, 3), padding=(1, 1), generator=g)
    x = (torch.rand(5, 3, 9, 8, generator=g) < 0.3).float()
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.w, stride=(2, 3), padding=(1, 1)))
    post = torch.rand(5, *conv.target_shape, generator=g)
    ref = torch.nn.grad.conv2d_weight(x, conv.w.shape, post, stride=(2, 3), padding=(1, 1))
    torch.testing.assert_close(conv.pair(x, post), ref)


def test_conv_norm_is_per_filter():
    w = torch.stack([torch.full((2, 2, 2), 1.0), torch.arange(8.0).reshape(2, 2, 2)])  # sums 8 and 28
    conv = Conv2d((2, 3, 3), 2, 2, w=w, norm=4.0)
    conv.normalize()
    torch.testing.assert_close(conv.w[0], w[0] * 4.0 / 8.0)
    torch.testing.assert_close(conv.w[1], w[1] * 4.0 / 28.0)


def test_local_with_equal_weights_everywhere_equals_conv():
    g = torch.Generator().manual_seed(1)
    conv = Conv2d((2, 6, 7), 3, 3, stride=2, padding=1, generator=g)
    c_out, h_out, w_out = conv.target_shape
    shared = conv.w[:, None, None].expand(c_out, h_out, w_out, 2, 3, 3)
    local = LocallyConnected2d((2, 6, 7), 3, 3, stride=2, padding=1, w=shared)
    x = torch.rand(4, 2, 6, 7, generator=g) < 0.4
    torch.testing.assert_close(local(x), conv(x))
    post = (torch.rand(4, *conv.target_shape, generator=g) < 0.5).float()
    # the shared filter's update is the sum of the local updates over positions
    torch.testing.assert_close(local.pair(x, post).sum(dim=(1, 2)), conv.pair(x, post))


def test_local_positions_are_independent():
    """Only output position (0, 1) has nonzero weights: only that target unit receives current."""
    w = torch.zeros(1, 2, 2, 1, 2, 2)
    w[0, 0, 1] = torch.tensor([[1.0, 2.0], [4.0, 8.0]])
    local = LocallyConnected2d((1, 4, 4), 1, 2, stride=2, w=w)
    out = local(MAP.reshape(1, 1, 4, 4))[0, 0]
    # block (rows 0-1, cols 2-3) of MAP is [[0, 1], [1, 1]] -> 2 + 4 + 8
    assert torch.equal(out, torch.tensor([[0.0, 14.0], [0.0, 0.0]]))


def test_local_norm_is_per_target_unit():
    g = torch.Generator().manual_seed(2)
    local = LocallyConnected2d((2, 5, 5), 2, 3, generator=g, norm=1.5)
    local.normalize()
    sums = local.w.sum(dim=(3, 4, 5))
    torch.testing.assert_close(sums, torch.full_like(sums, 1.5))


@pytest.mark.parametrize("cls", [Conv2d, LocallyConnected2d])
def test_window_geometry_errors(cls):
    with pytest.raises(ValueError, match=r"kernel \(5, 5\) is larger than the padded input \(4, 4\)"):
        cls((1, 4, 4), 2, 5)
    cls((1, 4, 4), 2, 5, padding=1)  # fits once padded
    with pytest.raises(ValueError, match=r"kernel \(2, 6\) is larger"):
        cls((1, 4, 4), 2, (2, 6))
    with pytest.raises(ValueError, match=r"\(channels, height, width\)"):
        cls((4, 4), 2, 2)
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1"):
        cls((1, 4, 4), 2, 0)
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        cls((1, 4, 4), 2, 2, stride=(1, 0))
    with pytest.raises(ValueError, match="padding must be an int >= 0"):
        cls((1, 4, 4), 2, 2, padding=-1)
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        cls((1, 4, 4), 0, 2)


def test_max_pool_is_or_of_each_window():
    pool = MaxPool2d((1, 4, 4), 2)
    assert pool.target_shape == (1, 2, 2)
    # block (0, 1) has three spikes, block (1, 1) one: both give exactly 1
    expected = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    assert torch.equal(pool(MAP.reshape(1, 1, 4, 4))[0, 0], expected)
    empty_block = MAP.clone()
    empty_block[0:2, 0:2] = False
    assert torch.equal(pool(empty_block.reshape(1, 1, 4, 4))[0, 0], torch.tensor([[0.0, 1.0], [1.0, 1.0]]))


def test_max_pool_overlapping_padded_windows_per_channel():
    g = torch.Generator().manual_seed(3)
    pool = MaxPool2d((2, 5, 6), 3, stride=2, padding=1, current_mv=7.5)
    x = torch.rand(3, 2, 5, 6, generator=g) < 0.15
    out = pool(x)
    h_out, w_out = (5 + 2 - 3) // 2 + 1, (6 + 2 - 3) // 2 + 1
    assert out.shape == (3, 2, h_out, w_out)
    expected = torch.zeros(3, 2, h_out, w_out)
    for b in range(3):
        for c in range(2):
            for y in range(h_out):
                for xx in range(w_out):
                    rows = slice(max(0, 2 * y - 1), 2 * y + 2)
                    cols = slice(max(0, 2 * xx - 1), 2 * xx + 2)
                    expected[b, c, y, xx] = 7.5 * float(x[b, c, rows, cols].any())
    assert torch.equal(out, expected)
    train = torch.rand(4, 3, 2, 5, 6, generator=g) < 0.15
    assert torch.equal(pool.forward_many(train), torch.stack([pool(train[t]) for t in range(4)]))


def test_max_pool_has_nothing_to_learn():
    pool = MaxPool2d((1, 4, 4), 2)
    assert pool.weight.numel() == 0
    for call in (lambda: pool.pair(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2)),
                 lambda: pool.pair_per_sample(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2)),
                 lambda: pool.apply_update(torch.zeros(0)),
                 lambda: pool.incoming_sums(),
                 lambda: pool.set_mask(torch.ones(0, dtype=torch.bool))):
        with pytest.raises(TypeError, match="MaxPool2d has no weights and cannot learn"):
            call()
    pool.normalize()  # no norm: nothing to do


def test_max_pool_config_dtype_bias_and_errors():
    pool = MaxPool2d((2, 6, 6), (3, 2), stride=(1, 2), padding=(1, 1), current_mv=20.0, bias=True)
    cfg = json.loads(json.dumps(pool.config()))
    rebuilt = MaxPool2d(**{k: v for k, v in cfg.items() if k != "type"})
    assert rebuilt.target_shape == pool.target_shape and rebuilt.config() == pool.config()
    pool.to(torch.float64)
    with torch.no_grad():
        pool.bias.fill_(0.25)
    out = pool(torch.zeros(1, 2, 6, 6, dtype=torch.bool))
    assert out.dtype == torch.float64 and torch.equal(out, torch.full_like(out, 0.25))
    with pytest.raises(ValueError, match="at most half the kernel"):
        MaxPool2d((1, 4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        MaxPool2d((1, 4, 4), 5)


def test_the_windowed_base_class_names_what_is_missing():
    from spikerl.connections.windowed import WindowedConnection

    with pytest.raises(NotImplementedError, match="WindowedConnection is a base class"):
        WindowedConnection((1, 4, 4), 2, 3)
