"""The price table: each provider's own `prices.toml`, or the operator's price files in their place;
validated at load, quoted per job in integer micro-credits."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.errors import UnpricedModelError
from orchestrator.ledger import MICROS_PER_CREDIT
from workers.providers import PROVIDERS

PPM = 1_000_000


class PriceRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    operation: str
    models: tuple[str, ...] = Field(min_length=1)
    when: Mapping[str, str] = Field(default_factory=dict)
    micros: int = Field(ge=0)
    per: str | None = Field(default=None, description="An integer input field the price is multiplied by.")

    @model_validator(mode="before")
    @classmethod
    def _from_file_shape(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        if "model" in raw:
            raw["models"] = [raw.pop("model")]
        if "credits" in raw:
            raw["micros"] = _credits_to_micros(raw.pop("credits"))
        raw["when"] = {k: str(v) for k, v in raw.get("when", {}).items()}
        return raw

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"unknown provider {value!r}; known: {sorted(PROVIDERS)}")
        return value

    @model_validator(mode="after")
    def _known_operation(self) -> PriceRule:
        operations = PROVIDERS[self.provider].operations
        if self.operation not in operations:
            raise ValueError(
                f"{self.provider} has no operation {self.operation!r}; known: {sorted(operations)}"
            )
        return self

    def matches(self, job_input: Mapping[str, Any]) -> bool:
        return all(str(job_input.get(key)) == value for key, value in self.when.items())


def _quantity(rule: PriceRule, job_input: Mapping[str, Any]) -> int:
    if rule.per is None:
        return 1
    value = job_input.get(rule.per, 1)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise UnpricedModelError(
            f"{rule.per} must be a whole number to price this job", field=f"input.{rule.per}"
        )
    return int(value)


def _credits_to_micros(value: object) -> int:
    if isinstance(value, float):
        raise ValueError('write credits as a string (e.g. "0.25") so no float rounding creeps in')
    micros = Decimal(str(value)) * MICROS_PER_CREDIT
    if micros != micros.to_integral_value():
        raise ValueError(f"{value} credits is finer than one micro-credit")
    return int(micros)


class PriceTable:
    """Rules indexed by (provider, operation, model)."""

    def __init__(self, rules: list[PriceRule]) -> None:
        self._rules: dict[tuple[str, str, str], list[PriceRule]] = {}
        for rule in rules:
            for model in rule.models:
                self._rules.setdefault((rule.provider, rule.operation, model), []).append(rule)
        for key, group in self._rules.items():
            _check_unambiguous(key, group)

    def keys(self) -> list[tuple[str, str, str]]:
        return sorted(self._rules)

    def rules(self, provider: str, operation: str, model: str) -> list[PriceRule]:
        return list(self._rules.get((provider, operation, model), []))

    def models(self, provider: str, operation: str) -> list[str]:
        return sorted(m for (p, o, m) in self._rules if (p, o) == (provider, operation))

    def list_price(self, provider: str, operation: str, model: str, job_input: Mapping[str, Any]) -> int:
        rules = self._rules.get((provider, operation, model))
        if not rules:
            offered = ", ".join(self.models(provider, operation)) or "none"
            raise UnpricedModelError(
                f"model {model!r} is not offered for {provider} {operation}; offered: {offered}",
                field="model",
            )
        matching = [rule for rule in rules if rule.matches(job_input)]
        if not matching:
            raise UnpricedModelError(
                f"no price for {provider} {operation} {model} with these options", field="input"
            )
        rule = max(matching, key=lambda rule: len(rule.when))
        return rule.micros * _quantity(rule, job_input)

    def quote(
        self,
        provider: str,
        operation: str,
        model: str,
        job_input: Mapping[str, Any],
        multiplier_ppm: int,
    ) -> int:
        """The price for one account: list price times its multiplier, rounded up to a micro-credit."""
        base = self.list_price(provider, operation, model, job_input)
        return int((Decimal(base) * multiplier_ppm / PPM).to_integral_value(rounding=ROUND_CEILING))


def _check_unambiguous(key: tuple[str, str, str], rules: list[PriceRule]) -> None:
    """Two equally specific rules that can match one input need a rule covering both."""
    whens = [dict(rule.when) for rule in rules]
    for a, b in itertools.combinations(whens, 2):
        if a == b:
            raise ValueError(f"price for {'/'.join(key)} is defined twice for {a or 'all inputs'}")
        compatible = all(a[k] == b[k] for k in a.keys() & b.keys())
        if len(a) == len(b) and compatible and {**a, **b} not in whens:
            raise ValueError(
                f"prices for {'/'.join(key)} are ambiguous when both {a} and {b} match: "
                f"add a rule for {a | b}"
            )


def load_price_table(path: Path | None = None) -> PriceTable:
    """The operator's rules (a price file, or every `*.toml` in a folder) when `path` is given, and
    each provider's own price file for the providers those rules do not price."""
    files = (sorted(path.glob("*.toml")) if path.is_dir() else [path]) if path is not None else []
    rules = [rule for file in files for rule in _read_rules(file)]
    priced = {rule.provider for rule in rules}
    for name, provider in PROVIDERS.items():
        own = provider.price_file()
        if name not in priced and own is not None:
            rules += [rule for rule in _read_rules(own) if rule.provider == name]
    return PriceTable(rules)


def _read_rules(path: Path) -> list[PriceRule]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read price file {path}: {exc}") from exc
    try:
        return [PriceRule.model_validate(entry) for entry in raw.get("price", [])]
    except ValidationError as exc:
        raise ValueError(f"invalid price file {path}: {exc}") from exc


@lru_cache(maxsize=4)
def cached_price_table(path: Path | None) -> PriceTable:
    return load_price_table(path)
