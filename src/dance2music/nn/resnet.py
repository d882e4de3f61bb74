"""Dilated 1-D residual stacks and the down/up-sampling blocks of JukeBox's VQ-VAE.

Module and attribute names follow openai/jukebox (`vqvae/resnet.py`, `vqvae/encdec.py`) on purpose: the
state-dict keys they produce (``model.{i}.0``, ``model.{i}.1.model.{j}.model.{1,3}`` ...) are exactly those of
OpenAI's released ``vqvae.pth.tar``, so those weights load with no renaming. All tensors are ``[B x C x T]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class PolyphaseConvTranspose1d(nn.ConvTranspose1d):
    """`nn.ConvTranspose1d` computed as one ordinary conv producing ``stride`` phases, then interleaved.

    Same parameters and state-dict keys as ConvTranspose1d (so JukeBox weights load) and the same output, but
    PyTorch's CPU transposed convolution is several times slower than a plain conv of the same size, and the
    decoder is dominated by these layers. Output phase ``r`` at frame ``t`` (sample ``stride*t + r``) sums taps
    ``j`` with ``(r + padding - j) % stride == 0`` of input frame ``t + (r + padding - j) // stride``. Used when
    ``kernel_size - 2*padding == stride`` (JukeBox's kernel 2s, padding s/2), where the output is exactly
    ``stride * T`` long; other settings fall back to the stock implementation.
    """

    def fast_ok(self) -> bool:
        """Whether the polyphase path applies (kernel - 2*padding == stride, no dilation, groups or extra
        output padding)."""
        (k,), (s,), (p,) = self.kernel_size, self.stride, self.padding
        return (
            k - 2 * p == s and self.dilation == (1,) and self.groups == 1 and self.output_padding == (0,)
        )

    def phase_weight(self) -> tuple[torch.Tensor, int, int]:
        """(weight [stride*C_out x C_in x K] phase-major, left, right): the ordinary conv whose ``stride`` output
        phases, interleaved, are this transposed conv's output, and the zero padding its input takes."""
        (k,), (s,), (p,) = self.kernel_size, self.stride, self.padding
        m_min, m_max = (p - (k - 1)) // s, (s - 1 + p) // s
        c_in, c_out = self.in_channels, self.out_channels
        w = self.weight.new_zeros(s, c_out, c_in, m_max - m_min + 1)
        wt = self.weight.permute(1, 0, 2)  # [out x in x k]
        for r in range(s):
            for j in range(k):
                if (r + p - j) % s == 0:
                    w[r, :, :, (r + p - j) // s - m_min] = wt[:, :, j]
        return w.reshape(s * c_out, c_in, -1), -m_min, m_max

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        """x: Tensor[B x C_in x T] -> Tensor[B x C_out x stride*T]."""
        if output_size is not None or not self.fast_ok():
            return super().forward(x, output_size)
        w, left, right = self.phase_weight()
        s, c_out = self.stride[0], self.out_channels
        bias = None if self.bias is None else self.bias.repeat(s)
        y = F.conv1d(F.pad(x, (left, right)), w, bias)  # [B x (s*C_out) x T]
        b, _, t = y.shape
        return y.view(b, s, c_out, t).permute(0, 2, 3, 1).reshape(b, c_out, t * s)


class ResConv1DBlock(nn.Module):
    """``x + conv1x1(relu(conv3(relu(x), dilation)))``; length-preserving.

    The dilated conv sits at index 1 and the 1x1 conv at index 3 of ``model`` (JukeBox's key layout).

    Args:
        width: channels in and out.
        hidden: channels between the two convs.
        dilation: dilation of the kernel-3 conv (its padding equals it, so the length is kept).
        res_scale: scale of the residual branch.
    """

    def __init__(self, *, width: int, hidden: int, dilation: int = 1, res_scale: float = 1.0) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(width, hidden, 3, 1, dilation, dilation),
            nn.ReLU(),
            nn.Conv1d(hidden, width, 1, 1, 0),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: Tensor[B x width x T] -> Tensor[B x width x T]."""
        return x + self.res_scale * self.model(x)


def dilations(depth: int, growth: int, cycle: int | None = None, reverse: bool = False) -> list[int]:
    """Dilations of a `Resnet1D`: ``growth ** (i % cycle)`` for i in 0..depth-1, optionally reversed.

    The decoder runs them from large to small (JukeBox's ``reverse_decoder_dilation``) so that it mirrors
    the encoder.
    """
    d = [growth ** (i if cycle is None else i % cycle) for i in range(depth)]
    return d[::-1] if reverse else d


class Resnet1D(nn.Module):
    """A stack of `ResConv1DBlock` with geometrically growing dilation (wide receptive field, few params).

    Args:
        width: channels.
        depth: number of residual blocks.
        dilation_growth_rate: dilation of block i is ``rate ** i`` (1, 3, 9, 27 ... for rate 3).
        dilation_cycle: restart the dilation growth every ``cycle`` blocks (None: never).
        reverse_dilation: run the dilations from large to small.
        m_conv: hidden width multiplier inside each block.
        res_scale: True scales each block by ``1/sqrt(depth)``; JukeBox uses False (scale 1).
    """

    def __init__(
        self,
        *,
        width: int,
        depth: int,
        dilation_growth_rate: int = 3,
        dilation_cycle: int | None = None,
        reverse_dilation: bool = False,
        m_conv: float = 1.0,
        res_scale: bool = False,
    ) -> None:
        super().__init__()
        scale = 1.0 if not res_scale else depth**-0.5
        hidden = int(m_conv * width)
        self.model = nn.Sequential(
            *[
                ResConv1DBlock(width=width, hidden=hidden, dilation=d, res_scale=scale)
                for d in dilations(depth, dilation_growth_rate, dilation_cycle, reverse_dilation)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: Tensor[B x width x T] -> Tensor[B x width x T]."""
        return self.model(x)

    def receptive_field(self) -> int:
        """Samples of context on each side that one output sample depends on (at this block's rate)."""
        return sum(blk.model[1].dilation[0] for blk in self.model)


class _Blocks(nn.Module):
    """An encoder or decoder stack of ``down_t`` levels, each resampling time by ``stride_t`` with a `Resnet1D`
    of ``width`` channels; its ``model`` (an `nn.Sequential`, built by the subclass's `_stages`) applied as it is.

    The keyword arguments after ``width`` are the `Resnet1D`'s.
    """

    model: nn.Sequential

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        down_t: int,
        stride_t: int,
        width: int,
        depth: int,
        dilation_growth_rate: int = 3,
        dilation_cycle: int | None = None,
        reverse_dilation: bool,
        m_conv: float = 1.0,
        res_scale: bool = False,
    ) -> None:
        super().__init__()

        def resnet() -> Resnet1D:
            return Resnet1D(
                width=width,
                depth=depth,
                dilation_growth_rate=dilation_growth_rate,
                dilation_cycle=dilation_cycle,
                reverse_dilation=reverse_dilation,
                m_conv=m_conv,
                res_scale=res_scale,
            )

        # strided (transposed) convs of kernel 2 * stride
        conv = dict(kernel_size=stride_t * 2, stride=stride_t, padding=stride_t // 2)
        self.model = nn.Sequential(*self._stages(in_channels, out_channels, down_t, width, resnet, conv))

    def _stages(
        self, in_channels: int, out_channels: int, down_t: int, width: int, resnet: Callable[[], Resnet1D], conv: dict
    ) -> list[nn.Module]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class EncoderConvBlock(_Blocks):
    """``down_t`` x [strided conv (kernel 2*stride) -> Resnet1D], then a kernel-3 conv to ``out_channels``.

    Input ``[B x in_channels x T]`` -> ``[B x out_channels x T / stride_t**down_t]`` (T a multiple of it).
    Keyword arguments: `_Blocks`'s but ``reverse_dilation`` (always False).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(reverse_dilation=False, **kwargs)

    def _stages(self, in_channels, out_channels, down_t, width, resnet, conv) -> list[nn.Module]:
        blocks: list[nn.Module] = [
            nn.Sequential(nn.Conv1d(in_channels if i == 0 else width, width, **conv), resnet()) for i in range(down_t)
        ]
        return [*blocks, nn.Conv1d(width, out_channels, 3, 1, 1)]


class DecoderConvBlock(_Blocks):
    """A kernel-3 conv to ``width``, then ``down_t`` x [Resnet1D (reversed dilations) -> transposed conv].

    Input ``[B x in_channels x T]`` -> ``[B x out_channels x T * stride_t**down_t]``; the last transposed
    conv maps to ``out_channels``. Keyword arguments: `_Blocks`'s, ``reverse_dilation`` True by default.
    """

    def __init__(self, *, reverse_dilation: bool = True, **kwargs) -> None:
        super().__init__(reverse_dilation=reverse_dilation, **kwargs)

    def _stages(self, in_channels, out_channels, down_t, width, resnet, conv) -> list[nn.Module]:
        blocks: list[nn.Module] = [nn.Conv1d(in_channels, width, 3, 1, 1)]
        for i in range(down_t):
            c_out = out_channels if i == down_t - 1 else width
            blocks.append(nn.Sequential(resnet(), PolyphaseConvTranspose1d(width, c_out, **conv)))
        return blocks


def _tail_exact(up: PolyphaseConvTranspose1d, out: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    return out(up(h))


def fused_tail_weight(
    up: PolyphaseConvTranspose1d, out: nn.Conv1d
) -> tuple[torch.Tensor, torch.Tensor, int, int, int] | None:
    """``out(up(.))`` -- a decoder's last transposed conv then its output conv -- as one polyphase conv.

    There is no non-linearity between the two, so their composition is one linear, shift-periodic map from
    ``C_in`` channels at the low rate straight to the few output channels.

    Returns ``(weight [stride*C_out x C_in x K] phase-major, bias [stride*C_out], left, right, edge)``: conv the
    input zero-padded by ``(left, right)`` with it and interleave the phases; the ``edge`` frames at each end,
    where the output conv reads the zero padding of ``up(h)`` rather than its bias, must be patched from the
    separate path. None when the layers are not of the fusable kind.
    """
    (s,), (ko,), (po,) = up.stride, out.kernel_size, out.padding
    if not (up.fast_ok() and out.stride == (1,) and out.dilation == (1,) and out.groups == 1 and ko == 2 * po + 1):
        return None
    pw, left, _ = up.phase_weight()  # [s*C_mid x C_in x K], phase-major
    c_mid, c_in, c_out = up.out_channels, up.in_channels, out.out_channels
    pw = pw.view(s, c_mid, c_in, -1)
    m_min = -left
    k = pw.shape[-1]
    # Output sample s*t + r reads up(h) at s*t + r + j - po = s*(t + q) + rr for tap j of the out conv.
    qs = [(r + j - po) // s for r in range(s) for j in range(ko)]
    o_min, o_max = min(qs) + m_min, max(qs) + m_min + k - 1
    fused = pw.new_zeros(s, c_out, c_in, o_max - o_min + 1)
    wo = out.weight  # [C_out x C_mid x ko]
    for r in range(s):
        for j in range(ko):
            q, rr = divmod(r + j - po, s)
            # [C_out x C_mid] @ [C_mid x C_in x k] -> [C_out x C_in x k], placed at offsets q + m
            contrib = torch.einsum("om,mik->oik", wo[:, :, j], pw[rr])
            a = q + m_min - o_min
            fused[r, :, :, a : a + k] = fused[r, :, :, a : a + k] + contrib
    bias = out.bias if out.bias is not None else pw.new_zeros(c_out)
    if up.bias is not None:
        bias = bias + torch.einsum("omj,m->o", wo, up.bias)
    edge = 4  # frames recomputed exactly at each end (>= the combined kernel's reach)
    return fused.reshape(s * c_out, c_in, -1), bias.repeat(s), -o_min, o_max, edge


def fused_upsample_out(up: PolyphaseConvTranspose1d, out: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """``out(up(h))`` computed with `fused_tail_weight`: the separate path materializes ``emb_width`` channels
    at the full sample rate only to sum them down to one; this skips that tensor and is several times cheaper,
    which is most of a small decoder's time. Exact (edge samples are patched from the separate path).

    h: Tensor[B x C_in x T] -> Tensor[B x C_out x stride*T].
    """
    fused = fused_tail_weight(up, out)
    t = h.shape[-1]
    if fused is None or t < 2 * fused[4] + 1:
        return _tail_exact(up, out, h)
    weight, bias, left, right, edge = fused
    (s,), (po,), c_out = up.stride, out.padding, out.out_channels
    y = F.conv1d(F.pad(h, (left, right)), weight, bias)
    b = y.shape[0]
    y = y.view(b, s, c_out, t).permute(0, 2, 3, 1).reshape(b, c_out, t * s)
    head = _tail_exact(up, out, h[..., :edge])[..., :po]
    tail = _tail_exact(up, out, h[..., -edge:])[..., s * edge - po :]
    return torch.cat([head, y[..., po : t * s - po], tail], dim=-1)
