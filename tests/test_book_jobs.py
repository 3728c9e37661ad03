"""The chapters' job helpers (gandensity.book.jobs): the heavy steps of A1, C2 and C3 run the jobs of the
``gandensity`` command in the chapter's process, resume from the cache, and print the command that runs the same
job under ``torchrun`` when several GPUs are visible.

A tiny DCGAN (latent 3, width 2, 1 x 32 x 32 images); the cache is a temporary directory.
"""

from __future__ import annotations

import shlex
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from gandensity import cli
from gandensity.book import jobs as book_jobs
from gandensity.numerics import ais
from gandensity.numerics.density import generator_log_density
from gandensity.numerics.priors import StandardNormal
from gandensity.workflows import jobs, models
from gandensity.workflows.jobs import item_latents

RUN = SimpleNamespace(name="test_chapter", config=SimpleNamespace(profile="smoke"))
AIS = jobs.LikelihoodJob(sigma2=0.05, steps=4, chains=2, leapfrog=2, seed=1, shard_size=2)


@pytest.fixture(autouse=True)
def quiet_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANDENSITY_PROGRESS", "0")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_generator(seed: int = 0) -> models.Generator:
    torch.manual_seed(seed)
    g = models.Generator(models.DCGANConfig(latent_dim=3, channels=1, width=2))
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return g.eval().requires_grad_(False)


def test_densities_are_the_exact_densities_of_the_tables_latents_and_resume(capsys):
    g = tiny_generator()
    first = book_jobs.densities(RUN, g, samples=6, seed=3, batch=4, shard_size=4, gpus=1)
    assert first.z.shape == (6, 3) and first.log_density.dtype == torch.float64
    assert first.table["index"].tolist() == list(range(6))
    expected = generator_log_density(g, first.z, chunk_size=4)
    torch.testing.assert_close(first.log_density, expected.double())
    # the latents are the job's per-item draws: item i depends on (seed, i) only
    torch.testing.assert_close(first.z, item_latents(3, "density", range(6), 3, StandardNormal()))
    assert (first.report.shards, first.report.skipped, first.report.computed) == (2, 0, 2)
    assert first.summary().startswith("0 of 2 shard(s) already finished, 2 computed now")
    assert "GPUs are visible" not in capsys.readouterr().out

    again = book_jobs.densities(RUN, g, samples=6, seed=3, batch=4, shard_size=4, gpus=1)
    assert (again.report.skipped, again.report.computed) == (2, 0)
    assert again.summary().startswith("2 of 2 shard(s) already finished (")
    assert again.report.out == first.report.out
    torch.testing.assert_close(again.log_density, first.log_density, rtol=0, atol=0)
    torch.testing.assert_close(again.z, first.z, rtol=0, atol=0)
    # another seed is another job, in another directory
    other = book_jobs.densities(RUN, g, samples=6, seed=4, batch=4, shard_size=4, gpus=1)
    assert other.report.out != first.report.out and other.report.skipped == 0
    assert not torch.equal(other.z, first.z)


