"""What this installation offers: every provider's operations, models and list prices, with the
defaults it declares, as `genrelay providers` prints them (a table, JSON for scripts, or the README's
Markdown table)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from orchestrator.ledger import MICROS_PER_CREDIT
from orchestrator.pricing import PriceTable
from workers.providers import Provider


def _credits(micros: int) -> str:
    return format(Decimal(micros) / MICROS_PER_CREDIT, "f").rstrip("0").rstrip(".") or "0"


def price_range(prices: PriceTable, provider: str, operation: str, model: str) -> dict[str, Any]:
    """The cheapest and dearest list price of a model (its options decide where it falls), and the
    input field it is multiplied by, if any."""
    rules = prices.rules(provider, operation, model)
    micros = [rule.micros for rule in rules]
    per = sorted({rule.per for rule in rules if rule.per})
    return {"from": _credits(min(micros)), "to": _credits(max(micros)), "per": per[0] if per else None}


def catalog(providers: Mapping[str, Provider], prices: PriceTable) -> dict[str, Any]:
    """`{"providers": {name: {..., "operations": {operation: {"models": [...], "prices": {...}}}}}}`."""
    described: dict[str, Any] = {}
    for name, provider in sorted(providers.items()):
        operations = {}
        for operation in provider.operations:
            models = prices.models(name, operation)
            operations[operation] = {
                "models": models,
                "prices": {model: price_range(prices, name, operation, model) for model in models},
            }
        described[name] = {
            "title": provider.title,
            "deadline_s": provider.deadline_s,
            "callbacks": provider.sends_callbacks,
            "cancel": provider.supports_cancel,
            "finds_by_job_id": provider.finds_by_job_id,
            "queue_group": provider.queue_group,
            "operations": operations,
        }
    return {"providers": described}


def _price_text(price: Mapping[str, Any]) -> str:
    text = price["from"] if price["from"] == price["to"] else f"{price['from']}-{price['to']}"
    return f"{text} per {price['per']}" if price["per"] else text


def rows(described: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(provider, operation, models, credits) per operation, models sharing a price joined."""
    table = []
    for provider in described["providers"].values():
        for operation, offered in provider["operations"].items():
            by_price: dict[str, list[str]] = {}
            for model in offered["models"]:
                by_price.setdefault(_price_text(offered["prices"][model]), []).append(model)
            for price, models in by_price.items():
                table.append((provider["title"], operation, ", ".join(models), price))
            if not offered["models"]:
                table.append((provider["title"], operation, "(not priced)", ""))
    return table


def markdown(described: Mapping[str, Any]) -> str:
    lines = ["| provider | operation | models | credits |", "|---|---|---|---|"]
    lines += [f"| {p} | `{o}` | {m} | {c} |" for p, o, m, c in rows(described)]
    return "\n".join(lines) + "\n"
