"""D2M-GAN under DDP: 2 CPU processes (gloo) train a few steps and end with identical weights."""

from __future__ import annotations

import os
import socket

import torch

torch.set_num_threads(1)


def _worker(rank: int, world: int, port: int, out: str, cache: str, vqvae: str, result: dict) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from dance2music.training.distributed import shutdown_distributed
    from dance2music.training.registry import make_task
    from dance2music.training.trainer import fit
    from gan_fixtures import gan_overrides

    task = make_task("gan", None, gan_overrides(cache, vqvae, 3, **{"data.val_clips": 1}))
    res = fit(task, out)
    g, d = task.g.module, task.adversary.d.module  # both wrapped in DistributedDataParallel
    result[rank] = {
        "g": {k: v.clone() for k, v in g.state_dict().items()},
        "d": {k: v.clone() for k, v in d.state_dict().items()},
        "step": res.step,
        "loss": res.logs["loss/g"],
    }
    shutdown_distributed()


def test_gan_ddp_two_ranks_end_identical(tmp_path):
    import torch.multiprocessing as mp

    from dance2music.models.d2m import load_generator
    from gan_fixtures import make_cache, make_vqvae

    cache, vqvae = make_cache(tmp_path), make_vqvae(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp"
    with mp.Manager() as manager:
        result = manager.dict()
        mp.spawn(_worker, args=(2, port, str(out), str(cache), str(vqvae), result), nprocs=2, join=True)
        r0, r1 = dict(result[0]), dict(result[1])
    assert r0["step"] == r1["step"] == 3
    assert r0["loss"] == r1["loss"]  # logged scalars are averaged over ranks
    for part in ("g", "d"):
        assert r0[part].keys() == r1[part].keys()
        for k in r0[part]:
            assert torch.equal(r0[part][k], r1[part][k]), f"{part}.{k}"
    # The ranks saw different clips (a sharded sampler): identical weights come from synchronised updates.
    # Rank 0 exported the final generator.
    exported, _ = load_generator(out / "generator.safetensors")
    for k, v in exported.state_dict().items():
        assert torch.equal(v, r0["g"][k]), k
    assert (out / "checkpoint.pt").is_file()
