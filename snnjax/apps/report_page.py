"""The run report's HTML page: rounded numbers, the summary and the config as tables, captioned figures.

Measured numbers are rounded to :data:`DIGITS` significant digits (:func:`format_number`), energies
get an SI prefix (:func:`format_si`); config values are shown exactly as the run was configured.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snnjax.tool.run_directory import RunDirectory

DIGITS = 4

_SI_PREFIXES = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}


@dataclasses.dataclass(frozen=True)
class Plot:
    """One figure of the report: its PNG, the vector SVG beside it, and a caption (sentences)."""

    png: Path
    svg: Path
    caption: str


def format_number(value: Any, digits: int = DIGITS) -> str:
    """``value`` for reading: ints with thousands separators, floats to ``digits`` significant digits
    (``0.007086500406265259`` -> ``0.007087``, ``418386.4`` -> ``418,400``, ``2.1e-06`` stays in
    exponent form; a float that holds a whole number, as counts of operations do, in full),
    anything else as ``str``."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value) or value == 0:
        return str(value) if value else "0"
    if value.is_integer() and abs(value) < 1e15:  # a count held as a float (MACs): exact
        return f"{int(value):,}"
    exponent = math.floor(math.log10(abs(value)))
    if not -4 <= exponent < 9:
        mantissa, power = f"{value:.{digits - 1}e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{power}"
    decimals = digits - 1 - exponent
    text = f"{round(value, decimals):,.{max(decimals, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_si(value: float | None, unit: str, digits: int = DIGITS) -> str:
    """``value`` in ``unit`` with an SI prefix that leaves 1 to 999 before the point
    (``2.119e-06, "J"`` -> ``2.119 µJ``), to ``digits`` significant digits."""
    if value is None or not math.isfinite(value) or value == 0:
        return f"{format_number(value, digits)} {unit}"
    power = min(max(3 * math.floor(math.log10(abs(value)) / 3), -15), 9)
    return f"{format_number(value / 10.0 ** power, digits)} {_SI_PREFIXES[power]}{unit}"


def format_percent(fraction: float | None, digits: int = DIGITS) -> str:
    """A fraction as a percentage (``0.916`` -> ``91.6 %``)."""
    return "–" if fraction is None else f"{format_number(100 * fraction, digits)} %"


def format_setting(value: Any) -> str:
    """A config value exactly as configured: strings bare, everything else as Python writes it."""
    return value if isinstance(value, str) else repr(value)


def flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (the dotted names of ``--config.a.b=1``)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None, numeric_from: int = 1,
          table_id: str | None = None) -> str:
    """An HTML table of already formatted cells (escaped here); columns from ``numeric_from`` on are right-aligned."""
    def cells(row, tag):
        return "".join(f'<{tag}{" class=num" if i >= numeric_from else ""}>{html.escape(str(c))}</{tag}>'
                       for i, c in enumerate(row))

    head = f"<thead><tr>{cells(header, 'th')}</tr></thead>" if header else ""
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}>{head}<tbody>{body}</tbody></table>"


# ---------------------------------------------------------------------------- the summary

_RESULT_LABELS = {  # summary key -> what it is; accuracies are shown in percent
    "final_test_accuracy": "test accuracy, final", "best_test_accuracy": "test accuracy, best evaluation",
    "final_test_mse": "test MSE, final", "best_test_mse": "test MSE, best evaluation",
    "final_validation_accuracy": "validation accuracy, final",
    "best_validation_accuracy": "validation accuracy, best evaluation",
    "test_accuracy_at_best_validation": "test accuracy at the best validation accuracy",
    "final_validation_mse": "validation MSE, final", "best_validation_mse": "validation MSE, best evaluation",
    "test_mse_at_best_validation": "test MSE at the best validation MSE",
    "final_test_loss": "test loss, final",
    "num_params": "parameters", "steps": "training steps", "epochs": "epochs",
    "wall_time_s": "wall time", "samples_per_s": "training throughput (examples / s, compilation excluded)",
    "jax_version": "JAX version", "flax_version": "Flax version",
}
_NESTED = ("energy", "firing_rates", "config")  # shown in their own tables
_GROUP_LABELS = {"test_metrics": "test set, final", "validation_metrics": "validation set, final",
                 "best_checkpoint": "best checkpoint", "loop": "training loop", "device": "devices"}


def _result_value(key: str, value: Any) -> str:
    if "accuracy" in key and isinstance(value, float):
        return format_percent(value)
    if key == "wall_time_s" and isinstance(value, (int, float)):
        return format_si(value, "s") if value < 1 else f"{format_number(value)} s"
    return format_number(value)


