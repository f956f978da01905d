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

from bench.report_cost import markdown_cost

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
TARGETS = {
    "added_p50_ms_c1": 1.0,
    "added_p99_ms_c1": 2.0,  # issue 20 (issue 9: 3.0), with the database on disk
    "added_ttft_p50_ms_c1": 1.0,  # issue 20 (issue 9: 2.0)
    "streamed_throughput_vs_portkey_min": 1.5,  # issue 20
    "streamed_throughput_vs_litellm_min": 15.0,  # issue 20
    "throughput_vs_portkey_min": 1.3,  # issue 20, non-streamed
    "throughput_ratio_c32_min": 5.0,  # issue 9, non-streamed, against LiteLLM
    "added_p99_ratio_c32_max": 0.2,
    "cpu_ms_per_streamed_request_max": 1.0,  # issue 20
    "cold_start_ms_max": 300.0,
    "cold_start_ratio_max": 0.15,
    "deployed_cold_start_ms_max": 500.0,  # issue 19: each function as deployed, import + first request
    "rss_mb_max": 80.0,
    "rss_growth_mb_max": 5.0,
    "layer_zipped_mb_max": 15.0,
}
PEERS = (("gateway", "lambdarouter"), ("portkey", "Portkey"), ("litellm", "LiteLLM"))
BASELINE = "baseline"  # `--baseline REV`: an older lambdarouter, its column beside the gateway's
RATIO = "ratio"  # the column after it: the gateway's figure / the baseline's


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


def throughput_at(side: dict[str, Any] | None, concurrency: int, streamed: bool = False) -> dict[str, Any] | None:
    for row in _get(side, "throughput") or []:
        if row.get("concurrency") == concurrency and bool(row.get("streamed")) == streamed:
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
    conc = _throughput_concurrency(report)
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
    add(f"added latency p99 at concurrency {ck[1:]}, lambdarouter / LiteLLM",
        _ratio(_get(gw, ck, "added", "p99"), _get(lite, ck, "added", "p99")), TARGETS["added_p99_ratio_c32_max"],
        "<=", "x", "" if lite else "LiteLLM not measured")
    _issue20_targets(report, conc, add)
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


def _throughput_concurrency(report: dict[str, Any]) -> int:
    given = _get(report, "config", "throughput_concurrency")
    return int(given[0]) if isinstance(given, list) and given else 32


def _issue20_targets(report: dict[str, Any], conc: int, add: Any) -> None:
    """Streaming against Portkey and LiteLLM, CPU per streamed request (issue 20)."""
    gw, pk, lite = report.get("gateway"), report.get("portkey"), report.get("litellm")
    rps = [_get(throughput_at(side, conc, True), "rps") for side in (gw, pk, lite)]
    flat = [_get(throughput_at(side, conc), "rps") for side in (gw, pk)]
    add(f"streamed throughput at concurrency {conc}, lambdarouter / Portkey", _ratio(rps[0], rps[1]),
        TARGETS["streamed_throughput_vs_portkey_min"], ">=", "x", "" if pk and not pk.get("skipped") else
        "Portkey not measured")
    add(f"streamed throughput at concurrency {conc}, lambdarouter / LiteLLM", _ratio(rps[0], rps[2]),
        TARGETS["streamed_throughput_vs_litellm_min"], ">=", "x", "" if lite and not lite.get("skipped") else
        "LiteLLM not measured")
    add(f"throughput at concurrency {conc}, non-streamed, lambdarouter / Portkey", _ratio(flat[0], flat[1]),
        TARGETS["throughput_vs_portkey_min"], ">=", "x", "" if pk and not pk.get("skipped") else
        "Portkey not measured")
    add(f"gateway CPU per streamed request, concurrency {conc}",
        _get(throughput_at(gw, conc, True), "server_cpu_ms_per_request"),
        TARGETS["cpu_ms_per_streamed_request_max"], "<=", "ms")


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


Row = tuple[str, list[Any]]  # (figure, one value per column of `columns`)


