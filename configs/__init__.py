"""Experiment configs, one file per paper experiment (see ``configs/README.md``).

Each ``configs/<name>.py`` defines ``get_config(arg=None) -> ml_collections.ConfigDict``. This folder
ships inside snnjax as the package ``snnjax.configs`` (docs/design.md, "Where the configs live"), so
the files import each other as ``from snnjax.configs import common``, and a config runs by name from
anywhere, ``snnjax-train --config <name>[:arg] --workdir runs/<name>``, or by path from a checkout's
root, ``python train.py --config configs/<name>.py[:arg] --workdir runs/<name>``.
Modules whose name ends in ``common`` hold the pieces the configs share; they define no config.
"""
