"""The shipped examples stay in step with the target."""

from pathlib import Path

import yaml

from truenorth.singer.mapping import load_mapping
from truenorth.singer.target import TargetTruenorth

EXAMPLES = Path(__file__).parents[3] / "examples"


def test_meltano_example_declares_the_targets_settings_and_executable():
    project = yaml.safe_load((EXAMPLES / "meltano.yml").read_text())
    (loader,) = project["plugins"]["loaders"]
    assert loader["executable"] == "target-truenorth"
    declared = {setting["name"] for setting in loader["settings"]}
    assert declared <= set(TargetTruenorth.config_jsonschema["properties"])
    assert set(loader["config"]) <= declared


def test_example_mapping_is_valid():
    path = EXAMPLES / "singer" / "truenorth-mapping.yaml"
    mapping = load_mapping(path.read_text(), str(path))
    assert mapping.for_stream("ads_insights").campaign_ids == {
        "23851000000000001": "spring-webinar"
    }
