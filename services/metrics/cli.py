"""`truenorth emit metrics FILE`: send a CSV or NDJSON file of observations to the metrics
service, with a progress bar and a summary; exit 1 if any row was rejected."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from truenorth.client import IngestSummary, MetricsClient, TruenorthError, Unavailable
from truenorth.contract.metrics import Observation

emit_app = typer.Typer(
    help="Send events to truenorth from files (ops tools, backfills).", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

DEFAULT_URL = "http://127.0.0.1:8103"
MAX_LISTED_ERRORS = 20

Format = Literal["auto", "csv", "ndjson"]


@emit_app.callback()
def _emit() -> None:
    """Send events to truenorth from files."""


def detect_format(path: Path, fmt: str) -> Literal["csv", "ndjson"]:
    if fmt in ("csv", "ndjson"):
        return fmt  # type: ignore[return-value]
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    raise typer.BadParameter(f"cannot tell the format of {path.name}: use --format csv|ndjson")


def _csv_value(key: str, value: str) -> Any:
    if key == "value":
        try:
            return float(value)
        except ValueError:
            return value  # the service names the field and the problem
    return value


def text_encoding(encoding: str) -> str:
    """The codec to open a file with: UTF-8 accepts (and drops) a leading BOM."""
    import codecs

    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise typer.BadParameter(
            f"unknown encoding {encoding!r}", param_hint="--encoding"
        ) from None
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def encoding_problem(path: Path, encoding: str) -> str | None:
    """Where the file stops being `encoding` text, in words naming the line, or None."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode(encoding if number > 1 else text_encoding(encoding))
            except UnicodeDecodeError as exc:
                hint = (
                    " (a spreadsheet export? try --encoding cp1252 or --encoding latin-1)"
                    if text_encoding(encoding) == "utf-8-sig"
                    else ""
                )
                return (
                    f"line {number} is not {encoding} text (byte 0x{raw[exc.start]:02x} at "
                    f"column {exc.start + 1}){hint}"
                )
    return None


OBSERVATION_FIELDS = tuple(Observation.model_fields)
REQUIRED_COLUMNS = tuple(
    name
    for name, info in Observation.model_fields.items()
    if info.is_required() and name != "observation_id"  # derived when absent
)


class FileProblem(Exception):
    """The file as a whole cannot be sent (empty, header without a required column)."""


@dataclass(frozen=True)
class CsvLayout:
    delimiter: str
    header_line: int
    columns: tuple[str, ...]

    @property
    def ignored(self) -> list[str]:
        return [c for c in self.columns if c and c not in OBSERVATION_FIELDS]


