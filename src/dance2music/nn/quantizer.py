"""Vector quantization with an EMA codebook, dead-code restarts and a straight-through estimator.

The algorithm follows van den Oord et al. 2017 (VQ-VAE, EMA variant in its appendix) and JukeBox
(Dhariwal et al. 2020, section 3.2: "random restarts" of codes whose usage falls below a threshold).
Buffer names (``k`` for the codebook) match openai/jukebox's ``BottleneckBlock`` so its weights load.
Tensors are ``[B x C x T]`` for features and ``[B x T]`` for codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import distributed as dist
from torch import nn

#: Rows of the distance matrix computed at once: bounds memory when quantizing very long sequences.
_LOOKUP_CHUNK = 65536


def _dist_ready() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@dataclass
class QuantizedResult:
    """What one codebook returns for a batch.

    codes: LongTensor[B x T] -- index of the nearest codebook entry per frame.
    quantized: Tensor[B x C x T] -- the codebook vectors; in training, carries straight-through gradients to
        the encoder output (forward value = codebook vector, backward = identity).
    commit_loss: scalar -- mean squared distance between encoder output and (detached) codes, which pulls the
        encoder towards its codes (the codebook itself moves by EMA, not by gradient).
    perplexity: scalar -- exp(entropy) of the code histogram of this batch (1 .. l_bins).
    usage: scalar -- fraction of the codebook used at least once in this batch.
    """

    codes: torch.Tensor
    quantized: torch.Tensor
    commit_loss: torch.Tensor
    perplexity: torch.Tensor
    usage: torch.Tensor


class VectorQuantizer(nn.Module):
    """One codebook of ``l_bins`` vectors of size ``emb_width`` updated by exponential moving averages.

    In training mode each forward pass (1) initializes the codebook from the batch the first time,
    (2) moves every used code towards the mean of the vectors assigned to it (decay ``mu``), and
    (3) restarts codes whose running count fell below ``threshold`` at random vectors of the batch, so that no
    code stays dead. Under torch.distributed the statistics are summed over ranks and the restart vectors come
    from rank 0, so every rank keeps the same codebook.

    Args:
        l_bins: number of codes.
        emb_width: vector size.
        mu: EMA decay of the code statistics.
        threshold: a code whose running assignment count is below this is restarted.
    """

    def __init__(self, *, l_bins: int, emb_width: int, mu: float = 0.99, threshold: float = 1.0) -> None:
        super().__init__()
        self.l_bins, self.emb_width, self.mu, self.threshold = l_bins, emb_width, mu, threshold
        self.register_buffer("k", torch.zeros(l_bins, emb_width))
        # EMA statistics: sum of assigned vectors and count of assignments per code.
        self.register_buffer("k_sum", torch.zeros(l_bins, emb_width))
        self.register_buffer("k_elem", torch.zeros(l_bins))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    # -- lookup -------------------------------------------------------------------------------------------
    def nearest(self, x: torch.Tensor, penalty: torch.Tensor | None = None) -> torch.Tensor:
        """x: Tensor[N x C] -> LongTensor[N], index of the nearest code (squared L2), in bounded memory.

        penalty: optional Tensor[K] added to every row's squared distances (a prior over the codes).
        """
        k = self.k.float()
        k_sq = (k * k).sum(1)
        if penalty is not None:
            k_sq = k_sq + penalty.float()
        out = []
        for start in range(0, x.shape[0], _LOOKUP_CHUNK):
            xc = x[start : start + _LOOKUP_CHUNK].float()
            # ||x||^2 is the same for every code, so it does not change the argmin.
            d = k_sq[None, :] - 2.0 * xc @ k.t()
            out.append(d.argmin(1))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x.device)

    def encode(self, x: torch.Tensor, penalty: torch.Tensor | None = None) -> torch.Tensor:
        """x: Tensor[B x C x T] -> codes LongTensor[B x T]; penalty: optional Tensor[B x K] (see `nearest`)."""
        b, c, t = x.shape
        if penalty is None:
            return self.nearest(x.permute(0, 2, 1).reshape(b * t, c)).view(b, t)
        return torch.stack([self.nearest(x[i].t(), penalty[i]) for i in range(b)])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes: LongTensor[B x T] -> Tensor[B x C x T]."""
        return F.embedding(codes, self.k).permute(0, 2, 1)

    # -- training -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def reset_ema_from_codebook(self) -> None:
        """Make the EMA statistics agree with the current codebook (after loading foreign weights)."""
        self.k_sum.copy_(self.k)
        self.k_elem.fill_(1.0)
        self.initialized.fill_(True)

    @staticmethod
    def _random_rows(x: torch.Tensor, n: int) -> torch.Tensor:
        """n random rows of x[N x C], tiled with small noise when N < n (same on every rank)."""
        if x.shape[0] < n:
            reps = math.ceil(n / x.shape[0])
            std = 0.01 / math.sqrt(x.shape[1])
            x = x.repeat(reps, 1)
            x = x + torch.randn_like(x) * std
        rows = x[torch.randperm(x.shape[0], device=x.device)[:n]].contiguous()
        if _dist_ready():
            dist.broadcast(rows, 0)
        return rows

    @torch.no_grad()
    def _update(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        """EMA step with the batch's vectors x[N x C] and their codes[N]."""
        if not bool(self.initialized):
            self.k.copy_(self._random_rows(x, self.l_bins))
            self.reset_ema_from_codebook()
            return
        onehot = torch.zeros(self.l_bins, x.shape[0], device=x.device)
        onehot.scatter_(0, codes.view(1, -1), 1.0)
        batch_sum = onehot @ x  # [l_bins x C]
        batch_elem = onehot.sum(1)
        restart = self._random_rows(x, self.l_bins)
        if _dist_ready():
            dist.all_reduce(batch_sum)
            dist.all_reduce(batch_elem)
        self.k_sum.mul_(self.mu).add_(batch_sum, alpha=1.0 - self.mu)
        self.k_elem.mul_(self.mu).add_(batch_elem, alpha=1.0 - self.mu)
        alive = (self.k_elem >= self.threshold).float()[:, None]
        mean = self.k_sum / self.k_elem.clamp_min(1e-6)[:, None]
        self.k.copy_(alive * mean + (1.0 - alive) * restart)
        # A restarted code starts its statistics afresh at its new position.
        self.k_sum.copy_(alive * self.k_sum + (1.0 - alive) * restart)
        self.k_elem.copy_(alive[:, 0] * self.k_elem + (1.0 - alive[:, 0]))

    def forward(self, x: torch.Tensor, update: bool | None = None) -> QuantizedResult:
        """Quantize x: Tensor[B x C x T]; updates the codebook when ``update`` (default: in training mode)."""
        b, c, t = x.shape
        if update is None:
            update = self.training
        flat = x.permute(0, 2, 1).reshape(b * t, c).float()
        if update:
            # Codes are computed after initialization so the first batch already quantizes sensibly.
            if not bool(self.initialized):
                self._update(flat.detach(), torch.zeros(0, dtype=torch.long, device=x.device))
            codes = self.nearest(flat.detach())
            self._update(flat.detach(), codes)
        else:
            codes = self.nearest(flat.detach())
        q = F.embedding(codes, self.k).view(b, t, c).permute(0, 2, 1).to(x.dtype)
        commit = F.mse_loss(x.float(), q.detach().float())
        # Straight-through: forward uses the code vector, backward passes the gradient to x unchanged.
        q_st = x + (q - x).detach()
        with torch.no_grad():
            hist = torch.bincount(codes, minlength=self.l_bins).float()
            p = hist / hist.sum().clamp_min(1.0)
            perplexity = torch.exp(-(p * torch.log(p.clamp_min(1e-10))).sum())
            usage = (hist > 0).float().mean()
        return QuantizedResult(codes.view(b, t), q_st, commit, perplexity, usage)


class Bottleneck(nn.Module):
    """One `VectorQuantizer` per level, held as ``level_blocks`` (JukeBox's key layout)."""

    def __init__(self, *, levels: int, l_bins: int, emb_width: int, mu: float = 0.99) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleList(
            [VectorQuantizer(l_bins=l_bins, emb_width=emb_width, mu=mu) for _ in range(levels)]
        )

    def __getitem__(self, level: int) -> VectorQuantizer:
        return self.level_blocks[level]
