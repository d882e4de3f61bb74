"""The shared trainer: config loading, a short real run, exact resume, the NaN guard, DDP on CPU."""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass, field

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from dance2music.errors import ConfigError
from dance2music.losses.weighting import weighted_total
from dance2music.training.config import TrainerConfig, load_config
from dance2music.training.trainer import Task, TrainingDiverged, fit

torch.set_num_threads(1)


# -- a toy two-model task: shows the interface is general (G and D with their own optimizers) ---------------
class Noisy(torch.utils.data.Dataset):
    """Item i of epoch e is a pure function of (seed, e, i)."""

    def __init__(self, n: int = 10, seed: int = 0) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        return torch.from_numpy(rng.standard_normal(4).astype(np.float32))


@dataclass
class ToyExperiment:
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    loss_weights: dict[str, float] = field(default_factory=lambda: {"g/fit": 1.0, "d/fit": 1.0})
    nan_at: list[int] = field(default_factory=list)  # steps (1-based) whose loss is NaN
    signal_at: int = 0  # step (1-based) during which the process sends itself SIGTERM


class ToyTask(Task):
    name = "toy"
    config_cls = ToyExperiment

    def build(self, ctx):
        self.g = ctx.add_model("g", nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 4)))
        self.d = ctx.add_model("d", nn.Linear(4, 1))
        ctx.add_optimizer("g", torch.optim.Adam(ctx.models["g"].parameters(), lr=1e-2))
        ctx.add_optimizer("d", torch.optim.SGD(ctx.models["d"].parameters(), lr=1e-2, momentum=0.9))

    def train_dataset(self):
        return Noisy(seed=self.config.trainer.seed)

    def train_step(self, batch, ctx):
        noise = torch.randn_like(batch) * 0.1  # global RNG: must be restored exactly on resume
        g_loss = (self.g(batch + noise) - batch).pow(2).mean()
        if ctx.step + 1 in self.config.nan_at:
            g_loss = g_loss * float("nan")
        ctx.optimize("g", weighted_total({"g/fit": g_loss}, {"g/fit": self.config.loss_weights["g/fit"]}))
        if ctx.step + 1 == self.config.signal_at:
            os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler preempting the job would
        d_loss = self.d(batch).pow(2).mean()
        ctx.optimize("d", d_loss * self.config.loss_weights["d/fit"])
        return {"g/fit": g_loss, "d/fit": d_loss}


def toy(steps: int, **kw) -> ToyTask:
    tr = TrainerConfig(max_steps=steps, batch_size=3, log_every=2, ckpt_every=100, progress=False)
    return ToyTask(ToyExperiment(trainer=tr, **kw))


def weights(task: Task) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.clone() for n in ("g", "d") for k, v in getattr(task, n).state_dict().items()}


