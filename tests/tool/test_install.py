"""The training tool as installed: configs by name, and a non-editable wheel that trains outside a checkout.

The fast tests check :mod:`snnjax.tool.config_files` (every file of ``configs/`` is a packaged name that
loads with every ``ARGS`` value, one-line errors) and that ``pyproject.toml`` ships every subpackage.
The slow one builds the wheel from a copy of this tree, installs it with ``pip --target`` (no
dependencies: jax & co. come from this environment) and, in a folder outside the checkout, trains
with ``python -m snnjax.train`` and the ``snnjax-train`` script, summarises, reports and exports.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from cpu_env import cpu_env

from snnjax.tool import config_files

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the checkout's configs/ as a package of its own, to compare with
    sys.path.insert(0, str(REPO))

CONFIG_STEMS = sorted(p.stem for p in (REPO / "configs").glob("*.py")
                      if p.stem != "__init__" and not p.stem.endswith("common"))
TINY = ["--config.train.num_steps=2", "--config.train.eval_batch_size=1000"]  # one compile, one eval batch


# --------------------------------------------------------------------------- configs by name


def test_every_config_file_is_a_packaged_name():
    assert config_files.names() == CONFIG_STEMS
    assert {"smoke", "smoke_nir", "ce_lif_seq_mnist", "llc_lif_ablation"} <= set(CONFIG_STEMS)
    assert config_files.configs_dir().resolve() == (REPO / "configs").resolve()  # the editable install's


@pytest.mark.parametrize("stem", CONFIG_STEMS)
def test_every_name_and_arg_resolves_and_loads_the_files_config(stem):
    module = importlib.import_module(f"configs.{stem}")
    for arg in (None, *getattr(module, "ARGS", ())):
        spec = stem if arg is None else f"{stem}:{arg}"
        path = REPO / "configs" / f"{stem}.py"
        assert config_files.resolve(spec) == str(path) + ("" if arg is None else f":{arg}")
        assert config_files.load(spec).to_dict() == module.get_config(arg).to_dict(), spec


def test_a_path_is_passed_on_unchanged_and_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    assert config_files.resolve("configs/ce_lif_seq_mnist.py:88") == "configs/ce_lif_seq_mnist.py:88"
    own = tmp_path / "mine.py"  # a user's config file outside the package, importing the packaged helpers
    own.write_text("from snnjax.configs import smoke\n\ndef get_config(arg=None):\n"
                   "    config = smoke.get_config()\n    config.train.batch_size = int(arg or 8)\n    return config\n")
    assert config_files.resolve(f"{own}:32") == f"{own}:32"
    assert config_files.load(f"{own}:32").train.batch_size == 32
    assert config_files.load(str(own)).train.batch_size == 8


def test_unknown_name_is_one_line_listing_the_names():
    with pytest.raises(config_files.ConfigNotFoundError) as error:
        config_files.resolve("smok:1")
    message = str(error.value)
    assert message.startswith("no packaged config named 'smok'; did you mean --config smoke:1? packaged configs: ")
    assert ", ".join(CONFIG_STEMS) in message and "\n" not in message


def test_missing_file_names_the_packaged_config_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside a checkout: configs/smoke.py is not here
    with pytest.raises(config_files.ConfigNotFoundError, match=(
            rf"^config file configs/smoke.py not found \(looked in {tmp_path}\); "
            r"the packaged config of that name is --config smoke:x$")):
        config_files.resolve("configs/smoke.py:x")
    with pytest.raises(config_files.ConfigNotFoundError, match=r"not found .*e\.g\. --config smoke "):
        config_files.resolve("no_such.py")


def test_resolve_argv_changes_only_the_config_value():
    smoke = str(REPO / "configs" / "smoke.py")
    argv = ["prog", "--config", "smoke:", "--config.train.num_steps=2", "--workdir", "w"]
    assert config_files.resolve_argv(argv) == (
        ["prog", "--config", f"{smoke}:", "--config.train.num_steps=2", "--workdir", "w"], {f"{smoke}:": "smoke:"})
    argv = ["prog", "--workdir=w", "--config=smoke_nir"]
    smoke_nir = REPO / "configs" / "smoke_nir.py"
    assert config_files.resolve_argv(argv)[0] == ["prog", "--workdir=w", f"--config={smoke_nir}"]
    assert config_files.resolve_argv(["prog", f"--config={smoke}"]) == (["prog", f"--config={smoke}"], {})
    assert config_files.resolve_argv(["prog", "--workdir", "w"]) == (["prog", "--workdir", "w"], {})


@pytest.mark.slow
def test_an_uninstalled_checkout_finds_its_configs(tmp_path):
    """With no install (the editable finder removed, the checkout on sys.path) the loader registers configs/."""
    code = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in getattr(f, '__module__', '')]\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('snnjax.configs') is None\n"
        "from snnjax import config_files\n"
        "print(config_files.load('smoke_nir').model.spec, config_files.configs_dir())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cpu_env(1), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["16c3-ap2-32c3-ap2-100-10", str(REPO / "configs")]


def test_pyproject_ships_every_subpackage_and_the_configs():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "snnjax").rglob("__init__.py")
               if "__pycache__" not in p.parts}
    missing = sorted(on_disk - set(setuptools["packages"]))
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml, or the wheel lacks them"
    assert setuptools["package-dir"] == {"snnjax.configs": "configs"}
    folders = {name: REPO / setuptools["package-dir"].get(name, name.replace(".", "/"))
               for name in setuptools["packages"]}
    gone = sorted(name for name, folder in folders.items() if not folder.is_dir())
    assert not gone, f"{gone} in [tool.setuptools] packages have no folder: the build fails"
    assert "snnjax.configs" in folders
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"snnjax-train": "snnjax.tool.train:run"}


# --------------------------------------------------------------------------- the wheel, outside a checkout


def _copy_source(dest: Path) -> Path:
    """This tree without its environment, git data and build outputs (the build writes into its source)."""
    ignore = shutil.ignore_patterns(".venv", ".git", "runs", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                    ".hypothesis", "data_local", ".whl", "dist")
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The folder a non-editable wheel of this tree is installed into (``pip install --no-deps --target``)."""
    root = tmp_path_factory.mktemp("wheel")
    source = _copy_source(root / "src")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (wheel,) = (root / "dist").glob("snnjax-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in files if n.endswith(".dist-info/entry_points.txt"))
    assert {f"snnjax/configs/{stem}.py" for stem in CONFIG_STEMS} <= files
    assert {"snnjax/configs/__init__.py", "snnjax/configs/common.py", "snnjax/configs/README.md",
            "snnjax/tool/train.py", "snnjax/tool/config_files.py", "snnjax/assets/mnist_small.npz"} <= files
    assert not [f for f in files if f.split("/")[0] in ("configs", "train.py", "tests")]  # no generic top level
    assert "snnjax-train = snnjax.tool.train:run" in entry_points
    target = root / "site"
    install = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    return target


def _run(command: list[str], target: Path, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = cpu_env(1, PYTHONPATH=str(target))
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_wheel_trains_summarises_reports_and_exports_outside_a_checkout(installed, tmp_path):
    code = "import snnjax, snnjax.configs; print(snnjax.__file__, snnjax.configs.__file__)"
    where = _run([sys.executable, "-c", code], installed, tmp_path)
    assert where.returncode == 0, where.stderr[-2000:]
    assert all(Path(p).is_relative_to(installed) for p in where.stdout.split()), where.stdout

    done = _run([sys.executable, "-m", "snnjax.train", "--config", "smoke", "--workdir", "runs/s", *TINY],
                installed, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "runs/s/summary.json").read_text())
    assert (summary["steps"], summary["num_params"]) == (2, 161_748)
    assert json.loads((tmp_path / "runs/s/config.json").read_text())["model"]["spec"] == "16c3-p2-32c3-p2-100-10"

    script = installed / "bin" / "snnjax-train"
    assert script.is_file() and os.access(script, os.X_OK)
    done = _run([str(script), "--config=smoke_nir", "--workdir=runs/nir", *TINY], installed, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "runs/nir/summary.json").read_text())["steps"] == 2

    table = _run([sys.executable, "-m", "snnjax.summary", "smoke"], installed, tmp_path, timeout=300)
    assert table.returncode == 0, table.stderr[-2000:]
    assert table.stdout.strip().splitlines()[-1] == "Total parameters: 161,748"

    report = _run([sys.executable, "-m", "snnjax.report", "runs/s"], installed, tmp_path, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    assert (tmp_path / "runs/s/report/index.html").is_file()

    export = _run([sys.executable, "-m", "snnjax.export", "runs/nir", "--format", "nir"], installed, tmp_path,
                  timeout=300)
    assert export.returncode == 0, export.stderr[-2000:]
    assert (tmp_path / "runs/nir/model.nir").is_file()
    assert not (tmp_path / "configs").exists() and not (tmp_path / "train.py").exists()