def test_with_several_gpus_the_printed_command_is_the_same_job(capsys, monkeypatch):
    g = tiny_generator()
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    out = book_jobs.job_dir("density", "samples", g, jobs.DensityJob(samples=5, seed=2, shard_size=2, batch=8))
    # The chapter prints the command (here interrupted before it computes anything, as a reader would) ...
    with monkeypatch.context() as m:
        m.setattr(jobs, "run_density", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            book_jobs.densities(RUN, g, samples=5, seed=2, shard_size=2)
    printed = capsys.readouterr().out
    line = next(x.strip() for x in printed.splitlines() if x.strip().startswith("torchrun"))
    argv = shlex.split(line)
    assert argv[:6] == ["torchrun", "--standalone", "--nproc_per_node=3", "-m", "gandensity", "density"]
    assert argv[argv.index("--out") + 1] == str(out)
    assert "3 GPUs are visible" in printed and "device cuda" in printed  # the generator is on the CPU
    # ... the command (here as one process) computes the job into that directory ...
    assert cli.main(argv[5:]) == 0
    # ... and the chapter, rerun, finds every shard finished and reads the command's table.
    read = book_jobs.densities(RUN, g, samples=5, seed=2, shard_size=2)
    assert (read.report.out, read.report.skipped, read.report.computed) == (out, 3, 0)
    assert read.summary().startswith("3 of 3 shard(s) already finished (")
    torch.testing.assert_close(read.log_density, generator_log_density(g, read.z).double())
    torch.testing.assert_close(read.z, item_latents(2, "density", range(5), 3, StandardNormal()))


def test_the_command_computes_what_the_chapter_then_reads(capsys, monkeypatch):
    g = tiny_generator()
    images = {"a": ais.simulate(g, 3, sigma2=0.05, seed=0)[1], "b": ais.simulate(g, 2, sigma2=0.05, seed=1)[1]}
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    outs = {k: book_jobs.job_dir("likelihood", k, g, AIS, images=jobs.ImageSource("x", v.cpu()))
            for k, v in images.items()}
    # Print the commands without computing: run them (one process each), then the chapter's call reads.
    with monkeypatch.context() as m:
        m.setattr(jobs, "run_likelihood", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            book_jobs.likelihoods(RUN, g, images, AIS)
    lines = [x.strip() for x in capsys.readouterr().out.splitlines() if x.strip().startswith("torchrun")]
    assert len(lines) == 2
    for name, line in zip(images, lines):
        argv = shlex.split(line)
        assert "--nproc_per_node=2" in argv and argv[argv.index("--out") + 1] == str(outs[name])
        assert cli.main(argv[5:]) == 0
    result = book_jobs.likelihoods(RUN, g, images, AIS, gpus=1)
    assert all(r.skipped == r.shards and r.computed == 0 for r in result.reports.values())
    assert result.summary() == "2 job(s), 3 of 3 shard(s) already finished"
    assert list(result.log_likelihood) == ["a", "b"]
    for name, x in images.items():  # one AIS run per shard, seeded by (seed, shard)
        for s, start in enumerate(range(0, len(x), AIS.shard_size)):
            part = x[start:start + AIS.shard_size]
            expected = ais.ais_log_likelihood(g, part, sigma2=AIS.sigma2, steps=AIS.steps, chains=AIS.chains,
                                              leapfrog=AIS.leapfrog, seed=jobs.item_seed(AIS.seed, "ais", s))
            torch.testing.assert_close(result.log_likelihood[name][start:start + len(part)], expected.double())


def test_likelihoods_compute_then_resume_and_refuse_bad_arguments():
    g = tiny_generator()
    x = ais.simulate(g, 3, sigma2=0.05, seed=0)[1]
    first = book_jobs.likelihoods(RUN, g, {"test": x}, AIS, gpus=1)
    assert first.summary().startswith("1 job(s), 0 of 2 shard(s) already finished, 2 computed now in ")
    again = book_jobs.likelihoods(RUN, g, {"test": x}, AIS, gpus=1)
    assert again.reports["test"].skipped == 2
    assert np.array_equal(again.log_likelihood["test"].numpy(), first.log_likelihood["test"].numpy())
    with pytest.raises(TypeError, match="LikelihoodJob"):
        book_jobs.likelihoods(RUN, g, {"test": x}, ais)
    with pytest.raises(TypeError, match=r"groups\['test'\]"):
        book_jobs.likelihoods(RUN, g, {"test": x.numpy()}, AIS)
    with pytest.raises(ValueError, match="prior must be one of"):
        book_jobs.densities(RUN, g, samples=2, seed=0, prior="gauss")
    with pytest.raises(ValueError, match="processes"):
        book_jobs.launch_command(["density"], 0)
