"""Dataset loaders, splits, fingerprints and caches, on real data (no mocks, no downloads)."""

from __future__ import annotations

import gzip
import inspect
import os
import random
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest

from suite.data import DATASETS, DataError, clear_cache, prepare
from suite.data import images as images_mod
from suite.data import ucr as ucr_mod
from suite.data.prepare import stratified_take
from suite.registry import RegistryError

FASHION_SKIP = (
    "Fashion-MNIST idx files not found "
    "(apt-get install dataset-fashion-mnist or set SUITE_DATA_DIR)"
)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("suite_cache")


@pytest.fixture(autouse=True)
def _fresh(session_cache: Path, monkeypatch: pytest.MonkeyPatch):
    """Every test starts with an empty memo and never writes into ./results."""
    monkeypatch.setenv("SUITE_CACHE_DIR", str(session_cache))
    clear_cache()
    yield
    clear_cache()


def _fashion_dir() -> Path | None:
    for d in images_mod.fashion_search_dirs():
        if all(images_mod._find_idx(d, s) for s in images_mod.FASHION_FILES):
            return d
    return None


def _need_ucr(name: str) -> None:
    if ucr_mod.locate(name, ucr_mod.ucr_roots()) is None:
        pytest.skip(f"UCR files for {name} not found (pip install --no-deps aeon)")


def _ids_npz(path: Path, n: int = 300, k: int = 3, *, test: int = 0) -> Path:
    """A tabular npz whose first feature is a unique example id, with unbalanced classes."""
    rng = np.random.default_rng(7)
    counts = np.round(np.linspace(1, 2, k) * n / (1.5 * k)).astype(int)  # 67, 100, 133
    y = np.repeat(np.arange(k), counts)
    ids = np.arange(len(y), dtype=np.float32)
    x = np.stack([ids, rng.normal(size=len(y)).astype(np.float32)], axis=1)
    if test:
        yt = np.arange(test) % k
        xt = np.stack([10_000 + np.arange(test, dtype=np.float32), np.zeros(test)], axis=1)
        np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    else:
        np.savez(path, x=x, y=y)
    return path


# --- registry and schemas --------------------------------------------------------------------


def test_all_loaders_registered_with_simple_schemas():
    import pydantic

    assert {"mnist1d", "digits", "fashion_mnist", "ucr", "npz", "csv"} <= set(DATASETS)
    for name, loader in DATASETS.items():
        doc = inspect.getdoc(loader) or ""
        assert doc and "\n" not in doc, f"{name}: needs a one-line docstring"
        hints = typing.get_type_hints(loader)
        fields = {}
        for p in inspect.signature(loader).parameters.values():
            assert p.name in hints, f"{name}.{p.name} is not annotated"
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[p.name] = (hints[p.name], default)
        pydantic.create_model(f"{name}_params", **fields)  # the signature is a valid schema


