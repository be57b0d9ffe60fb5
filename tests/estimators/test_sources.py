"""Sources: files and datasets read in checked chunks; malformed shards name file and row."""

import numpy as np
import pandas as pd
import pytest

from tf_lattice.estimators import DataError, DatasetSource, FileSource
from tf_lattice.estimators._sources import FrameSource, expand_files

pytest.importorskip("pyarrow")


def _frame(n=50, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n), "k": rng.integers(0, 5, n),
                          "color": rng.choice(["red", "blue"], n).astype(object),
                          "y": rng.normal(size=n)})
    frame.loc[3, "x"] = np.nan
    frame.loc[4, "color"] = None
    return frame


def _write(frame, folder, parts, suffix):
    paths = []
    for k, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        path = folder / f"part-{k}{suffix}"
        part = frame.iloc[rows]
        if suffix == ".parquet":
            part.to_parquet(path, index=False, row_group_size=7)
        else:
            part.to_csv(path, index=False)
        paths.append(path)
    return paths


def _rows(source, skip_first=0):
    chunks = [chunk for piece in source.pieces()
              for chunk in source.read(piece, skip=skip_first if piece.index == 0 else 0)]
    features = pd.concat([chunk.features for chunk in chunks], ignore_index=True)
    return features, np.concatenate([chunk.y for chunk in chunks])


def test_expand_files_globs_directories_and_lists(tmp_path):
    paths = _write(_frame(), tmp_path, 3, ".csv")
    (tmp_path / "notes.txt").write_text("not data")
    assert expand_files(str(tmp_path / "part-*.csv")) == [str(p) for p in paths]
    assert expand_files(tmp_path) == [str(p) for p in paths]
    assert expand_files([paths[2], paths[0]]) == [str(paths[2]), str(paths[0])]
    with pytest.raises(ValueError, match="no files match"):
        expand_files(str(tmp_path / "*.parquet"))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_files_read_back_the_rows_in_order(tmp_path, suffix):
    frame = _frame()
    _write(frame, tmp_path, 3, suffix)
    source = FileSource(str(tmp_path / f"*{suffix}"), target="y", read_rows=4).bind(False)
    assert source.kinds == {"x": "numeric", "k": "numeric", "color": "categorical"}
    if suffix == ".parquet":
        assert len(source.pieces()) > 3 and all(p.rows for p in source.pieces())  # row groups
    features, y = _rows(source)
    np.testing.assert_allclose(y, frame["y"])
    np.testing.assert_allclose(features["x"], frame["x"])
    assert features["color"].isna().sum() == 1 and features["color"][0] == frame["color"][0]
    features, y = _rows(source, skip_first=2)
    np.testing.assert_allclose(y, frame["y"][2:])


def test_a_dataset_source_reads_batched_and_unbatched_elements():
    tf = pytest.importorskip("tensorflow")
    frame = _frame(20)
    columns = {"x": frame["x"].to_numpy(), "color": frame["color"].fillna("").to_numpy(str)}
    dataset = tf.data.Dataset.from_tensor_slices((columns, frame["y"].to_numpy()))
    for data in (dataset, dataset.batch(6)):
        source = DatasetSource(data, read_rows=8).bind(False)
        assert source.kinds == {"x": "numeric", "color": "categorical"}
        features, y = _rows(source)
        np.testing.assert_allclose(y, frame["y"])
        assert features["color"][0] == frame["color"][0]
    two = DatasetSource(dataset.batch(6)).bind(False, num_workers=2)
    assert sum(len(_rows_of(two, piece)) for piece in two.pieces()) == 20


def _rows_of(source, piece):
    return np.concatenate([chunk.y for chunk in source.read(piece)])


def test_a_frame_source_slices_the_frame():
    frame = _frame(30)
    source = FrameSource(frame.drop(columns="y"), frame["y"], read_rows=8).bind(False)
    assert len(source.pieces()) == 4
    features, y = _rows(source)
    np.testing.assert_allclose(y, frame["y"])


def _read_all(source):
    for piece in source.pieces():
        for _ in source.read(piece):
            pass


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_bad_value_names_the_file_and_row(tmp_path, suffix):
    frame = _frame(40)
    paths = _write(frame, tmp_path, 2, suffix)
    second = frame.iloc[20:].astype({"x": str})  # Parquet: a text column in the second file
    second.loc[33, "x"] = "oops"  # its row 13
    if suffix == ".parquet":
        second.to_parquet(paths[1], index=False)
    else:
        second.to_csv(paths[1], index=False)
    source = FileSource(str(tmp_path / f"*{suffix}"), target="y").bind(False)
    with pytest.raises(DataError, match=rf"{paths[1].name}, row 13: column 'x' has the "
                                        r"non-number 'oops'"):
        _read_all(source)


def test_a_csv_row_with_missing_fields_names_the_file_and_row(tmp_path):
    paths = _write(_frame(40), tmp_path, 2, ".csv")
    lines = paths[1].read_text().splitlines()
    lines[6] = lines[6].rsplit(",", 1)[0]  # data row 5 loses a field
    paths[1].write_text("\n".join(lines) + "\n")
    source = FileSource(str(tmp_path / "*.csv"), target="y").bind(False)
    with pytest.raises(DataError, match=rf"{paths[1].name}, row 5: 3 fields where the header "
                                        "has 4"):
        _read_all(source)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_shard_without_a_column_names_the_file(tmp_path, suffix):
    frame = _frame(40)
    paths = _write(frame, tmp_path, 2, suffix)
    part = frame.iloc[20:].drop(columns="color")
    if suffix == ".parquet":
        part.to_parquet(paths[1], index=False)
    else:
        part.to_csv(paths[1], index=False)
    with pytest.raises(DataError, match=rf"{paths[1].name}.*'color'"):
        _read_all(FileSource(str(tmp_path / f"*{suffix}"), target="y").bind(False))


def test_missing_targets_and_infinite_values_name_the_row(tmp_path):
    frame = _frame(30)
    frame.loc[17, "y"] = np.nan
    _write(frame, tmp_path, 1, ".parquet")
    with pytest.raises(DataError, match="part-0.parquet, row 17: the target is missing"):
        _read_all(FileSource(str(tmp_path / "*.parquet"), target="y").bind(False))
    frame.loc[17, "y"] = 1.0
    frame.loc[21, "x"] = np.inf
    _write(frame, tmp_path, 1, ".parquet")
    with pytest.raises(DataError, match="row 21: column 'x' has an infinite value"):
        _read_all(FileSource(str(tmp_path / "*.parquet"), target="y").bind(False))


def test_a_regressor_needs_a_numeric_target(tmp_path):
    frame = _frame(10).assign(y=lambda f: np.where(f["y"] > 0, "up", "down"))
    _write(frame, tmp_path, 1, ".parquet")
    source = FileSource(str(tmp_path / "*.parquet"), target="y")
    with pytest.raises(DataError, match="not numbers; a regressor needs numeric targets"):
        source.bind(False)
    assert source.bind(True).kinds["color"] == "categorical"
