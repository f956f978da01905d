"""The cost tables of the report: $ per million requests by service, and what happens before the first upstream
byte on the DynamoDB store (bench/cost.py, bench/cost_probe.py)."""

from __future__ import annotations

from typing import Any


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
    return "\n".join(lines) + markdown_first_byte(report)


def markdown_first_byte(report: dict[str, Any]) -> str:
    """Before the first upstream byte on the DynamoDB store (bench/cost_probe.py `FirstByte`), per key kind."""
    scenarios = ((report.get("cost") or {}).get("dynamodb") or {}).get("scenarios") or {}
    measured = {name: s["first_byte"] for name, s in scenarios.items() if isinstance(s, dict) and "first_byte" in s}
    if not measured:
        return ""
    names = list(measured)
    def trips(f: dict[str, Any]) -> str:
        return f"{f['round_trips']} ({', '.join(f['operations'])})"

    rows = [("DynamoDB round trips", trips), ("ms to the upstream call (median)", lambda f: f"{f['ms']:.2f}"),
            ("of which inside DynamoDB calls (moto here)", lambda f: f"{f['dynamodb_ms']:.2f}"),
            ("of which the gateway's own", lambda f: f"{f['gateway_ms']:.2f}")]
    lines = ["", "", "| before the first upstream byte (AWS configuration) | " + " | ".join(names) + " |",
             "| --- |" + " ---: |" * len(names)]
    lines += [f"| {label} | " + " | ".join(cell(measured[n]) for n in names) + " |" for label, cell in rows]
    return "\n".join(lines)