def test_import_is_light():
    code = (
        "import sys, suite.data; heavy = {'sklearn', 'pandas', 'mnist1d', 'tensorflow', "
        "'keras', 'aeon', 'matplotlib'}; print(sorted(heavy & set(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_unknown_dataset_and_parameter():
    with pytest.raises(RegistryError, match="Did you mean 'digits'"):
        prepare("digit", {})
    with pytest.raises(TypeError, match="num_samples"):
        prepare("mnist1d", {"samples": 10})


# --- built-in datasets -------------------------------------------------------------------------


def test_digits():
    ds = prepare("digits", {})
    assert ds.input_shape == (8, 8, 1) and ds.modality == "image"
    assert ds.classes == tuple(str(i) for i in range(10))
    assert ds.train.x.dtype == np.float32 and ds.train.y.dtype == np.int64
    assert ds.train.x.min() >= 0.0 and ds.train.x.max() == 1.0
    assert len(ds.train) + len(ds.val) + len(ds.test) == 1797
    assert ds.meta["test_split"] == "held_out"


def test_mnist1d_default():
    ds = prepare("mnist1d", {})
    assert ds.input_shape == (40, 1) and ds.modality == "sequence"
    assert ds.classes == tuple(str(i) for i in range(10))
    assert len(ds.test) == 1000 and len(ds.train) + len(ds.val) == 4000
    assert ds.meta["test_split"] == "native" and ds.meta["params"] == {
        "num_samples": 5000,
        "seed": 42,
    }


def test_mnist1d_cache_written_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUITE_CACHE_DIR", str(tmp_path))
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    raw = DATASETS.get("mnist1d")(num_samples=200, seed=3)
    assert (np.random.random(), random.random()) == expected  # global RNGs left alone
    path = tmp_path / "mnist1d" / "200_3.npz"
    assert path.is_file()
    assert raw.x_train.shape == (160, 40, 1) and raw.x_test.shape == (40, 40, 1)

    # the second call reads the file: a marked copy comes back as written
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["x"][0, 0] = 99.0
    np.savez(path, **arrays)
    assert DATASETS.get("mnist1d")(num_samples=200, seed=3).x_train[0, 0, 0] == 99.0

    path.write_bytes(b"not an npz")  # a corrupt cache is regenerated and rewritten
    again = DATASETS.get("mnist1d")(num_samples=200, seed=3)
    np.testing.assert_array_equal(again.x_train, raw.x_train)
    assert np.load(path)["x"].shape == (160, 40)


def test_fashion_mnist():
    if _fashion_dir() is None:
        pytest.skip(FASHION_SKIP)
    raw = images_mod.load_fashion_mnist(images_mod.fashion_search_dirs(), download_to=None)
    assert raw.x_train.shape == (60000, 28, 28, 1) and raw.x_test.shape == (10000, 28, 28, 1)
    assert raw.x_train.dtype == np.float32 and 0.0 <= raw.x_train.min() <= raw.x_train.max() <= 1
    assert raw.classes[0] == "T-shirt/top" and raw.classes[-1] == "Ankle boot"
    assert np.bincount(raw.y_test).tolist() == [1000] * 10


def _write_idx(path: Path, a: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, dtype=">i4").tobytes()
    data = header + a.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_fashion_idx_parsing_and_missing_error(tmp_path: Path):
    empty, other, real = tmp_path / "empty", tmp_path / "other", tmp_path / "real"
    with pytest.raises(DataError) as err:
        images_mod.load_fashion_mnist([empty, other], download_to=None)
    msg = str(err.value)
    assert str(empty) in msg and str(other) in msg
    assert "apt-get install dataset-fashion-mnist" in msg

    real.mkdir()
    imgs = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    for stem, arr, gz in [
        ("train-images-idx3-ubyte", imgs, True),
        ("train-labels-idx1-ubyte", np.array([0, 9, 4]), True),
        ("t10k-images-idx3-ubyte", imgs[:2], False),
        ("t10k-labels-idx1-ubyte", np.array([1, 2]), False),
    ]:
        _write_idx(real / (stem + (".gz" if gz else "")), arr, gz)
    raw = images_mod.load_fashion_mnist([empty, real], download_to=None)
    assert raw.x_train.shape == (3, 28, 28, 1) and raw.y_train.tolist() == [0, 9, 4]
    np.testing.assert_allclose(raw.x_test[1, :, :, 0] * 255, imgs[1], atol=1e-3)
    (real / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1]))
    with pytest.raises(DataError, match="truncated"):
        images_mod.load_fashion_mnist([real], download_to=None)


