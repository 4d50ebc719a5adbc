"""What a job body takes per provider operation, for the document: `JobCreate` is one of these
variants, each naming its provider and operation, with that operation's input model and the models
the price table offers for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.pricing import PriceTable
from workers.providers.base import Provider

COMPONENTS = "#/components/schemas/"


def input_components(provider: str, operation: str, model: type[Any]) -> tuple[str, dict[str, Any]]:
    """The component name of an operation's input model, and the components it and its parts take
    (named after the provider: two providers may name their models alike)."""
    prefix = f"{provider}_"  # not a dot: client generators keep only what follows one
    schema: dict[str, Any] = model.model_json_schema(ref_template=COMPONENTS + prefix + "{model}")
    # Generated clients name a model by its title: the provider's name in front keeps titles distinct.
    components = {
        prefix + name: {**part, "title": name if name.lower().startswith(provider) else prefix + name}
        for name, part in schema.pop("$defs", {}).items()
    }
    name = prefix + model.__name__
    components[name] = schema
    return name, components


def model_rules(input_model: type[Any]) -> list[dict[str, Any]]:
    """What an input must be for some of the provider's models (one that offers less than its input
    model takes: a resolution, a length, sound), as the input model's `model_rules` declares it: an
    `if` the body's model is one of them, `then` the input is so."""
    declared = getattr(input_model, "model_rules", None)
    if declared is None:
        return []
    return [
        {"if": {"properties": {"model": {"enum": list(models)}}}, "then": {"properties": {"input": rule}}}
        for models, rule in declared()
    ]


def job_create_variants(
    providers: Mapping[str, Provider], prices: PriceTable | None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """`JobCreate`'s `oneOf` (one variant per operation that has a priced model, or per operation when
    no price table is at hand) and the components its inputs need."""
    variants: list[dict[str, Any]] = []
    components: dict[str, dict[str, Any]] = {}
    for provider_name, provider in sorted(providers.items()):
        for operation, input_model in sorted(provider.operations.items()):
            properties: dict[str, Any] = {
                "provider": {"const": provider_name},
                "operation": {"const": operation},
            }
            if prices is not None:
                offered = prices.models(provider_name, operation)
                if not offered:
                    continue  # nothing to run it on: no body can name it
                properties["model"] = {"enum": offered}
            name, parts = input_components(provider_name, operation, input_model)
            components.update(parts)
            properties["input"] = {"$ref": COMPONENTS + name}
            variant: dict[str, Any] = {"title": f"{provider_name} {operation}", "properties": properties}
            rules = model_rules(input_model)
            if rules:
                variant["allOf"] = rules
            variants.append(variant)
    return variants, components
