"""Chapters execute end to end under papermill at the profiles the book does not publish.

The `paper` profile needs the full data sets under `data_root`; here it runs on a tiny MNIST written in
torchvision's raw format, with paper-scale settings overridden down to seconds. It proves the path that a
GPU run takes: torchvision loading, 32x32x3 images, the paper's width-64 code path at reduced width.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import jupytext
import numpy as np
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))


def write_fake_mnist(root: Path, n_train: int = 128, n_test: int = 20) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = (rng.random((n, 28, 28)) ** 4 * 255).astype(np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())


def execute(chapter: str, tmp_path: Path, **parameters) -> dict:
    source = tmp_path / f"{chapter}.ipynb"
    jupytext.write(jupytext.read(ROOT / "notebooks" / f"{chapter}.py"), source)
    out = tmp_path / f"{chapter}.out.ipynb"
    papermill.execute_notebook(str(source), str(out), parameters=parameters, kernel_name="python3",
                               cwd=str(tmp_path), progress_bar=False)
    return json.loads(out.read_text())


def text_of(nb: dict) -> str:
    return "\n".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_smoke_profile_runs(chapter, tmp_path, monkeypatch):
    # No wall-clock assertion here (a busy machine would fail it): the chapter's own runtime line is read by
    # `make bench`, and the cpu budgets are checked on the published chapters (tests/test_book_fresh.py).
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached: the worst case
    monkeypatch.setenv("GANDENSITY_PROGRESS", "0")
    nb = execute(chapter, tmp_path, profile="smoke")
    text = text_of(nb)
    assert "at profile smoke" in text and "profile smoke: chapter ran in" in text


@pytest.mark.slow
def test_a1_paper_profile_reads_torchvision_mnist_as_32x32x3(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANDENSITY_PROGRESS", "0")
    write_fake_mnist(tmp_path / "data")
    nb = execute("a1_exact_density", tmp_path, profile="paper", data_root=str(tmp_path / "data"), device="cpu",
                 epochs=1, width=8, num_samples=16, check_samples=2)
    text = text_of(nb)
    assert "at profile paper" in text and "channel='3'" not in text
    assert "3 channel(s)" in text and "m=3072" in text
    assert "closed-form checks: 9; all within 1e-8 nats: True" in text


def test_a1_paper_profile_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(papermill.PapermillExecutionError, match="DatasetNotFoundError"):
        execute("a1_exact_density", tmp_path, profile="paper", data_root=str(tmp_path / "empty"), device="cpu")


def test_unknown_profile_is_a_clear_error(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown profile 'fast'"):
        execute("a1_exact_density", tmp_path, profile="fast")


@pytest.mark.parametrize("chapter", ["b3_likelihood_maximization", "b4_explanatory_factors"])
def test_celeba_paper_profile_without_data_says_how_to_get_it(chapter, tmp_path, monkeypatch):
    # Paper 001's 64x64 CelebA setup: reading the data is the first thing that can fail, with the fix in the message.
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(papermill.PapermillExecutionError, match=r"DatasetNotFoundError.*(?s:.*)img_align_celeba"):
        execute(chapter, tmp_path, profile="paper", data_root=str(tmp_path / "empty"), device="cpu")


@pytest.mark.slow
def test_d3_paper_profile_trains_led_on_torchvision_mnist_at_32x32(tmp_path, monkeypatch):
    # Paper 003's MNIST setup (32x32, three shuffle stages, K in {1, 64, 256}) on a tiny fake MNIST, a few steps.
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANDENSITY_PROGRESS", "0")
    write_fake_mnist(tmp_path / "data")
    nb = execute("d3_images", tmp_path, profile="paper", data_root=str(tmp_path / "data"), device="cpu",
                 steps=2, alpha_samples=64, ascent_steps=2)
    text = text_of(nb)
    assert "at profile paper" in text and "(1, 32, 32)" in text
    assert "K = 256: trained" in text
    assert "critic bits/dim finite for all 20 test digits: True" in text


def test_d3_paper_profile_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(papermill.PapermillExecutionError, match="DatasetNotFoundError"):
        execute("d3_images", tmp_path, profile="paper", data_root=str(tmp_path / "empty"), device="cpu")


def test_d3_celeba_without_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(papermill.PapermillExecutionError, match=r"DatasetNotFoundError.*(?s:.*)img_align_celeba"):
        execute("d3_images", tmp_path, profile="paper", data_root=str(tmp_path / "empty"), device="cpu",
                data="celeba", channels=3, image_size=64, shuffles=4)



# Chapters cheap enough to re-derive at the cpu profile under a second seed (new samples, new networks):
# their claims' verdicts must not depend on the seed the book was published with.
SECOND_SEED_CHAPTERS = ["d1_tracked_layers"]


def verdict_lines(nb: dict) -> list[str]:
    for cell in nb["cells"]:
        if "run.verdicts()" in "".join(cell["source"]):
            return "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])).splitlines()
    raise AssertionError("no cell prints run.verdicts()")


@pytest.mark.slow
@pytest.mark.parametrize("chapter", SECOND_SEED_CHAPTERS)
def test_claims_hold_under_a_second_seed(chapter, tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANDENSITY_PROGRESS", "0")
    published = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text())
    rerun = execute(chapter, tmp_path, profile="cpu", seed=1)
    assert verdict_lines(rerun) == verdict_lines(published)
