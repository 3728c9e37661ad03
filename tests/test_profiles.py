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


def test_every_profiles_own_values_pass_as_overrides():
    # The type of a setting is read from its values across profiles: each profile's value must be of it.
    for chapter, profiles in CHAPTERS.items():
        for profile in PROFILES:
            base = chapter_config(chapter, profile)
            again = chapter_config(chapter, profile, **dict(base))
            assert dict(again) == dict(base), chapter
            assert all(type(again[k]) is type(base[k]) for k in base), chapter


def test_config_is_read_only():
    cfg = chapter_config("a1_exact_density", "smoke")
    with pytest.raises(TypeError, match=r"read-only \(cannot change 'epochs'\).*-p epochs <value>"):
        cfg.epochs = 3
    with pytest.raises(TypeError, match=r"read-only \(cannot change 'epochs'\)"):
        cfg["epochs"] = 3
    with pytest.raises(TypeError, match="read-only"):
        del cfg["epochs"]
    with pytest.raises(TypeError, match="read-only"):
        del cfg.epochs
    with pytest.raises(TypeError, match="read-only"):
        cfg.new_setting = 1
    assert cfg.epochs == CHAPTERS["a1_exact_density"]["smoke"]["epochs"]


def test_mutable_values_come_back_as_copies():
    cfg = chapter_config("b1_stochastic_logdet", "smoke")
    orders = cfg.orders
    orders.append(99)
    cfg["orders"].append(98)
    assert cfg.orders == CHAPTERS["b1_stochastic_logdet"]["smoke"]["orders"] == [2, 4, 8]
    sizes = chapter_config("c2_gan_density", "smoke").group_sizes
    sizes["test"] = 10_000
    assert chapter_config("c2_gan_density", "smoke").group_sizes["test"] == 4
    assert CHAPTERS["c2_gan_density"]["smoke"]["group_sizes"]["test"] == 4


def test_integers_stay_integers():
    with pytest.raises(TypeError, match=r"setting epochs must be an integer, got float 1\.9; it is not rounded"):
        chapter_config("a1_exact_density", "smoke", epochs=1.9)
    with pytest.raises(TypeError, match="setting epochs must be an integer, got float 2.0"):
        chapter_config("a1_exact_density", "smoke", epochs=2.0)
    with pytest.raises(TypeError, match="setting epochs must be an integer, got bool True"):
        chapter_config("a1_exact_density", "smoke", epochs=True)
    with pytest.raises(TypeError, match="setting epochs must be an integer, got str '1.9'"):
        chapter_config("a1_exact_density", "smoke", epochs="1.9")
    assert type(chapter_config("a1_exact_density", "smoke", epochs=3).epochs) is int
    with pytest.raises(TypeError, match="setting threads must be an integer"):  # None at paper, int elsewhere
        chapter_config("a1_exact_density", "paper", threads=1.5)
    assert chapter_config("a1_exact_density", "paper", threads=4).threads == 4


def test_floats_accept_integers_as_floats():
    cfg = chapter_config("b3_likelihood_maximization", "smoke", eps=1, lr="0.5")
    assert cfg.eps == 1.0 and type(cfg.eps) is float and cfg.lr == 0.5
    with pytest.raises(TypeError, match="setting eps must be a number, got str 'small'"):
        chapter_config("b3_likelihood_maximization", "smoke", eps="small")


def test_booleans_are_booleans():
    with pytest.raises(TypeError, match=r"setting perpendicular must be a boolean \(True/False\), got str 'False'"
                                        r"; pass True or False"):
        chapter_config("d3_images", "smoke", perpendicular="False")
    with pytest.raises(TypeError, match="setting perpendicular must be a boolean"):
        chapter_config("d3_images", "smoke", perpendicular=0)
    assert chapter_config("d3_images", "smoke", perpendicular=False).perpendicular is False


def test_strings_and_data_root():
    with pytest.raises(TypeError, match="setting data must be a string, got int 5; quote it"):
        chapter_config("d3_images", "smoke", data=5)
    with pytest.raises(TypeError, match=r"setting data_root must be a path \(str or os.PathLike\), got int 2024; "
                                        r"papermill reads -p data_root 2024 as a number: quote it.*-r data_root 2024"):
        chapter_config("a1_exact_density", "smoke", data_root=2024)
    from pathlib import Path
    cfg = chapter_config("a1_exact_density", "smoke", data_root=Path("/data/x"))
    assert cfg.data_root == "/data/x" and type(cfg.data_root) is str
    assert chapter_config("a1_exact_density", "smoke", data_root="2024").data_root == "2024"
    assert chapter_config("a1_exact_density", "smoke", device=torch.device("cpu")).device == torch.device("cpu")
    with pytest.raises(TypeError, match="setting device must be a device name"):
        chapter_config("a1_exact_density", "smoke", device=0)


def test_lists_and_tuples_keep_their_element_types():
    cfg = chapter_config("b1_stochastic_logdet", "smoke", orders=(2, 3))
    assert cfg.orders == [2, 3] and type(cfg.orders) is list
    with pytest.raises(TypeError, match=r"setting orders\[1\] must be an integer, got float 3.5"):
        chapter_config("b1_stochastic_logdet", "smoke", orders=[2, 3.5])
    with pytest.raises(TypeError, match="setting orders must be a list of integers, got str '2,4'"):
        chapter_config("b1_stochastic_logdet", "smoke", orders="2,4")
    assert chapter_config("b4_explanatory_factors", "smoke", base=[8, 4]).base == (8, 4)
    with pytest.raises(TypeError, match=r"setting base\[1\] must be an integer, got str .x."):
        chapter_config("b4_explanatory_factors", "smoke", base=("8", "x"))
    cfg = chapter_config("d2_mixtures", "smoke", capacity=[[4, 1]])
    assert cfg.capacity == [(4, 1)]
    with pytest.raises(TypeError, match=r"setting capacity\[0\]\[1\] must be an integer"):
        chapter_config("d2_mixtures", "smoke", capacity=[(4, 1.5)])


def test_dict_settings_check_their_keys_and_values():
    cfg = chapter_config("c2_gan_density", "smoke", group_sizes={"test": 2})
    assert cfg.group_sizes == {"test": 2}
    with pytest.raises(TypeError, match=r"setting group_sizes has no key\(s\) \['tset'\]; valid keys"):
        chapter_config("c2_gan_density", "smoke", group_sizes={"tset": 2})
    with pytest.raises(TypeError, match=r"setting group_sizes\['test'\] must be an integer"):
        chapter_config("c2_gan_density", "smoke", group_sizes={"test": 2.5})