def columns(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(report key, heading) of each column: the gateway; with `--baseline`, the old revision and the ratio of
    the gateway's figure to its; then Portkey and LiteLLM."""
    old = report.get(BASELINE)
    if not isinstance(old, dict):
        return list(PEERS)
    label = old.get("label") or f"lambdarouter@{old.get('rev')}"
    return [PEERS[0], (BASELINE, label), (RATIO, f"lambdarouter / {label}"), *PEERS[1:]]


def _peer_sides(report: dict[str, Any]) -> list[Any]:
    return [report.get(name) for name, _ in columns(report) if name != RATIO]


def _with_ratio(report: dict[str, Any], rows: list[Row]) -> list[Row]:
    """Each row's values with the gateway / baseline ratio inserted after the baseline's, when there is one."""
    if not any(name == RATIO for name, _ in columns(report)):
        return rows
    return [(label, [values[0], values[1], _ratio(values[0], values[1]), *values[2:]]) for label, values in rows]


def _cold_start_rows(report: dict[str, Any]) -> list[Row]:
    """Per function: wall (process start -> answer) and CPU, beside the baseline's same function and `import
    litellm`."""
    entries, litellm_import = cold_starts(report)
    theirs = {p["name"].rpartition("@")[0]: p for p in _get(report, "coldstart", BASELINE, "probes") or []}
    with_old = isinstance(report.get(BASELINE), dict)
    rows: list[Row] = []
    modules = [p for p in _get(report, "coldstart", "probes") or [] if p["kind"] == "module"]
    for entry in [*entries, *modules]:
        old = theirs.get(entry["name"])
        for key, what in (("cold_start_median_ms", "import + first request"), ("cpu_median_ms", "CPU")):
            if entry["kind"] == "module":
                what = what.replace(" + first request", "")
            values = [entry.get(key), *([_get(old, key)] if with_old else []), None, _get(litellm_import, key)]
            rows.append((f"cold start, {entry['path'] or entry['name']}: {what} (ms)", values))
    for entry in aws_cold_starts(report):
        rows.append((f"cold start, {entry['name']} (ms)",
                     [entry["cold_start_median_ms"], *([None] if with_old else []), None,
                      _get(litellm_import, "cold_start_median_ms")]))
    return rows


def results_rows(report: dict[str, Any]) -> list[Row]:
    """(figure, a value per column: lambdarouter[, its baseline, the ratio], Portkey, LiteLLM) for every headline
    figure."""
    sides = _peer_sides(report)
    ck = concurrency_key(report)
    rows: list[Row] = []

    def each(label: str, *path: str) -> None:
        rows.append((label, [_get(side, *path) for side in sides]))

    for q in ("p50", "p99"):
        each(f"added latency, non-streamed, concurrency 1, {q} (ms)", "c1", "added", q)
    for q in ("p50", "p99"):
        each(f"added time to first token, concurrency 1, {q} (ms)", "c1_streamed", "ttft", "added", q)
    each("added delay between chunks, concurrency 1, p50 (ms)", "c1_streamed", "inter_chunk", "added", "p50")
    for q in ("p50", "p99"):
        each(f"added latency, non-streamed, concurrency {ck[1:]}, {q} (ms)", ck, "added", q)
    for row in _get(sides[0], "throughput") or []:
        c, streamed = row["concurrency"], bool(row.get("streamed"))
        kind = "streamed" if streamed else "non-streamed"
        found = [throughput_at(side, c, streamed) for side in sides]
        rows.append((f"throughput, {kind}, concurrency {c} (requests/s)", [_get(f, "rps") for f in found]))
        rows.append((f"latency p99 during it, {kind}, concurrency {c} (ms)",
                     [_get(f, "latency", "p99") for f in found]))
        rows.append((f"server CPU per request, {kind}, concurrency {c} (ms)",
                     [_get(f, "server_cpu_ms_per_request") for f in found]))
    for point in _get(sides[0], "memory", "checkpoints") or []:
        n = point["requests"]
        rows.append((f"RSS after {n:,} requests (MB)", [_memory_at(side, n) for side in sides]))
    each("RSS growth, first to last checkpoint (MB)", "memory", "growth_mb")
    rows += _cold_start_rows(report)
    rows.append(("layer, zipped (MB)", [_get(report, "layer", "zipped_mb")] + [None] * (len(sides) - 1)))
    return _with_ratio(report, rows)


def peer_labels(report: dict[str, Any]) -> list[str]:
    out = []
    for name, label in columns(report):
        version = _get(report, name, "setup", "version")
        out.append(f"{label} {version}" if version and name not in ("gateway", BASELINE) else label)
    return out


def baseline_comparison(report: dict[str, Any]) -> list[dict[str, Any]]:
    """With `--baseline`: every figure of the gateway beside the old revision's, and their ratio (for the JSON)."""
    if not any(name == RATIO for name, _ in columns(report)):
        return []
    return [{"figure": label, "lambdarouter": values[0], "baseline": values[1], "ratio": values[2]}
            for label, values in results_rows(report) if values[0] is not None or values[1] is not None]


def markdown_results(report: dict[str, Any]) -> str:
    labels = peer_labels(report)
    lines = ["| figure | " + " | ".join(labels) + " |", "| --- |" + " ---: |" * len(labels)]
    for label, values in results_rows(report):
        lines.append(f"| {label} | " + " | ".join(_fmt(v) for v in values) + " |")
    return "\n".join(lines)


def markdown_targets(report: dict[str, Any]) -> str:
    lines = ["| target | measured | limit | met |", "| --- | ---: | ---: | :---: |"]
    for t in report.get("targets") or targets(report):
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {_fmt(t['value'])} {t['unit']} | {t['comparison']} {t['limit']} "
                     f"{t['unit']} | {met} |")
    return "\n".join(lines)


