"""The report: the issue's targets checked against a results JSON, as a text table and as Markdown.

`python -m bench.report [bench/results/latest.json]` prints the Markdown tables (the README's and
docs/performance.md's come from it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
TARGETS = {
    "added_p50_ms_c1": 1.0,
    "added_p99_ms_c1": 3.0,
    "added_ttft_p50_ms_c1": 2.0,
    "throughput_ratio_c32_min": 5.0,
    "added_p99_ratio_c32_max": 0.2,
    "cold_start_ms_max": 300.0,
    "cold_start_ratio_max": 0.15,
    "deployed_cold_start_ms_max": 500.0,  # issue 19: each function as deployed, import + first request
    "rss_mb_max": 80.0,
    "rss_growth_mb_max": 5.0,
    "layer_zipped_mb_max": 15.0,
}


def _get(data: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(data, dict) and isinstance(step, str):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and -len(data) <= step < len(data):
            data = data[step]
        else:
            return None
    return data


def _ratio(a: Any, b: Any) -> float | None:
    """a / b; none for a negative figure (an added delay below the noise has no meaningful ratio)."""
    if isinstance(a, int | float) and isinstance(b, int | float) and a >= 0 and b > 0:
        return round(a / b, 3)
    return None


def concurrency_key(report: dict[str, Any]) -> str:
    return f"c{_get(report, 'config', 'concurrency') or 32}"


def throughput_at(side: dict[str, Any] | None, concurrency: int) -> dict[str, Any] | None:
    for row in _get(side, "throughput") or []:
        if row.get("concurrency") == concurrency:
            return dict(row)
    return None


def cold_starts(report: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    probes = _get(report, "coldstart", "probes") or []
    return ([p for p in probes if p["kind"] == "entry" and not p.get("aws_configuration")],
            next((p for p in probes if p["kind"] == "import"), None))


def aws_cold_starts(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in _get(report, "coldstart", "probes") or [] if p.get("aws_configuration")]


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issues 9 and 19: its figure, its limit, met (True / False / None when not measured)."""
    gw, lite = report.get("gateway"), report.get("litellm")
    ck = concurrency_key(report)
    conc = int(ck[1:])
    rows: list[dict[str, Any]] = []

    def add(name: str, value: Any, limit: float, better: str, unit: str, note: str = "") -> None:
        met = None
        if isinstance(value, int | float):
            met = value <= limit if better == "<=" else value >= limit
        rows.append({"target": name, "value": value, "limit": limit, "comparison": better, "unit": unit,
                     "met": met, "note": note})

    add("added latency, non-streamed, p50, concurrency 1", _get(gw, "c1", "added", "p50"),
        TARGETS["added_p50_ms_c1"], "<=", "ms")
    add("added latency, non-streamed, p99, concurrency 1", _get(gw, "c1", "added", "p99"),
        TARGETS["added_p99_ms_c1"], "<=", "ms")
    add("added time to first token, p50, concurrency 1", _get(gw, "c1_streamed", "ttft", "added", "p50"),
        TARGETS["added_ttft_p50_ms_c1"], "<=", "ms")
    gw_tp, lite_tp = throughput_at(gw, conc), throughput_at(lite, conc)
    add(f"throughput at concurrency {conc}, lambdarouter / LiteLLM", _ratio(_get(gw_tp, "rps"), _get(lite_tp, "rps")),
        TARGETS["throughput_ratio_c32_min"], ">=", "x",
        "" if lite else "LiteLLM not measured")
    add(f"added latency p99 at concurrency {conc}, lambdarouter / LiteLLM",
        _ratio(_get(gw, ck, "added", "p99"), _get(lite, ck, "added", "p99")), TARGETS["added_p99_ratio_c32_max"],
        "<=", "x", "" if lite else "LiteLLM not measured")
    entries, litellm_import = cold_starts(report)
    for entry in entries:
        bad = "" if entry.get("served_ok", True) else f"its request answered {entry.get('status')}"
        add(f"cold start (import + first request), {entry['name']}", entry["cold_start_median_ms"],
            TARGETS["cold_start_ms_max"], "<=", "ms", bad)
        add(f"cold start {entry['name']} / `import litellm`",
            _ratio(entry["cold_start_median_ms"], _get(litellm_import, "cold_start_median_ms")),
            TARGETS["cold_start_ratio_max"], "<=", "x", bad or ("" if litellm_import else "LiteLLM not measured"))
        if bad:
            rows[-1]["met"] = rows[-2]["met"] = None
    for entry in aws_cold_starts(report):
        bad = "" if entry.get("served_ok", True) else f"its request answered {entry.get('status')}"
        add(f"cold start, {entry['name']} (CPU {entry.get('cpu_median_ms', '?')} ms)", entry["cold_start_median_ms"],
            TARGETS["deployed_cold_start_ms_max"], "<=", "ms", bad)
        if bad:
            rows[-1]["met"] = None
    points = _get(gw, "memory", "checkpoints") or []
    add(f"RSS after {points[-1]['requests'] if points else '?'} requests", _get(points, -1, "rss_mb"),
        TARGETS["rss_mb_max"], "<=", "MB")
    add("RSS growth between the first and last checkpoints", _get(gw, "memory", "growth_mb"),
        TARGETS["rss_growth_mb_max"], "<", "MB")
    rows[-1]["met"] = None if rows[-1]["value"] is None else rows[-1]["value"] < TARGETS["rss_growth_mb_max"]
    add("layer, zipped", _get(report, "layer", "zipped_mb"), TARGETS["layer_zipped_mb_max"], "<=", "MB",
        _get(report, "layer", "skipped") or "")
    return rows


