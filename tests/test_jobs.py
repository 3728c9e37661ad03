"""Sharded, resumable jobs (gandensity.workflows.jobs) and the ``gandensity`` command (gandensity.cli).

The model is a tiny DCGAN (latent 3, width 2, 1 x 32 x 32 images) saved with ``save_generator``; the reference
tables are computed in this process. Other runs start real processes: ``torchrun --standalone`` with two gloo
workers, two concurrent ``torchrun`` "nodes" meeting at a c10d rendezvous on 127.0.0.1, and a worker that dies
after its first shard. Every table must equal the reference, row for row.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from gandensity import cli
from gandensity.numerics import ais
from gandensity.numerics.density import generator_log_density
from gandensity.workflows import cache, jobs, models

LATENT = 3
DENSITY = ["--samples", "10", "--shard-size", "4", "--seed", "3", "--device", "cpu"]  # shards of 4, 4, 2


def likelihood_options(shard_size: int = 2, seed: int = 1) -> list[str]:
    return ["--images", "simulated:5", "--sigma2", "0.05", "--steps", "6", "--chains", "2", "--leapfrog", "2",
            "--shard-size", str(shard_size), "--seed", str(seed), "--device", "cpu"]


LIKELIHOOD = likelihood_options()  # shards of 2, 2, 1
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                "TORCHELASTIC_RUN_ID")


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", GANDENSITY_PROGRESS="0", **extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(commands: list[list[str]], env: dict[str, str], timeout: float = 150) -> list[tuple[int, str]]:
    """Run the commands concurrently, each in its own process group (killed whole on a timeout, workers
    included); (exit status, output) of each."""
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True) for c in commands]
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    return [(p.returncode, out) for p, out in zip(procs, outputs)]


def tiny_generator(seed: int = 0) -> models.Generator:
    torch.manual_seed(seed)
    g = models.Generator(models.DCGANConfig(latent_dim=LATENT, channels=1, width=2))
    for m in g.modules():  # batch-norm statistics that are not the identity, so that the file must carry them
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return g.eval()


def run_cli(argv: list[str], capsys: pytest.CaptureFixture | None = None) -> str:
    assert cli.main([str(a) for a in argv]) == 0
    return capsys.readouterr().out if capsys is not None else ""


def usage_error(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([str(a) for a in argv])
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = a.sort_values("index").reset_index(drop=True), b.sort_values("index").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    np.testing.assert_array_equal(a["index"].to_numpy(), b["index"].to_numpy())
    for column in a.columns:
        if column == "index":
            continue
        if column == "z":
            x, y = np.stack(a[column].to_numpy()), np.stack(b[column].to_numpy())
        else:
            x, y = a[column].to_numpy(), b[column].to_numpy()
        torch.testing.assert_close(torch.tensor(x), torch.tensor(y), equal_nan=True, msg=column)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def checkpoint(work: Path) -> Path:
    return models.save_generator(tiny_generator(), work / "g.pt", metadata={"note": "test"})


@pytest.fixture(scope="module")
def reference(work: Path, checkpoint: Path) -> dict[str, Path]:
    """The two jobs run by the command in this process (one worker)."""
    out = {"density": work / "ref-density", "likelihood": work / "ref-likelihood"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANDENSITY_PROGRESS", "0")
        run_cli(["density", "--model", checkpoint, "--out", out["density"], *DENSITY])
        run_cli(["likelihood", "--model", checkpoint, "--out", out["likelihood"], *LIKELIHOOD])
    return out


# ------------------------------------------------------------------------------------------ checkpoints


def test_checkpoint_round_trip_rebuilds_the_network(tmp_path):
    g = tiny_generator(1)
    path = models.save_generator(g, tmp_path / "sub" / "g.pt", prior="uniform", metadata={"epochs": 3})
    assert [p.name for p in path.parent.iterdir()] == ["g.pt"]  # no temporary file left behind
    loaded = models.load_checkpoint(path)
    assert loaded.prior == "uniform" and loaded.metadata == {"epochs": 3}
    h = loaded.generator
    assert isinstance(h, models.Generator) and h.config == g.config and not h.training
    assert not any(p.requires_grad for p in h.parameters())
    for (k, v), (k2, v2) in zip(g.state_dict().items(), h.state_dict().items()):
        assert k == k2
        torch.testing.assert_close(v, v2, rtol=0, atol=0)
    z = torch.randn(5, LATENT)
    torch.testing.assert_close(h(z), g(z), rtol=0, atol=0)
    assert models.load_generator(path).config == g.config


def test_checkpoint_errors_say_what_the_file_is(tmp_path):
    with pytest.raises(FileNotFoundError, match="save_generator"):
        models.load_generator(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a readable generator checkpoint"):
        models.load_generator(garbage)
    state = tmp_path / "state.pt"
    torch.save(tiny_generator().state_dict(), state)
    with pytest.raises(ValueError, match="plain torch.save of a state_dict is not one"):
        models.load_generator(state)
    entry = tmp_path / "entry.pt"
    cache.save_entry(entry, {"history": [1.0]})
    with pytest.raises(ValueError, match="not a generator checkpoint"):
        models.load_generator(entry)
    good = models.save_generator(tiny_generator(), tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(ValueError, match="checksum mismatch"):
        models.load_generator(truncated)
    with pytest.raises(TypeError, match="models.Generator"):
        models.save_generator(nn.Linear(3, 4), tmp_path / "linear.pt")
    with pytest.raises(ValueError, match="prior must be one of"):
        models.save_generator(tiny_generator(), tmp_path / "p.pt", prior="gaussian")


# ------------------------------------------------------------------------------------------ what the tables hold


def test_density_table_is_the_exact_density_of_each_items_latent(reference, checkpoint):
    table = jobs.read_table(reference["density"])
    assert list(table.columns) == ["index", "z", "log_density"] and table["index"].tolist() == list(range(10))
    z = torch.tensor(np.stack(table["z"].to_numpy()))
    # each latent depends on (seed, index) alone: drawn again one at a time, whatever the shards
    for i in (0, 5, 9):
        torch.testing.assert_close(z[i:i + 1], jobs.item_latents(3, "density", [i], LATENT, jobs.prior_from_name(
            "normal")), rtol=0, atol=0)
    # brute force: dense float64 Jacobian by reverse-mode autograd and slogdet of J^T J
    g64 = models.load_generator(checkpoint).double()
    expected = []
    for zi in z.double():
        jac = torch.autograd.functional.jacobian(lambda v: g64(v[None]).reshape(-1), zi)
        expected.append(-0.5 * zi.pow(2).sum() - 0.5 * LATENT * np.log(2 * np.pi)
                        - 0.5 * torch.linalg.slogdet(jac.T @ jac)[1])
    torch.testing.assert_close(torch.tensor(table["log_density"].to_numpy()), torch.stack(expected),
                               rtol=1e-4, atol=1e-4)
    manifest = jobs.read_manifest(reference["density"])
    assert manifest["complete"] and manifest["identity"]["job"]["shard_size"] == 4
    assert manifest["runs"][-1]["world_size"] == 1 and manifest["info"]["metadata"] == {"note": "test"}


def test_likelihood_table_is_one_ais_run_per_shard(reference, checkpoint):
    table = jobs.read_table(reference["likelihood"])
    assert list(table.columns) == ["index", "log_likelihood", "upper_bound", "bits_per_dim", "acceptance", "ess",
                                   "z"]
    assert table["index"].tolist() == list(range(5))
    assert np.isfinite(table[["log_likelihood", "upper_bound", "bits_per_dim"]].to_numpy()).all()
    g = models.load_generator(checkpoint)
    prior = jobs.prior_from_name("normal")
    indices = range(2, 4)  # shard 1
    z = jobs.item_latents(1, "simulate-z", indices, LATENT, prior)
    noise = torch.stack([torch.randn((1, 32, 32), generator=torch.Generator().manual_seed(
        jobs.item_seed(1, "simulate-noise", i))) for i in indices])
    x = g(z) + 0.05 ** 0.5 * noise
    settings = dict(sigma2=0.05, steps=6, chains=2, leapfrog=2)
    lower = ais.ais_log_likelihood(g, x, seed=jobs.item_seed(1, "ais", 1), **settings)
    upper = ais.bdmc_upper_bound(g, z, x, seed=jobs.item_seed(1, "bdmc", 1), **settings)
    rows = table.iloc[2:4]
    torch.testing.assert_close(torch.tensor(np.stack(rows["z"].to_numpy())), z, rtol=0, atol=0)
    torch.testing.assert_close(torch.tensor(rows["log_likelihood"].to_numpy()), lower)
    torch.testing.assert_close(torch.tensor(rows["upper_bound"].to_numpy()), upper)
    bpd = -(lower + 1024 * np.log(jobs.DATA_SCALE / 256)) / (1024 * np.log(2))
    torch.testing.assert_close(torch.tensor(rows["bits_per_dim"].to_numpy()), bpd)


# ------------------------------------------------------------------------------------------ processes


def test_torchrun_two_workers_give_the_same_tables(reference, checkpoint, tmp_path):
    """(b) torchrun --standalone, two gloo workers: both commands, one launch (the command's main, run twice)."""
    script = tmp_path / "both.py"  # one process group for both commands: main uses a group it finds joined
    script.write_text("import sys\nimport torch.distributed as dist\nfrom gandensity.cli import main\n"
                      "dist.init_process_group('gloo')\nargs = sys.argv[1:]\ni = args.index('--')\n"
                      "assert main(args[:i]) == 0 and main(args[i + 1:]) == 0\ndist.destroy_process_group()\n")
    dens, lik = tmp_path / "density", tmp_path / "likelihood"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           "density", "--model", str(checkpoint), "--out", str(dens), *DENSITY, "--",
           "likelihood", "--model", str(checkpoint), "--out", str(lik), *LIKELIHOOD]
    [(status, log)] = run_processes([cmd], child_env())
    assert status == 0, log[-3000:]
    for kind, out in (("density", dens), ("likelihood", lik)):
        assert_same_table(pd.read_parquet(out), jobs.read_table(reference[kind]))
        run = jobs.read_manifest(out)["runs"][-1]
        assert run["world_size"] == 2 and sorted(w["shards"] for w in run["workers"]) == [1, 2]


