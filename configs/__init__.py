"""Experiment configs, one file per paper experiment (see ``configs/README.md``).

Each ``configs/<name>.py`` defines ``get_config(arg=None) -> ml_collections.ConfigDict`` and is run as
``python train.py --config configs/<name>.py[:arg] --workdir runs/<name>`` from the repository root.
Modules whose name ends in ``common`` hold the pieces the configs share; they define no config.
"""