# -- tables -----------------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _memory_at(side: Any, requests: int) -> Any:
    return next((p["rss_mb"] for p in _get(side, "memory", "checkpoints") or [] if p["requests"] == requests), None)


def results_rows(report: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """(figure, lambdarouter, LiteLLM, ratio lambdarouter / LiteLLM) for every headline figure."""
    gw, lite = report.get("gateway"), report.get("litellm")
    ck = concurrency_key(report)
    rows: list[tuple[str, Any, Any, Any]] = []

    def pair(label: str, a: Any, b: Any) -> None:
        rows.append((label, a, b, _ratio(a, b)))

    def both(*path: str) -> tuple[Any, Any]:
        return _get(gw, *path), _get(lite, *path)

    for q in ("p50", "p99"):
        pair(f"added latency, non-streamed, concurrency 1, {q} (ms)", *both("c1", "added", q))
    for q in ("p50", "p99"):
        pair(f"added time to first token, concurrency 1, {q} (ms)", *both("c1_streamed", "ttft", "added", q))
    pair("added delay between chunks, concurrency 1, p50 (ms)", *both("c1_streamed", "inter_chunk", "added", "p50"))
    for q in ("p50", "p99"):
        pair(f"added latency, non-streamed, concurrency {ck[1:]}, {q} (ms)", *both(ck, "added", q))
    for row in _get(gw, "throughput") or []:
        c = row["concurrency"]
        mine, theirs = throughput_at(gw, c), throughput_at(lite, c)
        pair(f"throughput, concurrency {c} (requests/s)", _get(mine, "rps"), _get(theirs, "rps"))
        pair(f"latency p99 during it, concurrency {c} (ms)", _get(mine, "latency", "p99"),
             _get(theirs, "latency", "p99"))
        pair(f"server CPU per request, concurrency {c} (ms)", _get(mine, "server_cpu_ms_per_request"),
             _get(theirs, "server_cpu_ms_per_request"))
    for point in _get(gw, "memory", "checkpoints") or []:
        n = point["requests"]
        pair(f"RSS after {n:,} requests (MB)", _memory_at(gw, n), _memory_at(lite, n))
    pair("RSS growth, first to last checkpoint (MB)", *both("memory", "growth_mb"))
    entries, litellm_import = cold_starts(report)
    for entry in entries:
        pair(f"cold start, {entry['path'] or entry['name']}: import + first request (ms)",
             entry["cold_start_median_ms"], _get(litellm_import, "cold_start_median_ms"))
    for entry in aws_cold_starts(report):
        pair(f"cold start, {entry['name']} (ms)", entry["cold_start_median_ms"],
             _get(litellm_import, "cold_start_median_ms"))
    rows.append(("layer, zipped (MB)", _get(report, "layer", "zipped_mb"), None, None))
    return rows


def markdown_results(report: dict[str, Any]) -> str:
    lite_version = _get(report, "litellm", "setup", "version")
    lite = f"LiteLLM proxy {lite_version}" if lite_version else "LiteLLM proxy"
    lines = [f"| figure | lambdarouter | {lite} | ratio |", "| --- | ---: | ---: | ---: |"]
    for label, a, b, r in results_rows(report):
        lines.append(f"| {label} | {_fmt(a)} | {_fmt(b)} | {_fmt(r, 3)} |")
    return "\n".join(lines)


def markdown_targets(report: dict[str, Any]) -> str:
    lines = ["| target (issue 9) | measured | limit | met |", "| --- | ---: | ---: | :---: |"]
    for t in report.get("targets") or targets(report):
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {_fmt(t['value'])} {t['unit']} | {t['comparison']} {t['limit']} "
                     f"{t['unit']} | {met} |")
    return "\n".join(lines)


