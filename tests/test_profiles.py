"""Profiles: one source of settings, clear errors for anything unknown."""

from __future__ import annotations

import pytest
import torch

from gandensity.book.profiles import CHAPTERS, PROFILES, chapter_config, resolve_device


def test_every_chapter_has_every_profile_with_the_same_settings():
    for chapter, profiles in CHAPTERS.items():
        assert set(profiles) == set(PROFILES), chapter
        keys = {p: set(v) for p, v in profiles.items()}
        assert keys["smoke"] == keys["cpu"] == keys["paper"], chapter


def test_overrides_and_none_meaning_default():
    cfg = chapter_config("a1_exact_density", "smoke", epochs=None, num_samples=8, device="cpu")
    assert cfg.profile == "smoke" and cfg.num_samples == 8
    assert cfg.epochs == CHAPTERS["a1_exact_density"]["smoke"]["epochs"]
    assert cfg["device"] == "cpu" and dict(cfg)["num_samples"] == 8
    assert chapter_config("a1_exact_density", "cpu", num_samples="16").num_samples == 16  # papermill may pass str


def test_unknown_profile_chapter_and_setting_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown profile 'fast'.*\['smoke', 'cpu', 'paper'\]"):
        chapter_config("a1_exact_density", "fast")
    with pytest.raises(ValueError, match=r"unknown chapter 'z9'.*a1_exact_density"):
        chapter_config("z9")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['epoch'\].*'epochs'"):
        chapter_config("a1_exact_density", epoch=3)
    with pytest.raises(AttributeError, match="no setting 'epoch'"):
        chapter_config("a1_exact_density").epoch


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