def test_two_torchrun_nodes_give_the_same_table(reference, checkpoint, tmp_path):
    """(c) two torchrun agents ("nodes", one worker each) meeting at a c10d rendezvous, running python -m gandensity."""
    out, port = tmp_path / "likelihood", free_port()
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d",
            f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_id=jobs-test", "-m", "gandensity", "likelihood", "--model",
            str(checkpoint), "--out", str(out), *LIKELIHOOD]
    results = run_processes([node, node], child_env())
    assert all(status == 0 for status, _ in results), "\n".join(log[-2000:] for _, log in results)
    assert_same_table(pd.read_parquet(out), jobs.read_table(reference["likelihood"]))
    assert jobs.read_manifest(out)["runs"][-1]["world_size"] == 2


def test_killed_worker_then_rerun_computes_only_the_missing_shards(reference, checkpoint, tmp_path, capsys):
    """(d) a worker dies after its first shard (test hook); the rerun skips it and computes the other two."""
    out = tmp_path / "likelihood"
    argv = ["likelihood", "--model", str(checkpoint), "--out", str(out), *LIKELIHOOD]
    [(status, log)] = run_processes([[sys.executable, "-m", "gandensity", *argv]],
                                    child_env(GANDENSITY_JOBS_FAIL_AFTER="1"))
    assert status == jobs.FAIL_EXIT, log[-2000:]
    assert sorted(p.name for p in out.glob("shard-*.parquet")) == ["shard-000000.parquet"]
    assert not list(out.glob(".*.tmp")) and not jobs.read_manifest(out)["complete"]
    with pytest.raises(ValueError, match="unfinished"):
        jobs.read_table(out)
    assert len(jobs.read_table(out, allow_partial=True)) == 2
    printed = run_cli(argv, capsys)
    assert re.search(r"skipped 1 finished shard\(s\), recomputed 0 corrupt, computed 2 ", printed), printed
    assert_same_table(jobs.read_table(out), jobs.read_table(reference["likelihood"]))
    printed = run_cli(argv, capsys)  # a third run has nothing to do
    assert "skipped 3 finished shard(s), recomputed 0 corrupt, computed 0 " in printed


