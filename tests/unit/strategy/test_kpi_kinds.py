"""The three kinds of KPI in the strategy document, the API's commands and the events."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.strategy.builders import BASE_YAML, MARIA, document
from truenorth.contract.common import ObjectiveSpec
from truenorth.strategy.domain import DocumentInvalid, InvariantViolated, Strategy, load_document

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

CAC = """\
  - id: cac-q4
    name: Customer acquisition cost
    kpi: customer_acquisition_cost
    aggregation: ratio
    numerator: spend
    denominator: new_customers
    baseline: 42000
    target: 36000
    direction: decrease
    start: 2026-10-01
    deadline: 2026-12-31
"""


def with_objective(block: str) -> str:
    return BASE_YAML + block


def errors_of(text: str) -> dict[str, tuple[int | None, str]]:
    with pytest.raises(DocumentInvalid) as caught:
        document(text)
    return {error.path: (error.line, error.message) for error in caught.value.errors}


def test_a_cac_objective_is_a_ratio_of_spend_to_new_customers() -> None:
    spec = document(with_objective(CAC)).objective_specs()[-1]
    assert (spec.aggregation, spec.numerator, spec.denominator) == (
        "ratio",
        "spend",
        "new_customers",
    )
    assert spec.lower_bound == 0


def test_a_ratio_without_its_denominator_is_refused_naming_the_field_and_line() -> None:
    text = with_objective(CAC.replace("    denominator: new_customers\n", ""))
    line, message = errors_of(text)["objectives[2].denominator"]
    assert line == 28  # the objective's item line: the field itself is missing
    assert "denominator" in message


def test_a_ratio_of_a_metric_to_itself_is_refused() -> None:
    text = with_objective(CAC.replace("denominator: new_customers", "denominator: spend"))
    line, message = errors_of(text)["objectives[2].denominator"]
    assert message == "numerator and denominator must be different metrics"
    assert line == 33


def test_a_sum_kpi_with_a_numerator_is_refused() -> None:
    text = with_objective(CAC.replace("aggregation: ratio", "aggregation: sum"))
    errors = errors_of(text)
    assert "only a ratio KPI has a numerator" in errors["objectives[2].numerator"][1]
    assert "objectives[2].denominator" in errors


def test_an_unknown_aggregation_is_refused() -> None:
    text = with_objective(CAC.replace("aggregation: ratio", "aggregation: average"))
    line, message = errors_of(text)["objectives[2].aggregation"]
    assert "'sum', 'latest' or 'ratio'" in message
    assert line == 31


def test_kpi_bounds_must_be_ordered() -> None:
    text = with_objective(CAC + "    min_value: 10\n    max_value: 5\n")
    assert "max_value must be above min_value" in errors_of(text)["objectives[2].max_value"][1]


def test_the_api_command_refuses_a_ratio_without_its_numerator() -> None:
    strategy = Strategy.new("acme")
    strategy.apply(strategy.define_strategy({"name": "Acme"}, by=MARIA)[0])
    spec = document(with_objective(CAC)).objective_specs()[-1].model_dump()
    spec["numerator"] = None
    with pytest.raises(InvariantViolated) as caught:
        strategy.add_objective(spec, by=MARIA)
    assert [e.path for e in caught.value.errors] == ["numerator"]


def test_the_contract_refuses_a_ratio_spec_without_its_metrics() -> None:
    spec = document(with_objective(CAC)).objective_specs()[-1].model_dump()
    spec["denominator"] = None
    with pytest.raises(ValueError, match="denominator"):
        ObjectiveSpec.model_validate(spec)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_is_valid_and_no_cost_or_rate_is_a_summed_or_bare_level(path: Path) -> None:
    doc = load_document(path.read_text(), str(path))
    for spec in doc.objective_specs():
        if "cost" in spec.kpi or spec.kpi.startswith("cac"):
            assert spec.aggregation == "ratio", spec.objective_id
        if spec.kpi.endswith("_pct"):
            assert spec.aggregation == "latest" and spec.max_value == 100, spec.objective_id


def test_the_json_schema_file_is_the_generated_one() -> None:
    import json

    from truenorth.strategy.domain import document_json_schema

    on_disk = json.loads((EXAMPLES / "strategy.schema.json").read_text())
    assert on_disk == document_json_schema()
    objective = on_disk["$defs"]["ObjectiveDocument"]["properties"]
    assert objective["aggregation"]["enum"] == ["sum", "latest", "ratio"]
    assert {"numerator", "denominator", "min_value", "max_value"} <= objective.keys()
