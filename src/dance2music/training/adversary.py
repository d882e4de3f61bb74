"""What both GAN tasks share: the frozen VQ-VAE level they work at, and the adversary (a discriminator, its
optimizer and its losses).

`Adversary.step` trains the discriminator on real vs generated inputs (one forward on both, as a batch, so DDP
sees one forward per backward); `Adversary.generator_terms` gives the generator's ``adv/gen`` and ``adv/feat``
(feature matching against the real inputs' feature maps from that step) from the updated discriminator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError, D2MError
from ..losses.adversarial import ADV_LOSSES, feature_matching_loss
from ..models.d2m import freeze
from ..models.vqvae import VQVAE
from .trainer import TrainContext


def frozen_vqvae(ref: str, hop_length: int, device: torch.device) -> tuple[VQVAE, int]:
    """The VQ-VAE ``ref`` on ``device`` with its weights frozen, and the index of its level of hop ``hop_length``."""
    vqvae = freeze(VQVAE.from_pretrained(ref).to(device))
    try:
        return vqvae, vqvae.level_for_hop(hop_length)
    except D2MError as e:
        raise ConfigError(f"hop_length {hop_length}: {e}") from None


@contextlib.contextmanager
def no_param_grads(module: nn.Module) -> Iterator[None]:
    """Run ``module`` without computing gradients for its own weights (inputs still get theirs).

    The G step backpropagates through D only to reach G; skipping D's weight gradients saves compute.
    """
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


@dataclass
class DStep:
    """What one discriminator step leaves for the generator's: its loss, its logits on ``[real; fake]`` (per
    scale, real first) and the real inputs' feature maps (detached targets for feature matching)."""

    loss: torch.Tensor
    logits: list[torch.Tensor]
    real_feats: list[list[torch.Tensor]]
    batch: int

    def mean_scores(self) -> dict[str, torch.Tensor]:
        """``d/real`` and ``d/fake``: the discriminator's mean score of each, over scales (detached)."""
        b = self.batch
        return {
            "d/real": torch.stack([x[:b].mean() for x in self.logits]).mean().detach(),
            "d/fake": torch.stack([x[b:].mean() for x in self.logits]).mean().detach(),
        }


class Adversary:
    """Discriminator ``disc`` registered as model and optimizer ``"d"`` (Adam(lr, betas)), with the ``loss``
    objective (`losses.adversarial.ADV_LOSSES`: hinge or ls).

    The discriminator is called as ``disc(x, *cond)`` -> (per-scale logits, per-scale feature maps); ``cond``
    (e.g. the genre) is the same for real and generated inputs.
    """

    def __init__(
        self, ctx: TrainContext, disc: nn.Module, *, lr: float, betas: tuple[float, float], loss: str = "hinge"
    ) -> None:
        if loss not in ADV_LOSSES:
            raise ConfigError(f"adversarial loss must be one of {', '.join(ADV_LOSSES)}, got {loss!r}")
        self.d_loss, self.g_loss = ADV_LOSSES[loss]
        self.d = ctx.add_model("d", disc)
        self.raw = ctx.models["d"]  # the G step calls it directly: no DDP sync of D there
        ctx.add_optimizer("d", torch.optim.Adam(self.raw.parameters(), lr=lr, betas=tuple(betas)))

    def step(self, ctx: TrainContext, real: torch.Tensor, fake: torch.Tensor, *cond: torch.Tensor) -> DStep:
        """One discriminator update on ``real`` vs ``fake`` (detached here); logged as ``adv/disc``."""
        b = real.shape[0]
        logits, feats = self.d(torch.cat([real, fake.detach()]), *(torch.cat([c, c]) for c in cond))
        loss = self.d_loss([x[:b] for x in logits], [x[b:] for x in logits])
        ctx.optimize("d", loss)
        real_feats = [[f[:b].detach() for f in fs] for fs in feats]
        return DStep(loss, logits, real_feats, b)

    def generator_terms(self, fake: torch.Tensor, d_step: DStep, *cond: torch.Tensor) -> dict[str, torch.Tensor]:
        """``adv/gen`` and ``adv/feat`` of ``fake`` against the discriminator as `step` left it (no gradients to
        its weights)."""
        with no_param_grads(self.raw):
            fake_logits, fake_feats = self.raw(fake, *cond)
        return {
            "adv/gen": self.g_loss(fake_logits),
            "adv/feat": feature_matching_loss(d_step.real_feats, fake_feats).float(),
        }