def summary_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(what, value)`` of every figure of ``summary.json`` outside the energy, rates and config
    (nested records such as ``device`` or ``best_checkpoint`` flattened to dotted names)."""
    rows = []
    for key, value in summary.items():
        if key in _NESTED:
            continue
        if isinstance(value, Mapping):
            group = _GROUP_LABELS.get(key, key)
            rows += [(f"{group}: {k}", _result_value(k, v)) for k, v in flatten(value).items()]
        else:
            rows.append((_RESULT_LABELS.get(key, key), _result_value(key, value)))
    return rows


def energy_section(energy: Mapping[str, Any]) -> str:
    """The energy estimate per test example: a row per synaptic layer, the totals, the constants."""
    if not energy:
        return ""
    header = ("layer", "MACs (ANN)", "input spike rate", "synaptic operations (AC)", "MACs (analog input)",
              "steps", "energy, SNN", "energy, same-shape ANN")
    rows = [(l["name"], format_number(l["macs"]), format_number(l["input_rate"]), format_number(l["sops"]),
             format_number(l["snn_macs"]), format_number(l.get("steps")), format_si(l["e_snn"], "J"),
             format_si(l["e_ann"], "J")) for l in energy["layers"]]
    rows.append(("total", "", "", format_number(energy["sops"]), format_number(energy["snn_macs"]),
                 format_number(energy["time_steps"]), format_si(energy["e_snn"], "J"), format_si(energy["e_ann"], "J")))
    constants = energy.get("constants", {})
    note = (f"Per test example, over T = {energy['time_steps']} time steps: synaptic operations are MACs × input "
            f"spike rate × T for spiking inputs; analog-input layers cost MACs × T. Energy of the ANN "
            f"of the same shape / energy of the SNN = {format_number(energy['ratio'])}. "
            + " ".join(html.escape(str(constants[k])) + "." for k in ("e_mac", "e_ac") if k in constants))
    return f"<h2>Energy and synaptic operations</h2>{table(rows, header, table_id='energy')}<p>{note}</p>"


def firing_rate_section(test_rates: Mapping[str, float], example_rates: Mapping[str, float] | None,
                        example: int) -> str:
    """Per spiking layer, the mean firing rate over the test set and over the raster's one example."""
    layers = list(test_rates) or list(example_rates or {})
    if not layers:
        return ""
    header = ["layer", "test set (last evaluation)"]
    if example_rates:
        header.append(f"test example {example} (the raster)")
    rows = [[layer, format_number(test_rates.get(layer))] + ([format_number(example_rates.get(layer))]
                                                              if example_rates else []) for layer in layers]
    over = ("over the whole test set, and over the one example of the spike raster (which is why the two differ)"
            if example_rates else "over the whole test set")
    return ("<h2>Firing rates</h2>" + table(rows, header, table_id="firing-rates")
            + f"<p>Spikes per neuron per time step, averaged over the layer's neurons and time steps: {over}.</p>")


def config_section(config: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """The settings that differ from snnjax's defaults, then the whole config (folded) as dotted names."""
    flat, base = flatten(config), flatten(defaults)
    changed = [(k, format_setting(v), format_setting(base[k]) if k in base else "(no default)")
               for k, v in flat.items() if k not in base or base[k] != v]
    every = [(k, format_setting(v)) for k, v in flat.items()]
    return ("<h2>Configuration</h2><p>The settings of this run that differ from snnjax's defaults "
            "(<code>snnjax.tool.config.base_config</code>), as <code>--config.&lt;name&gt;</code> overrides "
            "would name them:</p>"
            + table(changed, ("setting", "this run", "default"), numeric_from=3, table_id="config-changed")
            + f"<details><summary>All {len(every)} settings</summary>"
            + table(every, ("setting", "value"), numeric_from=2, table_id="config") + "</details>")


def run_line(config: Mapping[str, Any] | None, summary: Mapping[str, Any] | None) -> str:
    """One line that says what the run is: data, model, neuron, T, steps, and its key figure."""
    config, summary = config or {}, summary or {}
    data, model = config.get("data", {}), config.get("model", {})
    parts = [data.get("name"), " ".join(str(p) for p in (model.get("arch"), model.get("spec")) if p),
             (model.get("neuron") or {}).get("kind"),
             f"T = {model['time_steps']}" if model.get("time_steps") else None,
             f"{summary['steps']:,} training steps" if isinstance(summary.get("steps"), int) else None]
    for key, label in (("final_test_accuracy", "test accuracy"), ("final_test_mse", "test MSE")):
        if isinstance(summary.get(key), float):
            parts.append(f"{label} {_result_value(key, summary[key])}")
    return " · ".join(html.escape(str(p)) for p in parts if p)


def figure_html(plot: Plot) -> str:
    """One captioned figure, linked to its PNG and its SVG."""
    return (f'<figure><img src="{plot.png.name}" alt="{html.escape(plot.caption)}">'
            f"<figcaption>{html.escape(plot.caption)} "
            f'<a href="{plot.png.name}">PNG</a> · <a href="{plot.svg.name}">SVG</a></figcaption></figure>')


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:0 1em;color:#222;line-height:1.4}"
        "table{border-collapse:collapse;margin:0.5em 0 1em}th,td{padding:3px 10px;border-bottom:1px solid #ddd;"
        "text-align:left}th{background:#f4f4f4}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
        "img{max-width:100%}figure{margin:1.5em 0}figcaption{font-size:0.92em;color:#444;max-width:60em}"
        "p.run{font-size:1.1em;color:#444}code{font-size:0.92em}summary{cursor:pointer;margin:0.5em 0}")


def write_page(out: Path, title: str, plots: Sequence[Plot], summary: Mapping[str, Any] | None,
               config: Mapping[str, Any] | None, defaults: Mapping[str, Any], test_rates: Mapping[str, float],
               example_rates: Mapping[str, float] | None = None, example: int = 0) -> Path:
    """Writes ``out/index.html``: the summary, energy and firing-rate tables, the figures, the config.

    ``test_rates``: per layer, the firing rate of the last evaluation on the test set;
    ``example_rates``: over test example ``example`` alone (the spike raster's).
    """
    parts = [f"<h1>{html.escape(title)}</h1><p class=run>{run_line(config, summary)}</p>"]
    if summary:
        parts.append("<h2>Results</h2>" + table(summary_rows(summary), ("what", "value"), table_id="summary"))
        parts.append(energy_section(summary.get("energy") or {}))
    else:
        parts.append(f"<p>No <code>{RunDirectory.SUMMARY}</code> yet: the run has not finished; the figures show "
                     "what it logged so far.</p>")
    parts.append(firing_rate_section(test_rates, example_rates, example))
    if plots:
        parts.append("<h2>Figures</h2>" + "".join(figure_html(p) for p in plots))
    if config:
        parts.append(config_section(config, defaults))
    page = (f"<!doctype html><html lang=en><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
