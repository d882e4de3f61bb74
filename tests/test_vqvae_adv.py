"""The shipped ``vqvae-base-adv``: vqvae-base's encoders and codebooks with adversarially fine-tuned decoders."""

from __future__ import annotations

import warnings

import torch

from dance2music.models.vqvae import VQVAE
from dance2music.pretrained.registry import REGISTRY, resolve, sha256_file


def test_vqvae_base_adv_loads_has_base_codebooks_and_decodes():
    path = resolve("vqvae-base-adv", kind="vqvae")
    assert sha256_file(path) == REGISTRY["vqvae-base-adv"].sha256
    base, adv = VQVAE.from_pretrained("vqvae-base"), VQVAE.from_pretrained("vqvae-base-adv")
    assert adv.codebook_sha256() == base.codebook_sha256()
    assert adv.hops == base.hops == [32, 128] and adv.config == base.config
    x = torch.randn(1, 1, 4096, generator=torch.Generator().manual_seed(0)) * 0.2
    with torch.no_grad():
        for L in range(adv.levels):
            codes = adv.encode(x, L)
            assert torch.equal(codes, base.encode(x, L))  # the same codes: every generator keeps working
            y, y0 = adv.decode(codes, L), base.decode(codes, L)
            assert y.shape == y0.shape and torch.isfinite(y).all()
            assert not torch.equal(y, y0)  # the decoders are new
            # the adversarial decoders are the only change
    sd, sd0 = adv.state_dict(), base.state_dict()
    changed = {k.split(".")[0] for k in sd if not torch.equal(sd[k], sd0[k])}
    assert changed == {"decoders"}


def test_d2m_top_takes_vqvae_base_adv_silently():
    from dance2music.models.d2m import D2M

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same codebooks as the tokenizer it was trained on: no warning
        model = D2M.load(resolve("d2m-top", kind="d2m"), vqvae="vqvae-base-adv")
    assert model.vqvae.codebook_sha256() == VQVAE.from_pretrained("vqvae-base").codebook_sha256()
