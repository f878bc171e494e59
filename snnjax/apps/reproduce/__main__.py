"""``python -m snnjax.reproduce <plan>``: run a paper's experiments, then write their results.

    # run (or resume) every experiment of the CE-LIF plan, then write the table and figures
    python -m snnjax.reproduce ce_lif --data_dir DATA_DIR --runs_dir ~/snnjax-runs --out docs/results
    # only refresh the table and figures from what the runs have written so far
    python -m snnjax.reproduce ce_lif --runs_dir ~/snnjax-runs --out docs/results --report_only
    # print the training commands and stop
    python -m snnjax.reproduce ce_lif --data_dir DATA_DIR --runs_dir ~/snnjax-runs --dry_run

``DATA_DIR`` is the folder holding the IDX datasets the plan reads (``mnist/`` and
``fashion_mnist/``, each with the four original ``*-ubyte.gz`` files). Each run is
``python -m snnjax.train --config <name>`` with the packaged configs, so the command works from any
folder, in a checkout or with snnjax installed. Keep ``--runs_dir`` outside a work tree while runs
go on; only the small artifacts are copied under ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from snnjax.apps import plotting
from snnjax.apps.reproduce import claims, figures, plans, table
from snnjax.apps.reproduce.results import RETRAINS, RunResult, read_result, repeated_evaluations
from snnjax.tool.run_directory import RunDirectory

# The small files of a run copied under --out: config, summary, metrics and provenance.
ARTIFACTS = RunDirectory.ARTIFACTS


def describe_machine() -> str:
    """``"x86_64, 2 CPU cores (<model>), jax cpu"``: where a run's numbers were measured."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import jax

    device = jax.devices()[0]
    accel = "no accelerator" if device.platform == "cpu" else f"{jax.device_count()} × {device.device_kind}"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores{f' ({model})' if model else ''}, {accel}"


def git_commit() -> str:
    """What code trains: the commit of the checkout snnjax is imported from (``HEAD``'s hash, with
    ``+dirty`` when tracked files differ from it), or, for an installed wheel outside any checkout,
    ``snnjax <version>``."""
    import snnjax

    where = Path(snnjax.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=where).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True, cwd=where).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"snnjax {snnjax.__version__}"
    return head + ("+dirty" if dirty else "")


LENGTH_KEYS = ("train.num_epochs", "train.num_steps")


def is_finished(experiment: plans.Experiment, workdir: Path) -> bool:
    """Whether ``workdir`` holds a finished run of ``experiment``: a ``summary.json`` (written when
    ``train.py`` ends) whose config has the length the plan asks for. A plan that was lengthened
    afterwards (more epochs or steps) is not finished: its run resumes from its last checkpoint."""
    summary = RunDirectory(workdir).read_summary()
    if summary is None:
        return False
    config = summary.get("config", {})
    for key in LENGTH_KEYS:
        if key in experiment.overrides:
            section, name = key.split(".")
            if config.get(section, {}).get(name) != experiment.overrides[key]:
                return False
    return True


# What a continuation does not copy: the finished run's summary (the continued run writes its own
# when it ends) and its lock.
NOT_CONTINUED = (RunDirectory.SUMMARY, RunDirectory.LOCK)


def is_finished_elsewhere(name: str, runs_dir: Path, out: Path) -> bool:
    """Whether run ``name`` has no run directory under ``runs_dir`` but a finished result under ``out``."""
    return not (runs_dir / name).exists() and RunDirectory(out / name).has_summary()


def start_continuation(experiment: plans.Experiment, runs_dir: Path) -> bool:
    """Copies the run that ``experiment`` continues into ``runs_dir/<experiment.name>`` (all but
    :data:`NOT_CONTINUED`), so that ``train.py`` resumes it from its last checkpoint to the longer
    length. Returns False, copying nothing, while that run is not finished (its ``summary.json``).
    A run directory that exists already is left as it is (the continuation has started)."""
    workdir, source = runs_dir / experiment.name, runs_dir / experiment.continues
    if workdir.exists():
        return True
    if not RunDirectory(source).has_summary():
        return False
    shutil.copytree(source, workdir, ignore=lambda _, names: [n for n in names if n in NOT_CONTINUED])
    return True