def test_ucr_shipped_problems():
    _need_ucr("GunPoint")
    ds = prepare("ucr", {"problem": "GunPoint"})
    assert ds.input_shape == (150, 1) and ds.classes == ("1", "2")
    assert len(ds.train) + len(ds.val) == 50 and len(ds.test) == 150
    raw = DATASETS.get("ucr")(problem="ItalyPowerDemand", znormalize=True)
    assert raw.x_train.shape == (67, 24, 1) and raw.x_test.shape == (1029, 24, 1)
    np.testing.assert_allclose(raw.x_train.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(raw.x_train.std(axis=1), 1, atol=1e-3)
    _need_ucr("BasicMotions")
    bm = DATASETS.get("ucr")(problem="BasicMotions")
    assert bm.x_train.shape == (40, 100, 6)
    assert bm.classes == ("Standing", "Running", "Walking", "Badminton")


def test_ucr_unknown_name_suggests_near_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _need_ucr("GunPoint")
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as err:
        prepare("ucr", {"problem": "GunPont"})
    msg = str(err.value)
    assert "Did you mean 'GunPoint'" in msg and "ItalyPowerDemand" in msg
    assert str(tmp_path / "ucr") in msg and "pip install --no-deps aeon" in msg
    _need_ucr("JapaneseVowels")  # unequal lengths: padded and masked (tests/test_padding.py)
    assert prepare("ucr", {"problem": "JapaneseVowels"}).meta["mask_value"] is not None


TS_HEAD = "# a comment\n@problemName Toy\n@timeStamps false\n@univariate {uni}\n"


def _write_ts(folder: Path, name: str, body: str, header: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("TRAIN", "TEST"):
        (folder / f"{name}_{split}.ts").write_text(header + "@data\n" + body)


def test_ucr_ts_format_from_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    uni = TS_HEAD.format(uni="true") + "@classLabel true b a\n"
    _write_ts(tmp_path / "ucr" / "Toy", "Toy", "1,2,3:a\n4,5,6:b\n7,8,9:a\n", uni)
    raw = DATASETS.get("ucr")(problem="Toy")
    assert raw.classes == ("b", "a") and raw.y_train.tolist() == [1, 0, 1]
    assert raw.x_train.shape == (3, 3, 1) and raw.x_train[1, :, 0].tolist() == [4, 5, 6]

    multi = TS_HEAD.format(uni="false") + "@dimensions 2\n@classLabel true 1 2\n"
    _write_ts(tmp_path / "Multi", "Multi", "1,2:3,4:1\n5,6:7,8:2\n", multi)
    raw = DATASETS.get("ucr")(problem="Multi")
    assert raw.x_train.shape == (2, 2, 2) and raw.x_train[0].tolist() == [[1, 3], [2, 4]]

    _write_ts(tmp_path / "ucr" / "Gap", "Gap", "1,?,3:a\n4,5,6:b\n", uni)
    with pytest.raises(DataError, match="missing values"):
        DATASETS.get("ucr")(problem="Gap")
    _write_ts(tmp_path / "ucr" / "Ragged", "Ragged", "1,2,3:a\n4,5:b\n", uni)
    raw = DATASETS.get("ucr")(problem="Ragged")  # padded after the end, masked by the model
    assert raw.x_train[:, :, 0].tolist() == [[1, 2, 3], [4, 5, 0]] and raw.mask_value == 0.0
    reg = TS_HEAD.format(uni="true") + "@targetlabel true\n"
    _write_ts(tmp_path / "ucr" / "Reg", "Reg", "1,2,3:0.5\n", reg)
    with pytest.raises(DataError, match="not a classification problem"):
        DATASETS.get("ucr")(problem="Reg")


# --- splits, fingerprints, caps, memo ----------------------------------------------------------


def _ids(split) -> set[int]:
    return set(split.x[:, 0].astype(int).tolist())


def test_splits_disjoint_stratified_and_seeded(tmp_path: Path):
    path = str(_ids_npz(tmp_path / "ids.npz"))
    ds = prepare("npz", {"path": path}, seed=0)
    tr, va, te = _ids(ds.train), _ids(ds.val), _ids(ds.test)
    assert not (tr & va or tr & te or va & te) and len(tr | va | te) == 300
    total = np.bincount(np.concatenate([ds.train.y, ds.val.y, ds.test.y]))
    for split, share in ((ds.test, 0.2), (ds.val, 0.16), (ds.train, 0.64)):
        assert np.all(np.abs(np.bincount(split.y, minlength=3) - total * share) <= 1.5)

    same = prepare("npz", {"path": path}, seed=0)
    clear_cache()
    again = prepare("npz", {"path": path}, seed=0)
    assert same is ds and again is not ds and again.fingerprint == ds.fingerprint
    np.testing.assert_array_equal(again.val.x, ds.val.x)
    other = prepare("npz", {"path": path}, seed=1)
    assert other.fingerprint != ds.fingerprint and _ids(other.test) != te
    with pytest.raises(ValueError, match="read-only"):
        ds.train.x[0, 0] = 1.0


def test_native_test_split_is_kept(tmp_path: Path):
    path = str(_ids_npz(tmp_path / "native.npz", test=30))
    ds = prepare("npz", {"path": path})
    assert _ids(ds.test) == set(range(10_000, 10_030)) and ds.meta["test_split"] == "native"
    assert len(ds.train) + len(ds.val) == 300 and not _ids(ds.train) & _ids(ds.val)


def test_fingerprint_follows_the_data(tmp_path: Path):
    path = tmp_path / "fp.npz"
    _ids_npz(path)
    first = prepare("npz", {"path": str(path)}).fingerprint
    with np.load(path) as f:
        x, y = f["x"].copy(), f["y"]
    x[5, 1] += 1.0
    np.savez(path, x=x, y=y)
    clear_cache()
    assert prepare("npz", {"path": str(path)}).fingerprint != first


def test_max_examples_caps_and_truncates(tmp_path: Path):
    path = str(_ids_npz(tmp_path / "cap.npz"))
    full = prepare("npz", {"path": path})
    capped = prepare("npz", {"path": path}, max_examples=40)
    assert len(capped.train) == 40 and len(capped.val) == 20 and len(capped.test) == 20
    assert set(capped.train.y.tolist()) == {0, 1, 2}
    assert _ids(capped.train) <= _ids(full.train) and _ids(capped.val) <= _ids(full.val)
    assert _ids(capped.test) <= _ids(full.test)
    assert capped.meta["sizes"] == {"train": 40, "val": 20, "test": 20}
    big = prepare("npz", {"path": path}, max_examples=10_000)
    assert big.fingerprint == full.fingerprint


def test_stratified_take():
    y = np.array([0] * 90 + [1] * 9 + [2] * 1)
    idx = stratified_take(y, 20, seed=0)
    assert len(idx) == 20 and np.bincount(y[idx]).tolist() == [18, 1, 1]
    assert set(stratified_take(y, 10, seed=0)) <= set(idx)
    assert len(stratified_take(y, 500, seed=0)) == 100


# --- the user's own files ----------------------------------------------------------------------


def test_npz_layouts_and_string_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    x3 = np.random.default_rng(0).random((6, 5, 4)).astype(np.float64)
    labels = np.array(["dog", "cat", "bird", "cat", "dog", "bird"])
    np.savez(tmp_path / "img.npz", images=x3, names=labels)
    loader = DATASETS.get("npz")
    raw = loader(str(tmp_path / "img.npz"), x_key="images", y_key="names", modality="image")
    assert raw.x_train.shape == (6, 5, 4, 1) and raw.x_train.dtype == np.float32
    assert raw.classes == ("bird", "cat", "dog") and raw.y_train.tolist() == [2, 1, 0, 1, 2, 0]
    assert raw.x_test is None

    monkeypatch.chdir(tmp_path)  # relative to the current directory
    assert loader("img.npz", x_key="images", y_key="names").modality == "sequence"
    with pytest.raises(DataError, match=r"'x', 'y'.*'images', 'names'"):
        loader("img.npz")

    dd = tmp_path / "data"
    (dd / "sub").mkdir(parents=True)
    np.savez(dd / "sub" / "t.npz", x=np.eye(4), y=np.array([3, 1, 3, 1]))
    monkeypatch.setenv("SUITE_DATA_DIR", str(dd))  # then relative to each data dir
    raw = loader("sub/t.npz")
    assert raw.modality == "tabular" and raw.classes == ("1", "3")


def test_missing_file_names_the_places_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    monkeypatch.setenv("SUITE_DATA_DIR", os.pathsep.join([str(d1), str(d2)]))
    monkeypatch.chdir(tmp_path)
    for name in ("npz", "csv"):
        with pytest.raises(DataError) as err:
            prepare(name, {"path": "nope/data.file"})
        msg = str(err.value)
        assert msg.startswith(f"{name}:") and "SUITE_DATA_DIR" in msg
        for d in (tmp_path, d1, d2):
            assert str(d / "nope" / "data.file") in msg


def test_csv(tmp_path: Path):
    f = tmp_path / "t.csv"
    f.write_text("a;b;note;kind\n1;2.5;x;spam\n3;4;y;ham\n5;6;z;spam\n7;8;w;ham\n")
    loader = DATASETS.get("csv")
    raw = loader(str(f), label="kind", features=["a", "b"], delimiter=";")
    assert raw.x_train.shape == (4, 2) and raw.x_train.dtype == np.float32
    assert raw.classes == ("ham", "spam") and raw.y_train.tolist() == [1, 0, 1, 0]
    assert raw.modality == "tabular"
    with pytest.raises(DataError, match="'note'"):
        loader(str(f), label="kind", delimiter=";")
    with pytest.raises(DataError, match=r"no label column 'label'.*'kind'"):
        loader(str(f), delimiter=";")

    g = tmp_path / "n.csv"
    g.write_text("f1,f2,label\n" + "".join(f"{i},{i * 2},{i % 3}\n" for i in range(30)))
    ds = prepare("csv", {"path": str(g)})
    assert ds.input_shape == (2,) and ds.classes == ("0", "1", "2")
    assert len(ds.train) + len(ds.val) + len(ds.test) == 30
