"""Every experiment config refuses an argument it does not know (``configs/<name>.py:foo``)."""

import importlib
from pathlib import Path

import pytest

CONFIG_FILES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.py")
                      if "def get_config" in p.read_text())


def test_every_config_file_is_listed():
    assert len(CONFIG_FILES) == 30 and {"smoke", "smoke_nir", "shd"} <= set(CONFIG_FILES)


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_refuses_an_unknown_argument(name):
    module = importlib.import_module(f"configs.{name}")
    with pytest.raises(ValueError, match=r"configs/\w+\.py.*'zz_not_an_argument'"):
        module.get_config("zz_not_an_argument")


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_without_argument_or_with_an_empty_one_is_its_default(name):
    module = importlib.import_module(f"configs.{name}")
    assert module.get_config(None).to_dict() == module.get_config("").to_dict()