def test_corrupt_shards_are_moved_aside_and_recomputed(reference, checkpoint, tmp_path, capsys):
    """(e) a truncated shard and a readable shard holding the wrong rows."""
    out = tmp_path / "density"
    shutil.copytree(reference["density"], out)
    one, two = out / "shard-000001.parquet", out / "shard-000002.parquet"
    one.write_bytes(one.read_bytes()[:200])
    shutil.copy(out / "shard-000000.parquet", two)  # rows 0-3 where rows 8-9 belong
    printed = run_cli(["density", "--model", checkpoint, "--out", out, *DENSITY], capsys)
    assert "skipped 1 finished shard(s), recomputed 2 corrupt, computed 2 " in printed, printed
    assert "shard-000001.parquet: unreadable" in printed and "instead of items 8 ... 9" in printed
    assert len(list((out / "_corrupt").iterdir())) == 2
    assert_same_table(pd.read_parquet(out), jobs.read_table(reference["density"]))


def test_another_jobs_directory_is_refused(reference, checkpoint, tmp_path, capsys):
    out = tmp_path / "likelihood"
    shutil.copytree(reference["likelihood"], out)
    err = usage_error(["likelihood", "--model", checkpoint, "--out", out, *likelihood_options(shard_size=3)], capsys)
    assert "argument --out" in err and "job.shard_size: 2 there, 3 now" in err and "another output directory" in err
    err = usage_error(["likelihood", "--model", checkpoint, "--out", out, *likelihood_options(seed=7)], capsys)
    assert "job.seed: 1 there, 7 now" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    err = usage_error(["density", "--model", checkpoint, "--out", tmp_path / "mine", *DENSITY], capsys)
    assert "argument --out" in err and "not empty (notes.txt)" in err


