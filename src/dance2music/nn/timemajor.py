"""An inference-only, time-major evaluation of a VQ-VAE `Decoder`: the same function, about twice as fast on CPU.

The decoder's convolutions are thin (16-64 channels) and long (up to 11 kHz). PyTorch's CPU ``conv1d`` reaches
a fraction of the machine's matrix throughput on such shapes, while a matrix product ``[T x C_in] @ [C_in x
C_out]`` on a time-major (row = sample) tensor runs at several times that. So every layer here is rewritten as
matrix products on ``[T x C]`` tensors:

* a kernel-``K`` conv with dilation ``d`` is ``K`` products, tap ``j`` adding ``x[t + j*d - left] @ W_j`` into
  the rows where that sample exists (zero padding = rows skipped, nothing is copied or padded);
* a residual block updates its input in place (``x += relu(conv3(relu(x))) @ W1 + b1``);
* a polyphase transposed conv (`resnet.PolyphaseConvTranspose1d`) produces ``[T x stride*C]`` whose rows, read
  as ``[stride*T x C]``, are already the interleaved output: the interleave costs nothing in this layout;
* the decoder's last transposed conv and output conv are one fused polyphase conv (`resnet.fused_tail_weight`),
  its edge samples patched exactly as `resnet.fused_upsample_out` does.

The result equals `Decoder.forward` up to float rounding (tests/test_vqvae.py checks it). Weights are read from
the module once and re-read whenever a parameter changes (an optimizer step bumps its version counter).
"""

from __future__ import annotations

import torch
from torch import nn

from .resnet import DecoderConvBlock, PolyphaseConvTranspose1d, ResConv1DBlock, _tail_exact, fused_tail_weight


class _TapConv:
    """``y[t] = b + sum_j x[t + offset_j] @ W_j`` over the taps whose sample exists (zero padding).

    weight: Tensor[C_out x C_in x K] (a Conv1d's), dilation d, ``left`` / ``right`` zero padding. The output
    has ``T + left + right - d*(K-1)`` rows.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int, left: int, right: int):
        weight = weight.detach()
        k = weight.shape[-1]
        self.c_out = weight.shape[0]
        taps = [(j * dilation - left, weight[:, :, j].t().contiguous()) for j in range(k)]
        self.taps = sorted(taps, key=lambda tap: tap[0] != 0)  # the centre tap first: it covers every row
        self.bias = None if bias is None else bias.detach().clone()
        self.extra = left + right - dilation * (k - 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[0]
        n = t + self.extra
        taps = self.taps
        first_off, first_w = taps[0]
        if first_off == 0 and n <= t:
            y = torch.mm(x[:n], first_w)
            if self.bias is not None:
                y.add_(self.bias)  # addmm(bias, ...) would first copy the broadcast bias, slowly
            rest = taps[1:]
        else:
            y = x.new_zeros(n, self.c_out) if self.bias is None else self.bias.expand(n, self.c_out).clone()
            rest = taps
        for off, w in rest:
            lo, hi = max(0, -off), min(n, t - off)
            if hi > lo:
                y[lo:hi].addmm_(x[lo + off : hi + off], w)
        return y


class _ResBlock:
    """`resnet.ResConv1DBlock` on an owned ``[T x C]`` tensor, updated in place."""

    def __init__(self, block: ResConv1DBlock):
        conv3, conv1 = block.model[1], block.model[3]
        (d,), (p,) = conv3.dilation, conv3.padding
        self.conv3 = _TapConv(conv3.weight, conv3.bias, d, p, p)
        self.w1 = conv1.weight.detach()[:, :, 0].t().contiguous()
        self.b1 = None if conv1.bias is None else conv1.bias.detach().clone()
        self.scale = float(block.res_scale)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv3(torch.relu(x)).relu_()
        if self.scale == 1.0:
            x.addmm_(h, self.w1)
            if self.b1 is not None:
                x.add_(self.b1)
        else:
            branch = torch.mm(h, self.w1)
            if self.b1 is not None:
                branch.add_(self.b1)
            x.add_(branch, alpha=self.scale)
        return x


class _Upsample:
    """`resnet.PolyphaseConvTranspose1d` (fast case): one conv to ``stride*C_out`` columns, read as rows."""

    def __init__(self, up: PolyphaseConvTranspose1d):
        w, left, right = up.phase_weight()
        bias = None if up.bias is None else up.bias.detach().repeat(up.stride[0])
        self.conv = _TapConv(w.detach(), bias, 1, left, right)
        self.stride, self.c_out = up.stride[0], up.out_channels

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y.view(y.shape[0] * self.stride, self.c_out)


class _Tail:
    """The last transposed conv and the output conv, fused (`resnet.fused_tail_weight`), with exact edges."""

    def __init__(self, up: PolyphaseConvTranspose1d, out: nn.Conv1d):
        weight, bias, left, right, self.edge = fused_tail_weight(up, out)
        self.conv = _TapConv(weight, bias, 1, left, right)
        self.up, self.out = up, out
        self.stride, self.c_out, self.po = up.stride[0], out.out_channels, out.padding[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: [T x C_in] -> Tensor[C_out x stride*T] (channel-major, as the decoder returns)."""
        t, s, po, e = x.shape[0], self.stride, self.po, self.edge
        if t < 2 * e + 1:
            return _tail_exact(self.up, self.out, x.t().unsqueeze(0))[0]
        y = self.conv(x).view(t * s, self.c_out).t()
        head = _tail_exact(self.up, self.out, x[:e].t().unsqueeze(0))[0, :, :po]
        tail = _tail_exact(self.up, self.out, x[-e:].t().unsqueeze(0))[0, :, s * e - po :]
        y = y.contiguous()
        y[:, :po] = head
        y[:, t * s - po :] = tail
        return y


