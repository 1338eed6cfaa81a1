"""`truenorth emit metrics` reading a file: line numbers, the header, delimiters, empty files."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from truenorth.metrics.cli import FileProblem, csv_layout, emit_app, read_rows

HEADER = "campaign_id,metric,value,period_start,period_end,source\n"
ROW = "c1,leads,{value},2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,crm\n"


def write(tmp_path: Path, text: str, name: str = "rows.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rows_are_numbered_by_their_line_in_the_file_blank_lines_included(tmp_path):
    path = write(tmp_path, HEADER + "\n" + ROW.format(value=1) + "\n\n" + ROW.format(value=2))
    assert [number for number, _, _ in read_rows(path, "csv")] == [3, 6]


def test_a_quoted_multi_line_field_keeps_the_next_rows_numbers_right(tmp_path):
    quoted = 'c1,leads,1,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,"crm\nexport"\n'
    path = write(tmp_path, HEADER + quoted + ROW.format(value=2))
    assert [number for number, _, _ in read_rows(path, "csv")] == [2, 4]


def test_semicolon_separated_files_are_detected(tmp_path):
    path = write(tmp_path, HEADER.replace(",", ";") + ROW.format(value="3.5").replace(",", ";"))
    ((number, row, problem),) = list(read_rows(path, "csv"))
    assert (number, row["value"], row["source"], problem) == (2, 3.5, "crm", None)


def test_a_missing_column_is_one_error_for_the_header(tmp_path):
    path = write(tmp_path, "\n" + HEADER.replace("value,", "") + ROW.format(value=1) * 3)
    with pytest.raises(FileProblem) as caught:
        csv_layout(path)
    assert str(caught.value).startswith("line 2: the header has no column value")


def test_extra_columns_are_ignored_with_one_warning(tmp_path):
    path = write(
        tmp_path, HEADER.strip() + ",account,notes\n" + ROW.strip().format(value=1) + ",a1,x\n"
    )
    layout = csv_layout(path)
    assert layout.ignored == ["account", "notes"]
    ((_, row, _),) = list(read_rows(path, "csv", layout))
    assert "account" not in row and "notes" not in row


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.csv", "", "empty.csv is empty"),
        ("blank.csv", "\n\n", "blank.csv is empty"),
        ("header.csv", HEADER, "header.csv has a header but no rows"),
        ("empty.ndjson", "\n", "empty.ndjson is empty"),
    ],
)
def test_an_empty_file_is_an_error_before_anything_is_sent(tmp_path, name, text, message):
    path = write(tmp_path, text, name)
    result = CliRunner().invoke(emit_app, ["metrics", str(path), "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert message in result.output