# ------------------------------------------------------------------------------------------ the command line


def test_bad_options_exit_2_naming_the_option(checkpoint, tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    images = tmp_path / "images.pt"
    torch.save(torch.zeros(4, 3, 32, 32), images)  # three channels; the model makes one
    d = ["density", "--model", checkpoint, "--out", tmp_path / "o", *DENSITY]
    lik = ["likelihood", "--model", checkpoint, "--out", tmp_path / "o", *LIKELIHOOD]
    cases = [
        ([*d, "--samples", "0"], "argument --samples: must be a positive integer, got '0'"),
        ([*d, "--shard-size", "-4"], "argument --shard-size: must be a positive integer"),
        ([*d, "--seed", "x"], "argument --seed: must be an integer >= 0"),
        (["density", "--model", checkpoint, "--samples", "5"], "the following arguments are required: --out"),
        ([*d, "--model", tmp_path / "missing.pt"], "argument --model: no such file"),
        ([*d, "--model", garbage], "argument --model: " + str(garbage) + " is not a readable generator checkpoint"),
        ([*d, "--model", "book:nope@cpu"], "argument --model: unknown book model 'nope'"),
        ([*d, "--model", "book:dcgan-mnist@huge"], "argument --model: unknown profile 'huge'"),
        ([*d, "--model", "book:dcgan-mnist"], "argument --model: 'book:dcgan-mnist' is not of the form"),
        ([*d, "--device", "tpu"], "argument --device: unknown device 'tpu'"),
        ([*d, "--logdet", "lu"], "argument --logdet: invalid choice"),
        ([*lik, "--sigma2", "-1"], "argument --sigma2: must be a finite number > 0, got '-1'"),
        ([*lik, "--sigma2", "nan"], "argument --sigma2: must be a finite number > 0"),
        ([*lik, "--images", "nosuchset"], "argument --images: 'nosuchset' is neither"),
        ([*lik, "--images", "simulated:0"], "argument --images: 'simulated:0': write simulated:N"),
        ([*lik, "--images", "cifar10"], "argument --images: cifar10 is read from disk: pass --data-root"),
        ([*lik, "--images", images], "argument --images: " + str(images) + " holds images of shape (3, 32, 32)"),
        ([*lik, "--images", garbage], "argument --images: " + str(garbage) + " is not a tensor file"),
        ([], "the following arguments are required: {density,likelihood}"),
    ]
    if not torch.cuda.is_available():
        cases.append(([*d, "--device", "cuda"], "argument --device: device 'cuda' was requested but torch sees no"))
    for argv, message in cases:
        err = usage_error(argv, capsys)
        assert message in " ".join(err.split()), f"{argv}: {err}"
    assert not (tmp_path / "o").exists()  # nothing was written


def test_help_explains_every_option_and_the_entry_points_exist(capsys, monkeypatch):
    parser = cli.build_parser()
    for name, sub in parser.subcommands.items():
        with pytest.raises(SystemExit) as exit_info:
            cli.main([name, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
            for option in action.option_strings:
                assert option in text
        assert "torchrun" in text and "read_parquet" in text
    monkeypatch.setattr(sys, "argv", ["gandensity", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("gandensity", run_name="__main__")
    assert exit_info.value.code == 0 and "density" in capsys.readouterr().out
    scripts = importlib.metadata.entry_points(group="console_scripts", name="gandensity")
    assert [s.value for s in scripts] == ["gandensity.cli:main"]


def test_book_models_resolve_through_the_profiles(monkeypatch):
    names = cli.book_models()
    assert {"dcgan-mnist", "dcgan-natural", "a1_exact_density", "c2_gan_density", "a2_sanity_checks.natural"} <= set(
        names)
    assert "d3_images" not in names  # LED, not a DCGAN
    seen = {}

    def fake(config, gan, device):  # the training itself is the training module's (tested there)
        seen.update(chapter=config.chapter, profile=config.profile, gan=gan, threads=torch.get_num_threads())
        return tiny_generator(), "normal", "/cache/dcgan-x.pt"

    monkeypatch.setattr(cli, "_book_generator", fake)
    threads = torch.get_num_threads()
    model = cli.resolve_model("book:dcgan-mnist@smoke", device=torch.device("cpu"))
    assert seen == {"chapter": "a1_exact_density", "profile": "smoke", "gan": None, "threads": 1}
    assert torch.get_num_threads() == threads and not model.generator.training
    assert model.info == {"model": "book:dcgan-mnist@smoke", "cache_entry": "/cache/dcgan-x.pt"}
    cli.resolve_model("book:a2_sanity_checks.natural@cpu", device=torch.device("cpu"))
    assert (seen["chapter"], seen["gan"]) == ("a2_sanity_checks", "natural")


def test_package_code_version_is_the_books():
    from gandensity.book.chapter import package_version
    assert jobs.package_code_version() == package_version()


def test_jobs_check_their_settings():
    with pytest.raises(ValueError, match="DensityJob.samples must be an int >= 1"):
        jobs.DensityJob(samples=0)
    with pytest.raises(ValueError, match="LikelihoodJob.sigma2 must be a finite number > 0"):
        jobs.LikelihoodJob(sigma2=float("inf"))
    with pytest.raises(ValueError, match="either images"):
        jobs.ImageSource("x")
    with pytest.raises(ValueError, match="NaN or inf in images \\[1\\]"):
        jobs.ImageSource("x", torch.tensor([0.0, float("nan")]).reshape(2, 1, 1, 1))
    assert jobs.item_seed(0, "a", 1) != jobs.item_seed(0, "a", 2) != jobs.item_seed(1, "a", 1)
