"""The training speed-up layer computes exactly what the convolution it replaces computes."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from training.models import create_model
from training.models.layers import DenseDepthwiseConv, use_dense_depthwise


@pytest.mark.parametrize("side", [1, 2, 3, 4, 8, 9])
@pytest.mark.parametrize("kernel", [3, 7])
def test_dense_depthwise_matches_conv2d(side: int, kernel: int) -> None:
    torch.manual_seed(side * 10 + kernel)
    conv = nn.Conv2d(6, 6, kernel, padding=kernel // 2, groups=6)
    holder = nn.Sequential(copy.deepcopy(conv))
    assert use_dense_depthwise(holder) == 1 and isinstance(holder[0], DenseDepthwiseConv)
    x1 = torch.randn(5, 6, side, side, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    y1, y2 = conv(x1), holder(x2)
    torch.testing.assert_close(y2, y1, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(y1)
    y1.backward(grad)
    y2.backward(grad)
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(holder[0].weight.grad, conv.weight.grad, rtol=1e-4, atol=1e-5)
    bias = holder[0].bias
    assert bias is not None and conv.bias is not None
    torch.testing.assert_close(bias.grad, conv.bias.grad, rtol=1e-4, atol=1e-5)


def test_only_same_padded_depthwise_convs_are_swapped() -> None:
    model = nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1, groups=4),  # swapped
        nn.Conv2d(4, 4, 3, padding=0, groups=4),  # 'valid' padding: kept
        nn.Conv2d(4, 8, 3, padding=1),  # not depthwise: kept
        nn.Conv2d(8, 8, 3, padding=1, stride=2, groups=8),  # strided: kept
    )
    assert use_dense_depthwise(model) == 1
    assert [type(m) for m in model] == [DenseDepthwiseConv, nn.Conv2d, nn.Conv2d, nn.Conv2d]


def test_convnext_keeps_its_weights_and_outputs() -> None:
    torch.manual_seed(0)
    plain = create_model("convnext_tiny", drop_path_rate=0.0).eval()
    fast = copy.deepcopy(plain)
    assert use_dense_depthwise(fast) == 18  # every block's 7x7 depthwise convolution
    assert fast.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x), rtol=1e-4, atol=1e-4)
    assert use_dense_depthwise(create_model("lenet5")) == 0  # nothing to swap
