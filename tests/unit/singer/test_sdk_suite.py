"""singer-sdk's standard target tests: the target speaks the Singer protocol (streams it has
no mapping for are counted as not placed, never an error unless --strict)."""

from singer_sdk.testing import get_target_test_class

from truenorth.singer.target import TargetTruenorth

TestTargetTruenorth = get_target_test_class(
    TargetTruenorth, config={"url": "http://127.0.0.1:9", "workspace": "sdk-suite"}
)
