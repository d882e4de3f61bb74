"""D2M-GAN's losses: hinge (and least-squares) adversarial, feature matching, and their weights.

Every loss has one name used both to weight it and to log it (`GAN_LOSS_WEIGHTS`, combined by
`losses.weighting.weighted_total`):

* ``adv/gen``: hinge generator loss, ``sum over scales of -mean(D(fake))`` (paper Eq. 4; official code).
* ``adv/feat``: feature matching, mean L1 between the discriminator's feature maps on real and on generated
  inputs (paper Eq. 5, lambda_fm = 3).
* ``code/commit``: L1 between the generated VQ features and the looked-up codes of the real music
  (paper Eq. 6, lambda_c = 15).
* ``audio/wav``: waveform L1 after decoding the generated features with the frozen VQ-VAE decoder, through a
  straight-through codebook lookup (lambda_wav = 40).
* ``audio/mel``: log-mel L1 on the same decoded audio (lambda_mel = 15).
* ``audio/onset``: L1 between the onset envelopes (`losses.spectral.onset_envelope`, spectral flux) of that
  log-mel and the real music's: attacks where the music has them, not only its energy (not in the paper;
  weight 0 by default).

In the official code the last two are computed under ``torch.no_grad()``, so they never train the generator
(reference ``d2m-gan.md`` Sec. 1.5). Here they do: the straight-through lookup passes their gradient to the
generator's continuous output. ``code/latent`` (L1 to the encoder's continuous output, weight 5 in the
official code, not in the paper) is available with weight 0 by default, as is ``code/usage``
(`code_usage_loss`: each clip's soft code histogram against its real music's, against code collapse).

The discriminator's own loss is ``adv/disc``: ``sum over scales of mean(relu(1 - D(real))) +
mean(relu(1 + D(fake)))``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

#: Loss weights of the generator objective, keyed by the names they are logged under (paper Sec. 3.4).
GAN_LOSS_WEIGHTS: dict[str, float] = {
    "adv/gen": 1.0,
    "adv/feat": 3.0,
    "code/commit": 15.0,
    "code/latent": 0.0,
    "code/usage": 0.0,
    "audio/wav": 40.0,
    "audio/mel": 15.0,
    "audio/onset": 0.0,
}


def code_usage_loss(
    fake: torch.Tensor, real_codes: torch.Tensor, codebook: torch.Tensor, sharpness: float = 4.0
) -> torch.Tensor:
    """Cross-entropy of each clip's real code histogram under the soft histogram of its generated features.

    ``fake`` ``[B, D, T]`` is softly assigned to the codebook ``[K, D]`` (softmax of minus the squared
    distance over a temperature: the codebook's mean squared nearest-neighbour distance / ``sharpness``, so an
    output on a code vector counts almost wholly for it) and averaged over
    time; ``real_codes`` ``[B, T]`` give the target histogram. Only the bag of codes is matched, not their
    order, so unlike the L1 terms it does not pull every step towards the mean code: a generator that draws
    the same few codes for every dance pays for it.
    """
    k = codebook.detach().float()
    d2 = torch.cdist(k, k).pow(2)
    d2.fill_diagonal_(float("inf"))
    temperature = (d2.min(dim=1).values.mean() / sharpness).clamp_min(1e-8)
    x = fake.float().transpose(1, 2)  # [B, T, D]
    dist = (x.pow(2).sum(-1, keepdim=True) - 2 * x @ k.T + k.pow(2).sum(-1)).clamp_min(0)  # [B, T, K]
    soft = torch.softmax(-dist / temperature, dim=-1).mean(dim=1)  # [B, K]
    target = F.one_hot(real_codes, k.shape[0]).float().mean(dim=1)  # [B, K]
    return -(target * torch.log(soft + 1e-6)).sum(dim=1).mean()


def hinge_discriminator_loss(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_s mean(relu(1 - real_s)) + mean(relu(1 + fake_s))`` over per-scale patch logits."""
    if len(real) != len(fake) or not real:
        raise ValueError("need the same, non-zero number of real and fake scales")
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake))  # type: ignore[return-value]


def hinge_generator_loss(fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_s -mean(fake_s)``: the generator raises the discriminator's score of its output, window by window."""
    if not fake:
        raise ValueError("need at least one scale")
    return sum(-f.mean() for f in fake)  # type: ignore[return-value]


def ls_discriminator_loss(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """Least squares (LSGAN, Mao et al. 2017; HiFi-GAN): ``sum_s mean((1 - real_s)^2) + mean(fake_s^2)``."""
    if len(real) != len(fake) or not real:
        raise ValueError("need the same, non-zero number of real and fake scales")
    return sum(((1 - r.float()) ** 2).mean() + (f.float() ** 2).mean() for r, f in zip(real, fake))  # type: ignore[return-value]


def ls_generator_loss(fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """Least squares generator loss ``sum_s mean((1 - fake_s)^2)``."""
    if not fake:
        raise ValueError("need at least one scale")
    return sum(((1 - f.float()) ** 2).mean() for f in fake)  # type: ignore[return-value]


def feature_matching_loss(
    real_feats: Sequence[Sequence[torch.Tensor]], fake_feats: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """Mean over scales and layers of ``L1(fake_feature, real_feature.detach())``.

    The real features are targets, so no gradient reaches the discriminator through them.
    """
    terms = [
        F.l1_loss(f, r.detach())
        for rs, fs in zip(real_feats, fake_feats, strict=True)
        for r, f in zip(rs, fs, strict=True)
    ]
    if not terms:
        raise ValueError("no feature maps to match")
    return torch.stack(terms).mean()



#: The adversarial objectives by name: (discriminator loss, generator loss), both over per-scale logits.
ADV_LOSSES = {
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
    "ls": (ls_discriminator_loss, ls_generator_loss),
}