def test_config_yaml_overrides_and_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("trainer:\n  max_steps: 7\n  batch_size: 2\nloss_weights:\n  g/fit: 0.5\n")
    cfg = load_config(ToyExperiment, p, ["trainer.seed=3", "loss_weights.d/fit=2", "nan_at=[1, 2]"])
    assert cfg.trainer.max_steps == 7 and cfg.trainer.seed == 3 and cfg.trainer.log_every == 10
    assert cfg.loss_weights == {"g/fit": 0.5, "d/fit": 2.0}
    assert cfg.nan_at == [1, 2]
    with pytest.raises(ConfigError, match="unknown key 'max_step'"):
        load_config(ToyExperiment, p, ["trainer.max_step=3"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(ToyExperiment, p, ["trainer.max_steps=lots"])
    with pytest.raises(ConfigError, match="no such config"):
        load_config(ToyExperiment, tmp_path / "missing.yaml")


def test_exact_resume_across_epochs(tmp_path):
    # 10 items / batch 3 -> 3 steps per epoch: 8 steps cross two epoch boundaries, the cut (5) is mid-epoch.
    full = toy(8)
    fit(full, tmp_path / "full")
    part = toy(5)
    fit(part, tmp_path / "cut")
    resumed = toy(8)
    res = fit(resumed, tmp_path / "cut", resume=True)
    assert res.step == 8
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    # ... and the run really moved (otherwise equality would prove nothing)
    one = toy(1)
    fit(one, tmp_path / "one")
    assert any(not torch.equal(weights(one)[k], a[k]) for k in a)


def test_signal_stops_after_the_step_with_a_checkpoint_then_resumes_exactly(tmp_path):
    full = toy(6)
    fit(full, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        fit(toy(6, signal_at=4), tmp_path / "cut")
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)["step"] == 4
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    resumed = toy(6)
    fit(resumed, tmp_path / "cut", resume=True)
    a, b = weights(full), weights(resumed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_refuses_to_overwrite_a_run(tmp_path):
    fit(toy(1), tmp_path / "r")
    with pytest.raises(ConfigError, match="--resume"):
        fit(toy(2), tmp_path / "r")


def test_nan_step_is_skipped_then_training_aborts(tmp_path):
    t = toy(3, nan_at=[2])
    fit(t, tmp_path / "a")  # one bad step: skipped, training goes on
    for p in t.g.parameters():
        assert torch.isfinite(p).all()
    with pytest.raises(TrainingDiverged, match="3 steps in a row"):
        t = toy(10, nan_at=[2, 3, 4])
        t.config.trainer.max_bad_steps = 3
        fit(t, tmp_path / "b")


def test_weighted_rejects_unknown_names():
    from dance2music.losses.weighting import check_loss_weights

    losses = {"a": torch.tensor(2.0), "b": torch.tensor(3.0)}
    assert float(weighted_total(losses, {"a": 1.0, "b": 0.5, "c": 0.0})) == 3.5
    with pytest.raises(ConfigError, match="'c' has weight 1.0 but was not computed"):
        weighted_total(losses, {"c": 1.0})
    with pytest.raises(ConfigError, match="all loss weights are zero"):
        weighted_total(losses, {"a": 0.0})
    with pytest.raises(ConfigError, match="unknown loss weight 'c'"):
        check_loss_weights({"c": 1.0}, losses)


# -- the real vqvae task ------------------------------------------------------------------------------------
def _music_folder(tmp_path, n=2, seconds=2.0, sr=22050):
    d = tmp_path / "music"
    d.mkdir()
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        clicks = (np.sin(2 * np.pi * 8 * t) > 0.95).astype(np.float32)  # a click every 1/8 s
        y = 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) + 0.3 * clicks * np.random.default_rng(i).normal(size=t.size)
        sf.write(d / f"song{i}.wav", y.astype(np.float32), sr)
    return d


TINY = [
    "model.levels=2", "model.downs_t=[2,1]", "model.strides_t=[2,2]", "model.emb_width=8", "model.l_bins=16",
    "model.width=8", "model.depth=2", "model.multipliers=[1,1]", "data.seconds=0.2",
    "trainer.batch_size=2", "trainer.log_every=2", "trainer.progress=false", "eval_seconds=0.5",
    "eval_clips_per_file=1",
]  # fmt: skip


def test_vqvae_task_trains_and_exports(tmp_path):
    from dance2music.models.vqvae import VQVAE
    from dance2music.training.trainer import train

    music = _music_folder(tmp_path)
    src = [f"data.sources=[{music}]", f"data.eval_sources=[{music}]"]
    res = train("vqvae", None, TINY + src + ["trainer.max_steps=4"], out_dir=tmp_path / "run")
    assert res.step == 4
    assert np.isfinite(res.logs["recon/l1"]) and res.logs["recon/spec"] > 0
    assert {"level0/mel_l1", "level1/perplexity"} <= set(res.eval)
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert any((tmp_path / "run" / "tb").iterdir())
    m = VQVAE.load(tmp_path / "run" / "vqvae.safetensors")
    assert m.hops == [4, 8] and bool(m.bottleneck[0].initialized)


def test_vqvae_decoders_only_keeps_the_codes_and_trains_narrower_decoders(tmp_path):
    from dance2music.models.vqvae import VQVAE
    from dance2music.training.trainer import train

    music = _music_folder(tmp_path)
    src = [f"data.sources=[{music}]", "eval_clips_per_file=0"]
    train("vqvae", None, TINY + src + ["trainer.max_steps=3"], out_dir=tmp_path / "base")
    base = VQVAE.load(tmp_path / "base" / "vqvae.safetensors")
    new = TINY + src + [f"init_from={tmp_path / 'base' / 'vqvae.safetensors'}", "decoders_only=true"]
    train("vqvae", None, new + ["model.decoder_width=4", "trainer.max_steps=3"], out_dir=tmp_path / "dec")
    m = VQVAE.load(tmp_path / "dec" / "vqvae.safetensors")
    key = "decoders.0.level_blocks.0.model.0.weight"  # JukeBox's keys; the decoders' stages 4 wide, not 8
    assert m.config["decoder_width"] == 4 and m.state_dict()[key].shape == (4, 8, 3) != base.state_dict()[key].shape
    sd, ref = m.state_dict(), base.state_dict()
    for k, v in ref.items():
        if not k.startswith("decoders."):
            torch.testing.assert_close(sd[k], v, rtol=0, atol=0)  # encoders and codebooks (and their EMA) fixed
    x = torch.randn(1, 1, 800) * 0.3
    for L in range(2):
        assert torch.equal(m.encode(x, L), base.encode(x, L))
        assert m.decode(m.encode(x, L), L).shape == (1, 1, 800)
    with pytest.raises(ConfigError, match="needs init_from"):
        train("vqvae", None, TINY + src + ["decoders_only=true"], out_dir=tmp_path / "x")
    with pytest.raises(ConfigError, match="encoders or codebooks differ"):
        train("vqvae", None, new + ["model.width=4"], out_dir=tmp_path / "y")


def test_cli_train_vqvae(tmp_path, capsys):
    from dance2music.cli import main

    music = _music_folder(tmp_path, n=1)
    out = tmp_path / "cli"
    args = ["train", "vqvae", "--out", str(out), "--set", f"data.sources=[{music}]", "--set", "eval_clips_per_file=0"]
    for s in TINY + ["trainer.max_steps=2"]:
        args += ["--set", s]
    assert main(args) == 0
    assert (out / "vqvae.safetensors").is_file()
    assert main(args) == 2  # the run exists: refuses without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(args[:-2] + ["--set", "trainer.max_steps=3", "--resume"]) == 0


# -- DDP: 2 processes on CPU (gloo) -----------------------------------------------------------------------
def _ddp_worker(rank: int, world: int, port: int, out: str, music: str, result: dict) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from dance2music.training.distributed import shutdown_distributed
    from dance2music.training.registry import make_task

    task = make_task("vqvae", None, TINY + [f"data.sources=[{music}]", "eval_clips_per_file=0", "trainer.max_steps=3"])
    fit(task, out)
    result[rank] = {k: v.clone() for k, v in task.model.module.state_dict().items()}
    shutdown_distributed()


def test_ddp_two_ranks_stay_identical(tmp_path):
    import torch.multiprocessing as mp

    music = _music_folder(tmp_path, n=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        result = manager.dict()
        # fork: the workers inherit the imported modules instead of importing torch again (seconds each)
        mp.start_processes(
            _ddp_worker, args=(2, port, str(tmp_path / "ddp"), str(music), result), nprocs=2, start_method="fork"
        )
        r0, r1 = result[0], result[1]
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    assert (tmp_path / "ddp" / "checkpoint.pt").is_file()


# -- what `d2m train` tells the user (the bad-input suite of training) -------------------------------------
class ToyWithoutValidation(ToyTask):
    def evaluate(self, ctx):
        return {}  # as a task whose data has no validation split


def test_resume_without_a_checkpoint_and_no_validation_are_said(tmp_path, capfd):
    fit(ToyWithoutValidation(ToyExperiment(trainer=toy(2).config.trainer)), tmp_path / "new", resume=True)
    err = capfd.readouterr().err
    assert f"note: --resume: no checkpoint in {tmp_path / 'new'}; starting a new run" in err
    assert err.count("evaluation gave no metrics") == 1  # once, not at every evaluation
    fit(toy(2), tmp_path / "toy")  # a task that evaluates nothing by design says nothing
    assert "evaluation" not in capfd.readouterr().err


def test_cli_clean_stop_is_not_an_error(tmp_path, capfd, monkeypatch):
    """Ctrl-C/SIGTERM: the step ends, the checkpoint is saved, one plain line says so; exit 130; --resume goes on."""
    from dance2music.cli import main
    from dance2music.training import registry

    monkeypatch.setitem(registry.TASKS, "toy", ("test_trainer:ToyTask", "a toy"))
    out = tmp_path / "run"
    base = ["train", "toy", "--out", str(out), "--set", "trainer.max_steps=5", "--set", "trainer.batch_size=3",
            "--set", "trainer.progress=false"]  # fmt: skip
    assert main(base + ["--set", "signal_at=3"]) == 130
    lines = capfd.readouterr().err.strip().splitlines()
    assert lines[-1] == f"stopped at step 3: checkpoint saved ({out / 'checkpoint.pt'}); continue with --resume"
    assert not any(line.startswith("error:") for line in lines)
    assert main(base + ["--resume"]) == 0
    assert "resumed from" in capfd.readouterr().err
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 5


def test_config_extends_its_base_and_refuses_old_keys(tmp_path):
    from dance2music.training.synth_task import SynthExperiment

    (tmp_path / "a.yaml").write_text("trainer: {max_steps: 7, seed: 3}\ndata: {seconds: 0.5}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ntrainer: {max_steps: 9}\n")
    cfg = load_config(SynthExperiment, tmp_path / "b.yaml")
    assert (cfg.trainer.max_steps, cfg.trainer.seed, cfg.data.seconds) == (9, 3, 0.5)
    with pytest.raises(ConfigError, match="data.segment_seconds is an old key: write seconds"):
        load_config(SynthExperiment, None, ["data.segment_seconds=0.5"])
    with pytest.raises(ConfigError, match="lr_g is an old key: write optim.lr_g"):
        load_config(SynthExperiment, None, ["lr_g=0.001"])
