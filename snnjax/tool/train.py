"""Trains an snnjax experiment: the ``snnjax-train`` command (also ``python -m snnjax.train``).

    snnjax-train --config smoke --workdir runs/smoke
    snnjax-train --config ce_lif_seq_mnist:152 --workdir runs/ce_lif_152 --config.optim.learning_rate=3e-4
    snnjax-train --config path/to/my_config.py:arg --workdir runs/mine

``--config`` takes the name of a config shipped with snnjax, with its ``:arg`` (an unknown name
lists them; each file's docstring in ``snnjax/configs/`` says what it runs), or the path of a config
file of your own (``get_config(arg=None)`` returning an ``ml_collections.ConfigDict``; it may start
from ``snnjax.tool.config.base_config()`` and ``from snnjax.configs import common``). Keys are changed
with ``--config.<section>.<key>=<value>``; a misspelt key is an error before anything compiles.

Rerunning a command with the same ``--workdir`` resumes the run from its latest checkpoint (a changed
config is refused unless ``--allow_config_change``). On a cluster (SLURM, Open MPI, or
``JAX_COORDINATOR_ADDRESS``/``JAX_NUM_PROCESSES``/``JAX_PROCESS_ID`` set) every process runs this
same command and ``jax.distributed`` is initialised first. The loop itself is
:func:`snnjax.tool.train_lib.train_and_evaluate`; a checkout's ``python train.py`` runs :func:`run`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", None,
    "Experiment config: a packaged config's name[:arg] (e.g. smoke, ce_lif_seq_mnist:152; an unknown name "
    "lists them) or a config file's path[:arg].", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and the summary.")
_ALLOW_CONFIG_CHANGE = flags.DEFINE_bool(
    "allow_config_change", False, "Resume a workdir even if its saved config differs in more than length/cadence keys.")
flags.mark_flags_as_required(["config", "workdir"])


def _multi_process() -> bool:
    """Whether the environment launched several cooperating processes."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        return True
    counts = ("JAX_NUM_PROCESSES", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")
    return any(int(os.environ.get(v, "1") or 1) > 1 for v in counts)


def _init_distributed() -> None:
    """``jax.distributed.initialize`` with the process count and id the environment gives."""
    import jax

    kwargs = {}
    if os.environ.get("JAX_NUM_PROCESSES"):
        kwargs["num_processes"] = int(os.environ["JAX_NUM_PROCESSES"])
    if os.environ.get("JAX_PROCESS_ID"):
        kwargs["process_id"] = int(os.environ["JAX_PROCESS_ID"])
    jax.distributed.initialize(**kwargs)  # reads JAX_COORDINATOR_ADDRESS, or detects SLURM / Open MPI


INTERRUPTED_BEFORE_TRAINING = ("interrupted (SIGINT) before training started (while checking the config, loading the "
                               "data or reading the run directory): nothing was trained or saved; rerun the same command")


def main(argv: Sequence[str]) -> None:
    """``absl.app`` main: trains ``--config`` in ``--workdir``; a known error exits with one line."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {list(argv[1:])}")
    if not flags.FLAGS["verbosity"].present:  # orbax logs every save at INFO
        logging.set_verbosity(logging.WARNING)
    from snnjax.tool import cli_errors
    from snnjax.tool import host_malloc

    try:  # SNNJAX_HOST_MALLOC=retain: reuse freed host memory (snnjax/tool/host_malloc.py), before JAX starts
        host_malloc.retain_freed_memory()
    except ValueError as error:
        sys.exit(f"error: {error}")

    workdir_problem = cli_errors.check_workdir(_WORKDIR.value)
    if workdir_problem:
        sys.exit(workdir_problem)
    if _multi_process():
        _init_distributed()
    from snnjax.tool import checkpointing
    from snnjax.tool import train_lib
    from snnjax.tool import validate
    from snnjax.io.data import DataNotFoundError
    from snnjax.io.data.idx import IDXError

    known = (validate.ConfigError, train_lib.NonFiniteLossError, DataNotFoundError, IDXError,
             checkpointing.CheckpointError)
    with cli_errors.OrbaxErrorLog() as orbax_errors:
        try:
            train_lib.train_and_evaluate(_CONFIG.value, _WORKDIR.value, allow_config_change=_ALLOW_CONFIG_CHANGE.value)
        except Exception as error:  # noqa: BLE001 - explained in one line, or re-raised with its traceback
            line = cli_errors.explain(error, _WORKDIR.value, known)
            if line is None:
                orbax_errors.release()
                raise
            orbax_errors.discard()
            _exit_with_one_line(line)
        except KeyboardInterrupt:  # Ctrl-C before the training loop (in it, preemption.StopRequest has it)
            orbax_errors.discard()
            _exit_with_one_line(INTERRUPTED_BEFORE_TRAINING)
    orbax_errors.release()


def _exit_with_one_line(line: str) -> None:
    """Prints ``line`` and exits with status 1, and nothing after it: a failed orbax save (a full disk)
    leaves background threads that, at interpreter shutdown, print ``RuntimeError: Event loop is
    closed`` tracebacks about that same failure, which the line has already explained. So stderr is
    pointed at ``os.devnull`` once the line is out (only on this path, in the command line's process)."""
    print(line, file=sys.stderr, flush=True)
    sys.stdout.flush()
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - held open until the process exits
    os.dup2(sys.stderr.fileno(), 2)
    sys.exit(1)


def run(argv: Sequence[str] | None = None) -> None:
    """The command line entry point (``snnjax-train``, ``python -m snnjax.train``, ``python train.py``).

    Args:
        argv: the command line, program name first; ``None`` reads ``sys.argv``.
    """
    from snnjax.tool import config_files

    # absl's --help prints the main module's docstring and key flags: make them this module's
    for name in ("config", "workdir", "allow_config_change"):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])
    main_module = sys.modules.get("__main__")
    if main_module is not None and not main_module.__doc__:  # the snnjax-train script has none
        main_module.__doc__ = __doc__
    app.run(main, argv=None if argv is None else list(argv), flags_parser=config_files.parse_flags)


if __name__ == "__main__":
    run()
