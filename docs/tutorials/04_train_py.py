# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. `train.py` and configs: overrides, resume, the run directory, the report
#
# The training tool runs an experiment from a config file: `train.py --config configs/<name>.py`
# in a checkout, or `snnjax-train --config <name>` (the same as `python -m snnjax.train`) once
# snnjax is installed. This tutorial trains the smoke config for a few steps, resumes it, reads
# what the run directory holds, and makes the report. Each command is run here with `subprocess`
# so that the tutorial is a script; in a terminal you type the command that is printed.
# ({doc}`../running` is the full guide.)

# %%
import json
import pathlib
import shlex
import subprocess
import sys

WORKDIR = pathlib.Path("runs/tutorial_04")


def run(*args: str, check: bool = True) -> str:
    """Runs ``python -m <args>`` as a terminal would and prints the command and its last lines."""
    print("$ python -m", shlex.join(args))
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)
    output = (proc.stdout + proc.stderr).replace("\r", "\n")
    lines = [line for line in output.splitlines() if line.strip() and "it/s" not in line and "s/it" not in line]
    print("\n".join(lines[-4:]))
    if check and proc.returncode != 0:
        raise RuntimeError(f"exit status {proc.returncode}")
    return output


# %% [markdown]
# ## A config is Python code
#
# Each experiment is a file with `get_config(arg=None)` that returns an `ml_collections.ConfigDict`
# (big_vision's style). It starts from `snnjax.tool.config.base_config()`, which holds every key with
# its default, in five sections: `data`, `model`, `optim`, `train`, `loss`.

# %%
from snnjax.configs import smoke

config = smoke.get_config()
print("model:", config.model.spec, "| T =", config.model.time_steps, "| neuron:", config.model.neuron.kind,
      "| loss:", config.loss.name, "| optimiser:", config.optim.name, config.optim.learning_rate)
print("train:", {k: config.train[k] for k in ("batch_size", "num_epochs", "checkpoint_every_steps", "log_every_steps")})

# %% [markdown]
# ## Overrides on the command line
#
# Any key can be set with `--config.<section>.<key>=<value>`; a misspelt key or a bad value stops
# the run before anything is compiled. Here a shorter run with a smaller net (40 steps is the least
# that evaluates well: BatchNorm's running statistics need them, see the smoke config's docstring):

# %%
OVERRIDES = ["--config.model.spec=8c3-p2-16c3-p2-100-10", "--config.train.checkpoint_every_steps=20",
             "--config.train.eval_batch_size=250"]
run("snnjax.train", "--config", "smoke", "--workdir", str(WORKDIR), "--config.train.num_steps=40", *OVERRIDES)

# %% [markdown]
# A typo is one line saying what to do, not a traceback:

# %%
out = run("snnjax.train", "--config", "smoke", "--workdir", "runs/typo", "--config.train.num_step=40", check=False)

# %% [markdown]
# ## The run directory
#
# Everything a run leaves is in its `--workdir`:
#
# - `config.json`: the config it ran with; `config_history.jsonl`: which steps ran under which config;
# - `checkpoints/<step>/`: orbax checkpoints, the latest `train.max_checkpoints` and the best one;
# - `metrics.jsonl`: one JSON line per logging step and per evaluation; `tb/`: the same for TensorBoard
#   (`tensorboard --logdir runs/tutorial_04/tb`);
# - `summary.json`: final and best test accuracy, parameters, wall time, samples/s, per-layer firing
#   rates and the energy estimate; written last, so its presence means the run finished.

# %%
print(sorted(p.name for p in WORKDIR.iterdir()))
print("checkpoints:", sorted(p.name for p in (WORKDIR / "checkpoints").iterdir()))
summary = json.loads((WORKDIR / "summary.json").read_text())
print("test accuracy", summary["final_test_accuracy"], "| parameters", summary["num_params"], "| steps", summary["steps"])
print("firing rates", {k: round(v, 3) for k, v in summary["firing_rates"].items()})
first_log = json.loads((WORKDIR / "metrics.jsonl").read_text().splitlines()[0])
print("metrics.jsonl, first line:", {k: round(v, 4) if isinstance(v, float) else v for k, v in first_log.items()})

# %% [markdown]
# ## Resume
#
# The same command on the same `--workdir` resumes from the latest checkpoint, with the same data
# order and random numbers as an uninterrupted run. Raising the length trains on; run lengths and
# cadences are the only keys that may change freely:

# %%
run("snnjax.train", "--config", "smoke", "--workdir", str(WORKDIR), "--config.train.num_steps=50", *OVERRIDES)
history = [json.loads(line) for line in (WORKDIR / "config_history.jsonl").read_text().splitlines()]
print("config history:", [(h["from_step"], h["changes"]) for h in history])

# %% [markdown]
# A finished run says so and does nothing:

# %%
out = run("snnjax.train", "--config", "smoke", "--workdir", str(WORKDIR), "--config.train.num_steps=50", *OVERRIDES)
assert "nothing to do" in out

# %% [markdown]
# Any other change is refused, naming what changed, unless you pass `--allow_config_change`:

# %%
out = run("snnjax.train", "--config", "smoke", "--workdir", str(WORKDIR), "--config.train.num_steps=50",
          "--config.optim.learning_rate=1e-3", *OVERRIDES, check=False)
assert "learning_rate" in out

# %% [markdown]
# ## The report
#
# `python -m snnjax.report <workdir>` draws the curves, the firing rates and a spike raster into
# `<workdir>/report/` and writes an `index.html` that shows them:

# %%
run("snnjax.report", str(WORKDIR))
print(sorted(p.name for p in (WORKDIR / "report").iterdir()))

# %% [markdown]
# ## The same from Python
#
# `train.py` is a thin command over one library function, `snnjax.tool.train_lib.train_and_evaluate(config,
# workdir)`, which returns the summary. A test or a notebook can call it on a shrunken config:
#
# ```python
# from snnjax.configs import smoke
# from snnjax.tool import train_lib
#
# config = smoke.get_config()
# with config.unlocked():
#     config.train.num_steps = 40
# summary = train_lib.train_and_evaluate(config, "runs/from_python")
# ```
#
# The paper experiments are configs too (`configs/README.md`, {doc}`../papers`): for example
# `python train.py --config configs/ce_lif_seq_mnist.py:88 --workdir runs/ce_lif_88 --config.data.data_dir=/path/to/mnist`.
