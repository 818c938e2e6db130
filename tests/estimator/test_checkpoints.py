"""Copied and moved model dirs: a `checkpoint` state file that names another place.

TF1 Savers and tf.estimator 2.15's object-based Saver wrote absolute paths into the
state file; a dir copied from gs://old-bucket or another machine then named files that
are gone (2.15: "The passed save_path is not a valid checkpoint"), or, worse, files of
the original that still exist: 2.15 restored those and its Saver deleted them when
removing old checkpoints. Here the copy resumes from its own files, says so in one log
line, and never reads or deletes the original's.
"""

import os
import shutil

import tensorflow as tf

from estimator import checkpoints
from tests.estimator import logs, models


def _point_state_at(model_dir, old_dir) -> None:
    """Rewrites model_dir's state file as a Saver at old_dir wrote it: absolute paths there."""
    state = tf.train.get_checkpoint_state(str(model_dir))
    names = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
    tf.compat.v1.train.update_checkpoint_state(
        str(model_dir),
        f"{old_dir}/{os.path.basename(state.model_checkpoint_path)}",
        all_model_checkpoint_paths=[f"{old_dir}/{name}" for name in names],
    )


def test_a_dir_copied_from_a_bucket_resumes_from_its_own_files_saying_so_once(tmp_path):
    original = tmp_path / "original"
    models.make_estimator(original).train(models.train_input_fn, steps=3)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    _point_state_at(copy, "gs://old-bucket/models/run1")
    est = models.make_estimator(copy)
    with logs.tf_log() as messages:
        assert est.latest_checkpoint() == str(copy / "model.ckpt-3")
        assert est.evaluate(models.eval_input_fn, steps=1)["global_step"] == 3
        est.train(models.train_input_fn, steps=2)
    moved = [m for m in messages if "gs://old-bucket/models/run1/model.ckpt-3" in m]
    assert len(moved) == 1 and str(copy / "model.ckpt-3") in moved[0], messages
    assert est.get_variable_value("global_step") == 5
    state = tf.train.get_checkpoint_state(str(copy))
    assert all(p.startswith(str(copy)) for p in state.all_model_checkpoint_paths)


def test_training_a_copy_never_touches_the_originals_files(tmp_path):
    """The state file names the original, which still exists: the copy reads and removes
    (keep_checkpoint_max=1) only its own checkpoints."""
    original = tmp_path / "original"
    models.make_estimator(original, save_checkpoints_steps=2).train(models.train_input_fn, steps=4)
    before = sorted(os.listdir(original))
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    _point_state_at(copy, str(original))
    est = models.make_estimator(copy, save_checkpoints_steps=2, keep_checkpoint_max=1)
    assert est.latest_checkpoint() == str(copy / "model.ckpt-4")
    est.train(models.train_input_fn, steps=4)
    assert sorted(os.listdir(original)) == before
    assert est.latest_checkpoint() == str(copy / "model.ckpt-8")


def test_a_state_file_of_this_dir_is_left_as_it_is(tmp_path):
    model_dir = tmp_path / "model"
    models.make_estimator(model_dir).train(models.train_input_fn, steps=2)
    state_file = model_dir / "checkpoint"
    text = state_file.read_text()
    checkpoints.adopt_moved_state(str(model_dir))
    assert state_file.read_text() == text
