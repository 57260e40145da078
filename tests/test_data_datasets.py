"""PairedDataset and SyntheticRainDataset: shapes, ranges, subsets, and reproducibility."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sapnet.data import DataError, PairedDataset, SyntheticRainDataset, select_subset


def write_photo(path: Path, height: int, width: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def make_paired_folder(root: Path, count: int = 5, height: int = 40, width: int = 48) -> Path:
    for i in range(count):
        write_photo(root / "rainy" / f"{i}.png", height, width, seed=i)
        write_photo(root / "clean" / f"{i}.png", height, width, seed=100 + i)
    return root


def test_crops_are_float_chw_in_unit_range(tmp_path):
    dataset = PairedDataset(make_paired_folder(tmp_path), crop=16)
    rainy, clean = dataset[0]
    assert rainy.shape == clean.shape == (3, 16, 16)
    assert rainy.dtype == clean.dtype == torch.float32
    assert rainy.min() >= 0 and rainy.max() <= 1


def test_rainy_and_clean_crops_are_aligned(tmp_path):
    write_photo(tmp_path / "rainy" / "a.png", 30, 40, seed=1)
    write_photo(tmp_path / "clean" / "a.png", 30, 40, seed=1)  # same pixels: any misalignment shows
    dataset = PairedDataset(tmp_path, crop=8)
    for _ in range(10):
        rainy, clean = dataset[0]
        assert torch.equal(rainy, clean)


def test_crops_follow_torch_seed(tmp_path):
    dataset = PairedDataset(make_paired_folder(tmp_path), crop=8)
    torch.manual_seed(3)
    first = [dataset[0][0] for _ in range(4)]
    torch.manual_seed(3)
    again = [dataset[0][0] for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(first[0], other) for other in first[1:])  # random per access


def test_flip_only_with_augment(tmp_path):
    write_photo(tmp_path / "rainy" / "a.png", 8, 8, seed=1)
    write_photo(tmp_path / "clean" / "a.png", 8, 8, seed=2)
    full = PairedDataset(tmp_path, crop=None, augment=False)[0][0]
    augmented = PairedDataset(tmp_path, crop=8, augment=True)
    seen = {torch.equal(augmented[0][0], full.flip(-1)) for _ in range(30)}
    assert seen == {True, False}
    plain = PairedDataset(tmp_path, crop=8, augment=False)
    assert all(torch.equal(plain[0][0], full) for _ in range(10))


def test_full_images_without_crop(tmp_path):
    dataset = PairedDataset(make_paired_folder(tmp_path, height=21, width=33), crop=None, augment=False)
    rainy, clean = dataset[1]
    assert rainy.shape == clean.shape == (3, 21, 33)
    expected = np.asarray(Image.open(tmp_path / "rainy" / "1.png"), dtype=np.float32) / 255
    assert torch.allclose(rainy, torch.from_numpy(expected).permute(2, 0, 1))


def test_small_images_are_mirror_padded_to_the_crop(tmp_path):
    dataset = PairedDataset(make_paired_folder(tmp_path, count=1, height=5, width=30), crop=16)
    rainy, _ = dataset[0]
    assert rainy.shape == (3, 16, 16)
    assert torch.equal(rainy[:, 5], rainy[:, 4])  # symmetric mirroring repeats the edge row


def test_accepts_a_list_of_pairs(tmp_path):
    make_paired_folder(tmp_path, count=2)
    pairs = [(str(tmp_path / "rainy" / "1.png"), tmp_path / "clean" / "1.png")]
    dataset = PairedDataset(pairs, crop=None)
    assert len(dataset) == 1 and dataset.pairs[0][0] == tmp_path / "rainy" / "1.png"


def test_unreadable_image_is_named_at_load_time(tmp_path):
    make_paired_folder(tmp_path, count=2)
    (tmp_path / "clean" / "1.png").write_bytes(b"garbage")
    dataset = PairedDataset(tmp_path)
    dataset[0]
    with pytest.raises(DataError, match=r"clean/1\.png: cannot read image"):
        dataset[1]


def test_pair_of_different_sizes(tmp_path):
    write_photo(tmp_path / "rainy" / "a.png", 20, 30, seed=1)
    write_photo(tmp_path / "clean" / "a.png", 20, 31, seed=1)
    with pytest.raises(DataError, match=r"rainy/a\.png is 30×20 but its clean partner .*clean/a\.png is 31×20"):
        PairedDataset(tmp_path)[0]


@pytest.mark.parametrize("arguments", [{"crop": 0}, {"crop": 2.5}, {"subset": 0}, {"subset": 1.5}])
def test_bad_arguments(tmp_path, arguments):
    with pytest.raises(ValueError):
        PairedDataset(make_paired_folder(tmp_path, count=1), **arguments)


def test_subset_is_a_fixed_seeded_fraction(tmp_path):
    make_paired_folder(tmp_path, count=10, height=4, width=4)
    forty = PairedDataset(tmp_path, subset=0.4, seed=7).pairs
    assert len(forty) == 4
    assert PairedDataset(tmp_path, subset=0.4, seed=7).pairs == forty
    assert forty == sorted(forty, key=lambda pair: int(pair[0].stem))  # original order kept
    assert PairedDataset(tmp_path, subset=0.4, seed=8).pairs != forty
    assert set(forty) <= set(PairedDataset(tmp_path, subset=0.6, seed=7).pairs)
    assert len(PairedDataset(tmp_path, subset=1.0).pairs) == 10


def test_select_subset_keeps_at_least_one():
    assert len(select_subset(list(range(3)), 0.01, seed=0)) == 1


def make_clean_folder(root: Path, count: int = 3) -> Path:
    for i in range(count):
        write_photo(root / f"photo{i}.jpg", 30, 40, seed=i)
    return root


def test_synthetic_pairs_have_crop_shape_and_added_rain(tmp_path):
    dataset = SyntheticRainDataset(make_clean_folder(tmp_path), crop=16, presets=("heavy",))
    assert len(dataset) == 3
    rainy, clean = dataset[0]
    assert rainy.shape == clean.shape == (3, 16, 16) and rainy.dtype == torch.float32
    assert rainy.min() >= 0 and rainy.max() <= 1 and rainy.mean() > clean.mean() + 0.02  # rain adds light


def test_synthetic_pairs_are_fixed_per_seed_epoch_index(tmp_path):
    folder = make_clean_folder(tmp_path)
    dataset = SyntheticRainDataset(folder, crop=16, seed=1)
    twin = SyntheticRainDataset(folder, crop=16, seed=1, cache=True)
    assert all(torch.equal(a, b) for a, b in zip(dataset[2], twin[2]))
    assert all(torch.equal(a, b) for a, b in zip(twin[2], twin[2]))  # cached photo gives the same
    before = dataset[2][0]
    dataset.set_epoch(1)
    assert not torch.equal(dataset[2][0], before)
    dataset.set_epoch(0)
    assert torch.equal(dataset[2][0], before)
    assert not torch.equal(SyntheticRainDataset(folder, crop=16, seed=2)[2][0], before)


def test_synthetic_epoch_length_cycles_photos(tmp_path):
    dataset = SyntheticRainDataset(make_clean_folder(tmp_path), crop=None, epoch_length=7)
    assert len(dataset) == 7
    assert torch.equal(dataset[4][1], dataset[1][1])  # both photo1, whole, so the clean sides match
    with pytest.raises(IndexError):
        dataset[7]
    assert len(list(dataset)) == 7


def test_synthetic_rejects_unknown_presets(tmp_path):
    with pytest.raises(ValueError, match="drizzle, light, heavy, storm"):
        SyntheticRainDataset(make_clean_folder(tmp_path), presets=("hail",))


def test_synthetic_dataset_in_a_dataloader(tmp_path):
    dataset = SyntheticRainDataset(make_clean_folder(tmp_path), crop=16, epoch_length=4)
    rainy, clean = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2)))
    assert rainy.shape == clean.shape == (4, 3, 16, 16)
    assert torch.equal(rainy[3], dataset[3][0])  # workers give the same items as the main process


def test_veil_prior_adds_a_uniform_veil_whatever_the_preset(tmp_path):
    from sapnet.data.rain import VeilPrior

    for i in range(3):
        Image.fromarray(np.zeros((30, 40, 3), dtype=np.uint8)).save(tmp_path / f"black{i}.png")
    # no preset draws a uniform veil any more; on a black photo a veil lifts the median pixel
    plain = SyntheticRainDataset(tmp_path, crop=16, presets=("light",))
    veiled = SyntheticRainDataset(tmp_path, crop=16, presets=("light",), veil=VeilPrior(probability=1, maximum=0.2))
    assert all(plain[i][0].median() < 0.01 for i in range(3))
    assert all(0.0 < veiled[i][0].median() <= 0.21 for i in range(3))
    assert sum(veiled[i][0].median() for i in range(3)) > 0.05
    with pytest.raises(ValueError, match="veil probability"):
        VeilPrior(probability=1.5)


def test_dry_items_are_the_clean_crop_and_leave_other_items_as_they_were(tmp_path):
    folder = make_clean_folder(tmp_path, count=4)
    rainy_only = SyntheticRainDataset(folder, crop=16, presets=("downpour",), epoch_length=40)
    some_dry = SyntheticRainDataset(folder, crop=16, presets=("downpour",), epoch_length=40, dry=0.3)
    dry = [i for i in range(40) if torch.equal(*some_dry[i])]
    assert 4 <= len(dry) <= 20  # about 30 % of 40
    assert not any(torch.equal(*rainy_only[i]) for i in range(40))  # downpour always rains
    assert all(torch.equal(some_dry[i][1], rainy_only[i][1]) for i in range(40))  # same crops
    with pytest.raises(ValueError, match="dry must be a share"):
        SyntheticRainDataset(folder, dry=1.0)


def test_scene_lines_are_in_input_and_target_on_the_same_crops(tmp_path):
    folder = make_clean_folder(tmp_path, count=4)
    plain = SyntheticRainDataset(folder, crop=32, presets=("light",), epoch_length=40, dry=0.5)
    lined = SyntheticRainDataset(folder, crop=32, presets=("light",), epoch_length=40, dry=0.5, scene_lines=0.5)
    changed = [i for i in range(40) if not torch.equal(lined[i][1], plain[i][1])]
    assert 8 <= len(changed) <= 32  # about half of 40 targets carry lines
    dry_lined = [i for i in changed if torch.equal(*lined[i])]
    assert dry_lined  # a dry item keeps its lines in the input too
    for i in changed:
        differs = (lined[i][1] - plain[i][1]).abs().amax(0) > 1e-6
        assert differs.float().mean() < 0.5  # thin lines, not a new picture
    with pytest.raises(ValueError, match="scene_lines must be a share"):
        SyntheticRainDataset(folder, scene_lines=1.5)


def test_scene_lines_only_in_the_presets_named(tmp_path):
    folder = make_clean_folder(tmp_path, count=4)
    common = dict(crop=32, epoch_length=12, scene_lines=1.0)
    # Light rain only: the limit keeps every item's lines, and the random stream is the same.
    unlimited = SyntheticRainDataset(folder, presets=("light",), **common)
    kept = SyntheticRainDataset(folder, presets=("light",), scene_lines_presets=("light", "storm"), **common)
    assert all(torch.equal(kept[i][k], unlimited[i][k]) for i in range(12) for k in (0, 1))
    # Heavy rain only: no rainy item keeps its lines; the crops are those without lines at all.
    plain = SyntheticRainDataset(folder, presets=("heavy",), crop=32, epoch_length=12)
    dropped = SyntheticRainDataset(folder, presets=("heavy",), scene_lines_presets=("light",), **common)
    lined = SyntheticRainDataset(folder, presets=("heavy",), **common)
    assert all(torch.equal(dropped[i][1], plain[i][1]) for i in range(12))
    assert not any(torch.equal(lined[i][1], plain[i][1]) for i in range(12))
    # Dry items keep them whatever the preset.
    dry = SyntheticRainDataset(folder, presets=("heavy",), scene_lines_presets=("light",), dry=0.99, **common)
    dry_unlimited = SyntheticRainDataset(folder, presets=("heavy",), dry=0.99, **common)
    assert sum(torch.equal(dry[i][1], dry_unlimited[i][1]) and not torch.equal(dry[i][1], plain[i][1]) for i in range(12)) >= 10
    with pytest.raises(ValueError, match="scene_lines_presets must be a choice"):
        SyntheticRainDataset(folder, scene_lines_presets=("hail",))


def test_lit_edges_are_in_input_and_target_on_the_same_crops(tmp_path):
    folder = make_clean_folder(tmp_path, count=4)
    common = dict(crop=32, presets=("light",), epoch_length=40, dry=0.5, scene_lines=0.3)
    plain = SyntheticRainDataset(folder, **common)
    edged = SyntheticRainDataset(folder, lit_edges=0.5, **common)
    changed = [i for i in range(40) if not torch.equal(edged[i][1], plain[i][1])]
    assert 8 <= len(changed) <= 32  # about half of 40 targets carry edges
    assert any(torch.equal(*edged[i]) for i in changed)  # a dry item keeps its edges in the input too
    for i in changed:  # drawn over the same crop: most of it is as it was
        differs = (edged[i][1] - plain[i][1]).abs().amax(0) > 1e-6
        assert differs.float().mean() < 0.8
    with pytest.raises(ValueError, match="lit_edges must be a share"):
        SyntheticRainDataset(folder, lit_edges=-0.1)


def test_photos_from_several_folders_and_depth_per_photo(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    Image.fromarray(np.zeros((40, 30, 3), dtype=np.uint8)).save(first / "x.png")
    Image.fromarray(np.full((50, 20, 3), 255, dtype=np.uint8)).save(second / "y.png")
    dataset = SyntheticRainDataset([first, second], crop=16, presets=("storm",), epoch_length=4)
    assert [path.name for path in dataset.files] == ["x.png", "y.png"]
    assert torch.equal(dataset[1][1], torch.ones(3, 16, 16)) and torch.equal(dataset[0][1], torch.zeros(3, 16, 16))
    whole = SyntheticRainDataset([first], crop=None, presets=("storm",), epoch_length=1)[0][0]
    assert whole.shape == (3, 40, 30)
