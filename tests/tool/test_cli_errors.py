"""The one-line explanations train.py prints (the end-to-end cases are in test_train_cli_errors.py)."""

import errno
import logging

from snnjax.tool import cli_errors


def test_disk_full_is_found_through_the_chain_and_in_tensorstore_text(tmp_path):
    (tmp_path / "checkpoints" / "6").mkdir(parents=True)
    (tmp_path / "checkpoints" / "8.orbax-checkpoint-tmp").mkdir()
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "metrics.jsonl"))
        except OSError as inner:
            raise RuntimeError("save failed") from inner
    except RuntimeError as error:
        wrapped = error
    line = cli_errors.explain(wrapped, tmp_path)
    assert line == (f"error: no space left on the device of {tmp_path} (while writing {tmp_path / 'metrics.jsonl'}); "
                    f"the last complete checkpoint, {tmp_path / 'checkpoints' / '6'}, is kept: free some space and "
                    "rerun the same command to resume from it")
    tensorstore = ValueError("RESOURCE_EXHAUSTED: Error writing local file: No space left on device [source...]")
    assert cli_errors.is_disk_full(tensorstore)
    assert not cli_errors.is_disk_full(ValueError("shape mismatch"))


def test_permission_error_names_the_file(tmp_path):
    error = PermissionError(errno.EACCES, "Permission denied", "/data/runs/x/config.json")
    assert cli_errors.explain(error, "/data/runs/x") == (
        "error: no permission to write /data/runs/x/config.json: choose a --workdir you can write to")


def test_unknown_errors_are_not_explained(tmp_path):
    assert cli_errors.explain(KeyError("params"), tmp_path) is None
    assert cli_errors.explain(KeyError("params"), tmp_path, known=(KeyError,)) == "error (KeyError): 'params'"


def test_orbax_error_log_is_held_and_released_in_order():
    logger = logging.getLogger("absl")
    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Collect()
    logger.addHandler(handler)
    try:
        def record(msg, path):
            return logger.makeRecord("absl", logging.ERROR, path, 1, msg, (), None)

        with cli_errors.OrbaxErrorLog() as held:
            logger.handle(record("orbax says a", "/site-packages/orbax/checkpoint/x.py"))
            logger.handle(record("other", "/site-packages/snnjax/y.py"))
            logger.handle(record("orbax says b", "/site-packages/orbax/checkpoint/x.py"))
        assert seen == ["other"]
        held.release()
        assert seen == ["other", "orbax says a", "orbax says b"]
    finally:
        logger.removeHandler(handler)