def csv_layout(path: Path, encoding: str = "utf-8") -> CsvLayout:
    """Delimiter (`,` `;` or tab, from the header line) and columns; FileProblem when the file
    has no header or the header lacks a required column (reported once, not per row)."""
    with path.open(newline="", encoding=text_encoding(encoding)) as handle:
        numbered = ((n, t) for n, t in enumerate(handle, start=1) if t.strip())
        number, text = next(numbered, (0, ""))
    if not number:
        raise FileProblem(f"{path.name} is empty: no header and no rows")
    try:
        delimiter = csv.Sniffer().sniff(text, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    columns = tuple(c.strip() for c in next(csv.reader([text], delimiter=delimiter)))
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileProblem(
            f"line {number}: the header has no column {', '.join(missing)} "
            f"(it has: {', '.join(columns)})"
        )
    return CsvLayout(delimiter, number, columns)


def read_rows(
    path: Path,
    fmt: Literal["csv", "ndjson"],
    layout: CsvLayout | None = None,
    encoding: str = "utf-8",
) -> Iterator[tuple[int, Any, str | None]]:
    """(line number in the file, row, local error) for every data row; blank lines skipped."""
    if fmt == "csv":
        yield from _csv_rows(path, layout or csv_layout(path, encoding), encoding)
        return
    with path.open(encoding=text_encoding(encoding)) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                yield number, None, f"not valid JSON: {exc}"
                continue
            if not isinstance(row, dict):
                yield number, None, "a line must be one JSON object"
                continue
            yield number, row, None


def _csv_rows(
    path: Path, layout: CsvLayout, encoding: str = "utf-8"
) -> Iterator[tuple[int, Any, str | None]]:
    keep = [(i, c) for i, c in enumerate(layout.columns) if c in OBSERVATION_FIELDS]
    with path.open(newline="", encoding=text_encoding(encoding)) as handle:
        reader = csv.reader(handle, delimiter=layout.delimiter)
        for fields in reader:
            # a quoted field may span lines: the record starts where its first line is
            start = reader.line_num - sum(f.count("\n") for f in fields)
            if start <= layout.header_line or not any(f.strip() for f in fields):
                continue
            if len(fields) > len(layout.columns):
                yield (
                    start,
                    None,
                    (f"{len(fields)} fields but the header has {len(layout.columns)} columns"),
                )
                continue
            row = {
                column: _csv_value(column, fields[i].strip())
                for i, column in keep
                if i < len(fields) and fields[i].strip() != ""
            }
            yield start, row, None


def count_rows(path: Path, fmt: str) -> int:
    """For the progress bar (a quoted multi-line CSV field makes it an over-estimate)."""
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(0, lines - 1) if fmt == "csv" else lines


@emit_app.command("metrics")
def metrics(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV (header row) or NDJSON of observations",
        ),
    ],
    url: Annotated[
        str, typer.Option(help="metrics service base URL", envvar="TRUENORTH_METRICS_URL")
    ] = DEFAULT_URL,
    workspace: Annotated[
        str | None, typer.Option(help="workspace (default: the service's TRUENORTH_WORKSPACE)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000, help="rows per request")] = 1000,
    fmt: Annotated[str, typer.Option("--format", help="auto | csv | ndjson")] = "auto",
    gzip: Annotated[bool, typer.Option(help="gzip request bodies")] = False,
    encoding: Annotated[
        str, typer.Option(help="the file's text encoding (UTF-8 with or without a BOM by default)")
    ] = "utf-8",
) -> None:
    """Send metric observations from FILE. Columns/fields: observation_id (optional: derived
    from campaign, metric, period and source), campaign_id, metric, value, period_start,
    period_end, source. Rows are batched and retried with the same ids, so re-running the same
    file is safe: already stored rows come back as duplicates."""
    kind = detect_format(file, fmt)
    problem = encoding_problem(file, encoding)
    if problem is not None:
        err.print(f"[red]error:[/red] {file.name}: {problem}; nothing was sent")
        raise typer.Exit(2)
    layout = _checked_layout(file, kind, encoding)
    total_rows = count_rows(file, kind)
    lines: list[int] = []
    local_errors: list[tuple[int, str]] = []

    def rows() -> Iterator[Any]:
        for number, row, row_problem in read_rows(file, kind, layout, encoding):
            if row_problem is not None:
                local_errors.append((number, row_problem))
                progress.advance(task)
                continue
            lines.append(number)
            yield row

    summary = IngestSummary()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "accepted {task.fields[accepted]} · dup {task.fields[duplicates]} · "
            "restated {task.fields[restated]} · rejected {task.fields[rejected]}"
        ),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )

    def on_batch(batch: IngestSummary, total: IngestSummary) -> None:
        progress.update(
            task,
            advance=batch.rows,
            accepted=total.accepted,
            duplicates=total.duplicates,
            restated=total.restated,
            rejected=total.rejected + len(local_errors),
        )

    failure: TruenorthError | None = None
    with (
        progress,
        MetricsClient(url, workspace=workspace, batch_size=batch_size, gzip=gzip) as client,
    ):
        task = progress.add_task(
            file.name, total=total_rows, accepted=0, duplicates=0, restated=0, rejected=0
        )
        try:
            summary = client.send(rows(), raise_on_rejected=False, on_batch=on_batch)
        except TruenorthError as exc:
            failure = exc
    _print_summary(summary, local_errors, lines)
    if failure is not None:
        sent = summary.rows
        where = f"line {lines[sent]}" if sent < len(lines) else "the end of the file"
        err.print(f"[red]stopped at {where}:[/red] {escape(failure.message)}", highlight=False)
        if isinstance(failure, Unavailable):
            err.print("the service is unavailable; re-running the same file is safe")
        raise typer.Exit(2)
    if summary.rejected or local_errors:
        raise typer.Exit(1)


def _checked_layout(
    file: Path, kind: Literal["csv", "ndjson"], encoding: str = "utf-8"
) -> CsvLayout | None:
    """Problems of the file as a whole, once, before any row is sent."""
    try:
        if kind == "ndjson":
            if count_rows(file, kind) == 0:
                raise FileProblem(f"{file.name} is empty: no rows")
            return None
        layout = csv_layout(file, encoding)
        if count_rows(file, kind) == 0:
            raise FileProblem(f"{file.name} has a header but no rows")
    except FileProblem as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    if layout.ignored:
        err.print(
            f"[yellow]warning:[/yellow] ignoring column(s) {escape(', '.join(layout.ignored))}: "
            f"not observation fields ({', '.join(OBSERVATION_FIELDS)})",
            highlight=False,
        )
    return layout


def _print_summary(
    summary: IngestSummary, local_errors: list[tuple[int, str]], lines: list[int]
) -> None:
    table = Table(title="metrics sent", show_header=True)
    for column in ("accepted", "duplicates", "restated", "rejected"):
        table.add_column(column, justify="right")
    rejected = summary.rejected + len(local_errors)
    table.add_row(
        str(summary.accepted),
        str(summary.duplicates),
        str(summary.restated),
        f"[red]{rejected}[/red]" if rejected else "0",
    )
    console.print(table)
    problems = [(number, message) for number, message in local_errors]
    for error in summary.errors:
        index = int(error["index"])
        number = lines[index] if index < len(lines) else -1
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in error.get("errors", []))
        problems.append((number, detail))
    problems.sort()
    for number, message in problems[:MAX_LISTED_ERRORS]:
        err.print(f"[red]line {number}:[/red] {escape(message)}", highlight=False)
    if len(problems) > MAX_LISTED_ERRORS:
        err.print(f"… and {len(problems) - MAX_LISTED_ERRORS} more rejected rows")


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("COLUMNS", "120")
    emit_app()
