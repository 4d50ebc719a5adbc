"""The price table: validated at load, most specific rule wins, multipliers round up."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import UnpricedModelError
from orchestrator.pricing import PriceTable, load_price_table

RULE = '[[price]]\nprovider = "kling"\noperation = "text2video"\nmodel = "kling-v1-6"\n'


def table(tmp_path: Path, text: str) -> PriceTable:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return load_price_table(path)


def test_pricing_shipped_price_file_is_valid() -> None:
    prices = load_price_table()
    assert prices.list_price("kling", "text2video", "kling-v1-6", {"mode": "std", "duration": "5"}) == 200_000


def test_pricing_most_specific_rule_wins(tmp_path: Path) -> None:
    prices = table(
        tmp_path,
        RULE
        + 'credits = "1"\n'
        + RULE
        + 'credits = "2"\nwhen = { mode = "pro" }\n'
        + RULE
        + 'credits = "3"\nwhen = { mode = "pro", duration = "10" }\n',
    )
    assert prices.list_price("kling", "text2video", "kling-v1-6", {"mode": "std"}) == 1_000_000
    assert (
        prices.list_price("kling", "text2video", "kling-v1-6", {"mode": "pro", "duration": "5"}) == 2_000_000
    )
    assert (
        prices.list_price("kling", "text2video", "kling-v1-6", {"mode": "pro", "duration": "10"}) == 3_000_000
    )


def test_pricing_multiplier_rounds_up_to_a_micro_credit(tmp_path: Path) -> None:
    prices = table(tmp_path, RULE + 'credits = "0.000003"\n')
    assert prices.quote("kling", "text2video", "kling-v1-6", {}, 500_000) == 2  # 1.5 micro-credits -> 2


def test_pricing_unknown_model_names_the_offered_ones(tmp_path: Path) -> None:
    prices = table(tmp_path, RULE + 'credits = "1"\n')
    with pytest.raises(UnpricedModelError, match="offered: kling-v1-6") as caught:
        prices.list_price("kling", "text2video", "kling-v9", {})
    assert caught.value.field == "model"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (RULE + "credits = 0.5\n", "write credits as a string"),
        (RULE + 'credits = "0.0000001"\n', "finer than one micro-credit"),
        (RULE.replace("kling", "dalle", 1) + 'credits = "1"\n', "unknown provider"),
        (RULE.replace("text2video", "lipsync") + 'credits = "1"\n', "has no operation"),
        (RULE + 'credits = "1"\n' + RULE + 'credits = "2"\n', "defined twice"),
        (
            RULE
            + 'credits = "1"\nwhen = { mode = "pro" }\n'
            + RULE
            + 'credits = "2"\nwhen = { duration = "10" }\n',
            "ambiguous",
        ),
        ("[[price]\n", "cannot read price file"),
    ],
)
def test_pricing_bad_price_files_are_refused_at_load(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        table(tmp_path, text)


def test_pricing_per_unit_rules_multiply_by_the_input_quantity(tmp_path: Path) -> None:
    rule = RULE.replace("text2video", "image_generation").replace("kling-v1-6", "kling-v1")
    prices = table(tmp_path, rule + 'credits = "0.01"\nper = "n"\n')
    assert prices.list_price("kling", "image_generation", "kling-v1", {"n": 4}) == 40_000
    assert prices.list_price("kling", "image_generation", "kling-v1", {}) == 10_000