def format_text(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"lambdarouter bench — {report['date']} — {m['cpu_model']}, {m['cores']} cores, Python {m['python']}",
             ""]
    for name, label in PEERS[1:]:
        skipped = _get(report, name, "skipped")
        if skipped:
            lines += [f"{label}: skipped ({skipped})", ""]
    for name, section in report.items():
        for part in [section, *(section.values() if isinstance(section, dict) else [])]:
            if isinstance(part, dict) and isinstance(part.get("error"), str):
                lines += [f"FAILED {name}: {part['error'].splitlines()[-1][:300]}", ""]
    heads = [{RATIO: RATIO, BASELINE: "@" + label.partition("@")[2]}.get(name, label.split()[0])[:12]
             for name, label in columns(report)]
    lines.append(f"{'figure':<62}" + "".join(f"{head:>13}" for head in heads))
    for label, values in results_rows(report):
        lines.append(f"{label[:61]:<62}" + "".join(f"{_fmt(v):>13}" for v in values))
    direct = report.get("direct") or {}
    for row in direct.get("throughput") or []:
        kind = "streamed" if row.get("streamed") else "non-streamed"
        label = f"(reference) upstream alone, {kind}, concurrency {row['concurrency']} (requests/s)"
        lines.append(f"{label[:61]:<62}"
                     f"{_fmt(row.get('rps')):>13}")
    per = _get(report, "cost", "per_million_requests") or {}
    for name, row in per.items():
        lines.append(f"{'cost per million requests, ' + name + ' ($)':<62}{row['usd_total']:>13.3f}")
    lines += ["", "targets:"]
    for t in report.get("targets") or []:
        met = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        note = f" ({t['note']})" if t.get("note") else ""
        lines.append(f"  {t['target']}: {_fmt(t['value'])} {t['unit']} {t['comparison']} {t['limit']} -> {met}{note}")
    return "\n".join(lines)


DOCS_BEGIN = "<!-- bench:begin (written by `python -m bench`; edit bench/report.py, not this block) -->"
DOCS_END = "<!-- bench:end -->"


def markdown_machine(report: dict[str, Any]) -> str:
    m = report["machine"]
    config = report.get("config") or {}
    pinned = "the client and the fake upstream on CPU 0, each server on CPU 1" if config.get("pin") else "no pinning"
    peers = "; ".join(f"{label}: {_get(report, name, 'skipped') or 'measured'}" for name, label in PEERS[1:])
    old = report.get(BASELINE)
    if isinstance(old, dict):
        peers += (f"; baseline {old.get('label')} (commit {str(old.get('commit'))[:10]}, a detached worktree, its "
                  f"src first on PYTHONPATH): {'FAILED' if old.get('error') else 'measured'} in the same rounds")
    return "\n".join([
        f"- {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory_mb']:,} MB, {m['platform']}",
        f"- CPython {m['python']}; run {report['date']}, {report.get('seconds')} s, git {str(m['git_commit'])[:10]}"
        f"{' with uncommitted changes' if m.get('git_dirty') else ''}",
        f"- {config.get('repeats', 1)} round(s) of the latency and throughput phases, the servers in turn within "
        f"each, medians per figure; {pinned}; {peers}",
        f"- load average {m.get('load_average_at_start')} at the start, {m.get('load_average_at_end')} at the end",
    ])


def markdown_block(report: dict[str, Any]) -> str:
    direct = ", ".join(f"{_fmt(r.get('rps'), 1)} requests/s at concurrency {r['concurrency']}"
                       f"{' streamed' if r.get('streamed') else ''}"
                       for r in _get(report, "direct", "throughput") or [])
    return "\n\n".join([
        DOCS_BEGIN, "### Machine and run\n\n" + markdown_machine(report),
        "### Results\n\n" + markdown_results(report),
        f"The fake upstream alone, measured the same way (the ceiling of this machine and client): {direct or '—'}.",
        "### Targets\n\n" + markdown_targets(report), "### Cost\n\n" + markdown_cost(report), DOCS_END])


def update_docs(report: dict[str, Any], path: Path) -> None:
    """Replace the generated block of docs/performance.md (between the markers) with this run's tables."""
    text = path.read_text()
    if DOCS_BEGIN in text and DOCS_END in text:
        head, rest = text.split(DOCS_BEGIN, 1)
        tail = rest.split(DOCS_END, 1)[1]
    else:
        head, tail = text.rstrip("\n") + "\n\n", "\n"
    path.write_text(head + markdown_block(report) + tail)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else DEFAULT_RESULTS
    report = json.loads(path.read_text())
    print(markdown_block(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