def markdown_cost(report: dict[str, Any]) -> str:
    cost = report.get("cost") or {}
    per = cost.get("per_million_requests") or {}
    if not per:
        return "(cost model not measured)"
    names = list(per)
    lines = ["| $ per million requests | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    parts = list(next(iter(per.values()))["usd"])
    for part in parts:
        lines.append(f"| {part.replace('_', ' ')} | " + " | ".join(f"{per[n]['usd'][part]:.3f}" for n in names) + " |")
    lines.append("| **total** | " + " | ".join(f"**{per[n]['usd_total']:.3f}**" for n in names) + " |")
    lines.append("| + Lambda waiting 1 s for the provider | "
                 + " | ".join(f"{per[n]['usd_total_with_1s_provider_wait']:.3f}" for n in names) + " |")
    lines.append("| DynamoDB units (read / write / GSI write) | "
                 + " | ".join(f"{per[n]['units']['read_units']} / {per[n]['units']['write_units']} / "
                              f"{per[n]['units']['gsi_write_units']}" for n in names) + " |")
    return "\n".join(lines)


def format_text(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"lambdarouter bench — {report['date']} — {m['cpu_model']}, {m['cores']} cores, Python {m['python']}",
             ""]
    lite_skip = _get(report, "litellm", "skipped")
    if lite_skip:
        lines += [f"LiteLLM: skipped ({lite_skip})", ""]
    for name, section in report.items():
        for part in [section, *(section.values() if isinstance(section, dict) else [])]:
            if isinstance(part, dict) and isinstance(part.get("error"), str):
                lines += [f"FAILED {name}: {part['error'].splitlines()[-1][:300]}", ""]
    lines.append(f"{'figure':<62}{'lambdarouter':>13}{'LiteLLM':>10}{'ratio':>8}")
    for label, a, b, r in results_rows(report):
        lines.append(f"{label[:61]:<62}{_fmt(a):>13}{_fmt(b):>10}{_fmt(r, 3):>8}")
    direct = report.get("direct") or {}
    for row in direct.get("throughput") or []:
        lines.append(f"{'(reference) upstream alone, concurrency ' + str(row['concurrency']) + ' (requests/s)':<62}"
                     f"{_fmt(row.get('rps')):>13}")
    per = _get(report, "cost", "per_million_requests") or {}
    for name, row in per.items():
        lines.append(f"{'cost per million requests, ' + name + ' ($)':<62}{row['usd_total']:>13.3f}")
    lines += ["", "targets (issue 9):"]
    for t in report.get("targets") or []:
        met = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        note = f" ({t['note']})" if t.get("note") else ""
        lines.append(f"  {t['target']}: {_fmt(t['value'])} {t['unit']} {t['comparison']} {t['limit']} -> {met}{note}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DEFAULT_RESULTS
    report = json.loads(path.read_text())
    print("## Results\n\n" + markdown_results(report) + "\n\n## Targets\n\n" + markdown_targets(report)
          + "\n\n## Cost\n\n" + markdown_cost(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