class TimeMajorDecoder:
    """A compiled plan of a `models.vqvae.Decoder`; call it like the decoder (no gradients).

    ``supports(decoder)`` says whether the decoder's layers are all of the kinds above (JukeBox's layout with
    the fast polyphase case); `VQVAE.decode` uses the plan only then, otherwise the module itself.
    """

    def __init__(self, decoder: nn.Module):
        self.ops: list = []
        blocks = list(reversed(decoder.level_blocks))
        for bi, block in enumerate(blocks):
            stages = list(block.model)
            conv_in = stages[0]
            self.ops.append(_TapConv(conv_in.weight, conv_in.bias, 1, 1, 1))
            for si, (resnet, up) in enumerate(stages[1:]):
                self.ops.extend(_ResBlock(blk) for blk in resnet.model)
                last = bi == len(blocks) - 1 and si == len(stages) - 2
                self.ops.append(_Tail(up, decoder.out) if last else _Upsample(up))
        self.key = self.params_key(decoder)

    @staticmethod
    def params_key(decoder: nn.Module) -> tuple:
        return tuple((p.data_ptr(), p._version) for p in decoder.parameters())

    @staticmethod
    def supports(decoder: nn.Module) -> bool:
        blocks = list(decoder.level_blocks)
        if not blocks or fused_tail_weight(list(blocks[0].model)[-1][1], decoder.out) is None:
            return False
        for block in blocks:
            if not isinstance(block, DecoderConvBlock) or len(block.model) < 2:
                return False
            for resnet, up in list(block.model)[1:]:
                if not (isinstance(up, PolyphaseConvTranspose1d) and up.fast_ok()):
                    return False
                if not all(isinstance(b, ResConv1DBlock) for b in resnet.model):
                    return False
        return True

    @torch.no_grad()
    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """features: Tensor[B x emb_width x T_L] -> Tensor[B x C_out x T_L*hop]."""
        outs = []
        for b in range(features.shape[0]):
            x = features[b].t().contiguous()
            for op in self.ops[:-1]:
                x = op(x)
            outs.append(self.ops[-1](x))
        return torch.stack(outs)
