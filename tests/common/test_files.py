"""common.files: trees listed literally and copied with the marker file last."""

import os

from common import files


def _tree(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def test_a_directory_with_glob_characters_is_only_itself(tmp_path):
    _tree(tmp_path / "d[1]", ["a.txt", "sub/b.txt"])
    _tree(tmp_path / "d1", ["other.txt"])  # what the pattern d[1] would match
    assert files.list_files(str(tmp_path / "d[1]")) == [
        f"{tmp_path}/d[1]/a.txt",
        f"{tmp_path}/d[1]/sub/b.txt",
    ]
    assert files.list_files(str(tmp_path / "missing")) == []


def test_copy_tree_keeps_relative_paths_filters_and_copies_the_marker_last(tmp_path, monkeypatch):
    _tree(tmp_path / "src", ["manifest.json", "a/x.bin", "b/y.bin", "skip.tmp"])
    copied_order = []
    copy = files.tf.io.gfile.copy

    def recording_copy(source, target, overwrite=False):
        copied_order.append(os.path.relpath(target, tmp_path / "dst"))
        copy(source, target, overwrite=overwrite)

    monkeypatch.setattr(files.tf.io.gfile, "copy", recording_copy)
    n = files.copy_tree(
        str(tmp_path / "src"),
        str(tmp_path / "dst"),
        keep=lambda p: not p.endswith(".tmp"),
        last=["manifest.json"],
    )
    assert n == 3 and copied_order[-1] == "manifest.json"
    assert sorted(copied_order) == ["a/x.bin", "b/y.bin", "manifest.json"]
    assert (tmp_path / "dst" / "a" / "x.bin").read_text() == "a/x.bin"
    assert not (tmp_path / "dst" / "skip.tmp").exists()


def test_relative_never_resolves_against_the_working_directory():
    assert files.relative("gs://bucket/out/train/part-0", "gs://bucket/out/") == "train/part-0"