def run_experiment(experiment: plans.Experiment, runs_dir: Path, data_dir: str | None, nice: int,
                   out: Path | None = None) -> int:
    """Runs (or resumes) one experiment with ``python -m snnjax.train``; output goes to ``runs_dir/<name>.log``.

    A finished run (:func:`is_finished`) is left alone: running a plan again after a session ended
    neither re-evaluates its finished runs nor adds a sitting to their ``provenance.jsonl``. So is a
    run whose directory is gone but whose finished result is checked in under ``out/<name>`` (a
    machine that was not kept): delete that folder to train it again.

    A continuation waits for its base run to finish, then starts from a copy of it. When the base's
    run directory is gone but its result is checked in under ``out``, the continuation trains from
    step 0 in its own directory instead (the base's config at a longer length retraces the base),
    and its ``provenance.jsonl`` records ``{"retrains": <base>}`` so that the report compares the
    two over the base's evaluations."""
    workdir = runs_dir / experiment.name
    if is_finished(experiment, workdir):
        print(f"[reproduce] {experiment.name}: finished ({RunDirectory(workdir).summary_path}), skipped", file=sys.stderr,
              flush=True)
        return 0
    if out is not None and is_finished_elsewhere(experiment.name, runs_dir, out) and is_finished(
            experiment, out / experiment.name):
        print(f"[reproduce] {experiment.name}: finished (its result is checked in at {out / experiment.name}; its "
              "run directory is gone), skipped: delete that folder to train it again", file=sys.stderr, flush=True)
        return 0
    retrains = None
    if experiment.continues and not start_continuation(experiment, runs_dir):
        base = experiment.continues
        if out is None or not is_finished_elsewhere(base, runs_dir, out):
            print(f"[reproduce] {experiment.name}: waits for {base} to finish (it continues that run), "
                  "skipped", file=sys.stderr, flush=True)
            return 0
        retrains = base
        print(f"[reproduce] {experiment.name}: {base}'s run directory, with its checkpoints, is gone (its result "
              f"is checked in at {out / base}); trains from step 0 instead, which repeats {base} to its length "
              "(same config, batches and random numbers) and goes on; the report compares the two",
              file=sys.stderr, flush=True)
    cmd = plans.command(experiment, runs_dir, data_dir)
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    workdir.mkdir(parents=True, exist_ok=True)
    record = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "commit": git_commit(), "machine": describe_machine(), "command": shlex.join(cmd)}
    if retrains is not None:
        record[RETRAINS] = retrains
    RunDirectory(workdir).append_provenance(record)
    print(f"[reproduce] {experiment.name}: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    with open(runs_dir / f"{experiment.name}.log", "a") as log:
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode


def read_row(experiment: plans.Experiment, runs_dir: Path, out: Path):
    """``(result, folder)``: the run read from ``runs_dir``, or, when its directory is gone but its
    finished result is checked in under ``out`` (a machine that was not kept), from ``out``."""
    result = read_result(experiment, runs_dir)
    if result.status == "missing" and is_finished_elsewhere(experiment.name, runs_dir, out):
        return read_result(experiment, out), out
    return result, runs_dir


def write_report(plan_name: str, arms, runs_dir: Path, out: Path, results_md: Path) -> list[Path]:
    """Copies each run's artifacts to ``out/<name>/``, draws the figures, and writes the table.

    ``arms`` are the plan's experiments; an arm with seeds is read as its runs (:func:`plans.runs_of`),
    and the section then starts with the arms' table (mean ± std over the seeds, each seed) and,
    for a plan with claims (:data:`plans.CLAIMS`), the claims' table, whose records are written to
    ``out/claims.json`` under the plan's paper.

    A run whose directory is missing from ``runs_dir`` but whose finished result is checked in
    under ``out/<name>/`` (the machine holding the runs was not kept) is read from there, so a
    report never loses a finished row.

    Only finished runs enter the report: their artifacts are copied and they make its rows and
    figures; a run still going is said on stderr and left out (its row reads ``missing``) until it
    finishes. So the report is a function of the checked-in artifacts alone, whatever is running,
    and ``tests/apps/test_results_docs.py`` can regenerate it from them."""
    experiments = plans.runs_of(arms)
    rows, sources = [], {}
    for e in experiments:
        result, sources[e.name] = read_row(e, runs_dir, out)
        if result.status not in ("finished", "missing"):
            print(f"[reproduce] {e.name}: {result.status} (last evaluated step {result.step}); left out of the "
                  "report until it finishes", file=sys.stderr, flush=True)
            result = RunResult(status="missing")
        rows.append((e, result))
    written = []
    for experiment, result in rows:
        if result.status == "missing" or sources[experiment.name] == out:
            continue
        dest = out / experiment.name
        dest.mkdir(parents=True, exist_ok=True)
        for name in ARTIFACTS:
            if (runs_dir / experiment.name / name).exists():
                written.append(Path(shutil.copy2(runs_dir / experiment.name / name, dest / name)))
    written += figures.plot_figures(rows, out)
    if rows[0][1].status == "finished":
        written += headline_plots(experiments[0], sources[experiments[0].name], out)
    if plan_name in plans.GRADIENT_FLOW:
        written += gradient_flow_plot(plans.GRADIENT_FLOW[plan_name], rows, runs_dir, out)
    body = table.markdown_table(rows)
    if any(a.seeds for a in arms):
        body = table.arm_table(arms, rows) + "\n\nEach run:\n\n" + body
    if plan_name in plans.CLAIMS:
        body = claims_section(plan_name, arms, runs_dir, out, results_md) + "\n\n" + body
        written.append(out / CLAIMS_JSON)
    for e, r in rows:
        base = _retrained_base(e, r, runs_dir, out)
        if base is not None:
            body += "\n\n" + retrain_note(e.name, r, r.retrains, base)
    machines = sorted({r.machine for _, r in rows if r.machine})
    body = ("Generated by `python -m snnjax.reproduce " + plan_name + "` from the run directories; "
            + (f"machine: {'; '.join(machines)}." if machines else "no run recorded its machine.")
            + "\n\n" + body)
    figs = [p for p in written if p.suffix == ".png"]
    if figs:
        rel = lambda p: os.path.relpath(p, results_md.parent)
        body += "\n\n" + "\n".join(f"![{p.stem}]({rel(p)})" for p in figs)
    table.update_markdown(results_md, plan_name, body)
    return written + [results_md]


CLAIMS_JSON = "claims.json"


def claims_section(plan_name: str, arms, runs_dir: Path, out: Path, results_md: Path) -> str:
    """Evaluates the plan's claims over its arms' finished seeds (each run's ``summary.json``, from
    ``runs_dir`` or else its checked-in copy under ``out``), writes them to ``out/claims.json`` under
    the plan's paper, and returns their markdown table."""
    paper, plan_claims = plans.CLAIMS[plan_name]
    arm_runs = {a.name: [r.name for r in plans.runs_of([a])] for a in arms}
    summaries = claims.read_summaries([n for names in arm_runs.values() for n in names], [runs_dir, out])
    root = os.path.relpath(out, results_md.parent).replace(os.sep, "/") + "/"
    records = [claims.evaluate_claim(c, arm_runs, summaries, root) for c in plan_claims]
    claims.update_claims_json(out / CLAIMS_JSON, paper, records)
    return claims.markdown(records)


def _retrained_base(experiment: plans.Experiment, result, runs_dir: Path, out: Path):
    """The finished base run that ``result`` retrained from step 0 (read from ``runs_dir``, else from
    its checked-in artifacts under ``out``; it is usually another plan's row), or None."""
    if not result.retrains:
        return None
    base = dataclasses.replace(experiment, name=result.retrains)  # the base's config, metric and overrides
    found, _ = read_row(base, runs_dir, out)
    return found if found.status == "finished" else None


def retrain_note(name: str, run, base_name: str, base) -> str:
    """A sentence saying how far run ``name``, retrained from step 0, repeats its base's evaluations."""
    shared, total, diffs = repeated_evaluations(run, base)
    head = f"`{name}` trains from step 0 (the run directory of `{base_name}`, which it continues, is gone): "
    if not shared:
        return head + f"none of `{base_name}`'s {total} evaluations is repeated yet."
    at = f"at {shared} of `{base_name}`'s {total} evaluation steps "
    differing = {k: d for k, d in sorted(diffs.items()) if d != 0}
    if not differing:
        return head + at + "its evaluated figures are equal to the checked-in ones."
    within = ", ".join(f"`{k}` within {d:.2g}" for k, d in differing.items())
    equal = len(diffs) - len(differing)
    rest = ", every other evaluated figure equal" if equal else ""
    return head + at + f"its evaluated figures differ from the checked-in ones (largest absolute difference): " \
        f"{within}{rest}."


def headline_plots(experiment: plans.Experiment, runs_dir: Path, out: Path) -> list[Path]:
    """The headline run's per-layer firing rates and, for CE-LIF, the TE cosine-similarity map.

    The map needs the run's checkpoint; without one (a run read back from its checked-in
    artifacts) a map drawn earlier under ``out/<name>/`` is kept as it is."""
    from snnjax.apps import report

    workdir = runs_dir / experiment.name
    run_dir = RunDirectory(workdir)
    if not run_dir.has_metrics():
        return []
    dest = out / experiment.name
    dest.mkdir(parents=True, exist_ok=True)
    rows = run_dir.read_metrics()
    summary = run_dir.read_summary()
    plots = [report.plot_firing_rates(rows, summary, dest)]
    kept = []
    if run_dir.latest_checkpoint_step() is not None:
        from snnjax.tool.run_dir import load_run

        plots.append(report.plot_te_similarity(load_run(workdir, with_data=False).variables["params"], dest))
    else:
        kept = [dest / name for name in (report.TE_SIMILARITY_PNG, Path(report.TE_SIMILARITY_PNG).with_suffix(".svg").name)
                if (dest / name).exists()]
    return [path for plot in plots if plot is not None for path in (plot.png, plot.svg)] + kept


def gradient_flow_plot(name: str, rows, runs_dir: Path, out: Path) -> list[Path]:
    """The plan's gradient-flow figure (:mod:`snnjax.apps.gradient_flow`) as ``out/<name>.png/.svg`` and
    its data as ``out/<name>.json``, drawn when every run has finished with a checkpoint under
    ``runs_dir``; otherwise the files drawn earlier (a report from checked-in artifacts) are kept."""
    from snnjax.apps import gradient_flow

    png = out / f"{name}.png"
    ready = [e for e, r in rows if r.status == "finished"
             and RunDirectory(runs_dir / e.name).latest_checkpoint_step() is not None]
    if len(ready) < len(rows):
        return [p for p in (png, png.with_suffix(".svg"), png.with_suffix(".json")) if p.exists()]
    records = [gradient_flow.run_gradient_map(runs_dir / e.name) for e in ready]
    return gradient_flow.write_figure(records, png, labels=[e.label for e in ready])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnjax.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("plan", help=f"one of: {', '.join(plans.PLANS)}")
    parser.add_argument("--data_dir", metavar="DATA_DIR",
                        help="folder of the IDX datasets: its mnist/ and fashion_mnist/ hold the original *-ubyte.gz files")
    parser.add_argument("--runs_dir", default="runs/reproduce", help="where the run directories live")
    parser.add_argument("--out", default="docs/results", help="where artifacts and figures are written")
    parser.add_argument("--results_md", default=None, help="the markdown file holding the table "
                        "(default: <out>/../results.md)")
    parser.add_argument("--only", default="", help="comma-separated experiment names (default: all)")
    parser.add_argument("--report_only", action="store_true", help="do not train; only write the report")
    parser.add_argument("--dry_run", action="store_true", help="print the training commands and stop")
    parser.add_argument("--nice", type=int, default=0, help="run the training under nice -n NICE")
    args = parser.parse_args(argv)
    try:
        arms = plans.select(plans.get_plan(args.plan), [n for n in args.only.split(",") if n])
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    experiments = plans.runs_of(arms)
    runs_dir, out = Path(args.runs_dir).expanduser(), Path(args.out)
    results_md = Path(args.results_md) if args.results_md else out.parent / "results.md"
    if args.dry_run:
        for e in experiments:
            if e.continues:
                print(f"# first copies {runs_dir / e.continues} (once finished) to {runs_dir / e.name}")
            print(shlex.join(plans.command(e, runs_dir, args.data_dir)))
        return 0
    try:  # before any training: a plan's report ends in figures
        plotting.require_matplotlib()
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = []
    if not args.report_only:
        for e in experiments:
            rc = run_experiment(e, runs_dir, args.data_dir, args.nice, out)
            if rc != 0:
                failed.append(e.name)
                print(f"[reproduce] {e.name} failed (exit {rc}); see {runs_dir / (e.name + '.log')}", file=sys.stderr)
    for path in write_report(args.plan, arms, runs_dir, out, results_md):
        print(path)
    if failed:
        print(f"error: {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
