"""Layers shared by the architectures."""

from __future__ import annotations

import torch
from torch import nn

_MAX_DENSE_POSITIONS = 64  # up to an 8x8 map; the P x P matrices stay small


def _tap_index(h: int, w: int, kh: int, kw: int) -> torch.Tensor:
    """(P, P) index into a channel's flattened kernel plus one trailing zero: entry [p, q] is the tap
    that carries input position q to output position p in a 'same'-padded convolution."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    dy = ys[None, :] - ys[:, None] + kh // 2
    dx = xs[None, :] - xs[:, None] + kw // 2
    inside = (dy >= 0) & (dy < kh) & (dx >= 0) & (dx < kw)
    return torch.where(inside, dy * kw + dx, torch.full_like(dy, kh * kw))


class DenseDepthwiseConv(nn.Conv2d):
    """A 'same'-padded depthwise convolution computed, on small maps, as one P x P matrix per channel.

    On 32x32 digits ConvNeXt's 7x7 depthwise kernels run over 8x8 to 1x1 maps. PyTorch's CPU kernel
    for that backward pass took half of a training step; the same sum as a batched matmul over
    channels is 4-15x faster. Outputs, gradients, parameters and state_dict keys are the same.
    """

    _index: dict[tuple[int, int, str], torch.Tensor]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        if h * w > _MAX_DENSE_POSITIONS:
            return super().forward(x)
        kh, kw = self.kernel_size
        key = (h, w, str(x.device))
        cache = self.__dict__.setdefault("_index", {})
        if key not in cache:
            cache[key] = _tap_index(h, w, kh, kw).to(x.device)
        taps = torch.cat([self.weight.reshape(c, kh * kw), self.weight.new_zeros(c, 1)], 1)
        mat = taps[:, cache[key]]  # (C, P, Q)
        if h * w <= 4:  # a broadcast product beats bmm on the tiniest maps
            y = (x.reshape(b, c, 1, h * w) * mat[None]).sum(-1).reshape(b, c, h, w)
        else:
            xs = x.reshape(b, c, h * w).transpose(0, 1).contiguous()  # (C, B, Q)
            y = torch.bmm(xs, mat.transpose(1, 2).contiguous())  # (C, B, P)
            y = y.transpose(0, 1).reshape(b, c, h, w)
        return y if self.bias is None else y + self.bias.view(1, c, 1, 1)


def _same_depthwise(m: nn.Module) -> bool:
    if not isinstance(m, nn.Conv2d) or isinstance(m, DenseDepthwiseConv):
        return False
    kh, kw = m.kernel_size
    return (
        m.groups == m.in_channels == m.out_channels
        and m.stride == (1, 1)
        and m.dilation == (1, 1)
        and m.padding_mode == "zeros"
        and kh % 2 == 1
        and kw % 2 == 1
        and m.padding == (kh // 2, kw // 2)
    )


def use_dense_depthwise(model: nn.Module) -> int:
    """Swap, in place, every 'same'-padded depthwise Conv2d for a `DenseDepthwiseConv` sharing its
    parameters (a training speed-up; export builds the plain model). Returns how many were swapped."""
    n = 0
    for parent in list(model.modules()):
        for name, conv in list(parent.named_children()):
            if not _same_depthwise(conv):
                continue
            assert isinstance(conv, nn.Conv2d)
            new = DenseDepthwiseConv(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,  # type: ignore[arg-type]
                padding=conv.padding,  # type: ignore[arg-type]
                groups=conv.groups,
                bias=conv.bias is not None,
                device=conv.weight.device,
                dtype=conv.weight.dtype,
            )
            new.weight = conv.weight
            new.bias = conv.bias
            new.train(conv.training)
            setattr(parent, name, new)
            n += 1
    return n
