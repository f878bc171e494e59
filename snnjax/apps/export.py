"""Exporting a trained run: ``python -m snnjax.export <workdir> --format nir [--out model.nir] [--dt 1e-4]``.

Loads the run's config and latest checkpoint, folds every (LLC-)BN into its convolution (llc-lif
paper §3.3: the deployed network is purely spiking), and writes the network as a NIR graph
(:func:`snnjax.nir.export_nir`) at the Euler step ``--dt`` (default 1e-4 s, stored in the graph's
metadata). At that default SpikingJelly 2.0 and snnTorch 1.0 read the file with their own defaults
and give the same spikes as snnjax; Norse 1.1's importer defaults to dt = 1e-3, so pass it
``dt=1e-4``. docs/nir.md lists, per peer, what loads and the peer bugs a user will hit (snnTorch's
importer refuses IF nodes). What the export does not write (max pooling, ALIF/CE-LIF neurons, soft
reset, OSSA, ...) is named in the error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("nir",)


def export_run(
    workdir: str | Path,
    fmt: str = "nir",
    out: str | Path | None = None,
    step: int | None = None,
    dt: float | None = None,
) -> Path:
    """Writes the run's network in ``fmt`` and returns the file's path (default ``workdir/model.nir``).

    ``dt`` is the NIR Euler step in seconds per time step (default 1e-4, :data:`snnjax.nir.DEFAULT_DT`).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {FORMATS}")
    import nir

    from snnjax.io.nir import export_nir
    from snnjax.tool.run_dir import load_run

    from snnjax.apps.summary import dataset_shape

    run = load_run(workdir, step=step, with_data=False)
    input_shape, _, _ = dataset_shape(run.config.data)  # known shapes when the data is not here
    graph = export_nir(run.config.model, run.variables, input_shape, dt=dt)
    path = Path(out) if out else Path(workdir) / "model.nir"
    nir.write(str(path), graph)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", help="a run directory written by snnjax-train (or train.py in a checkout)")
    parser.add_argument("--format", default="nir", choices=FORMATS)
    parser.add_argument("--out", help="output file (default: <workdir>/model.nir)")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument(
        "--dt", type=float, default=None,
        help="NIR time step in seconds per time step (default 1e-4, what SpikingJelly and snnTorch assume; "
        "Norse's importer assumes 1e-3)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        path = export_run(args.workdir, args.format, args.out, args.step, args.dt)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"error: {error}; install NIR support with: pip install 'snnjax[nir]'", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
