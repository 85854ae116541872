"""Import files: open them (gzip or not), tell their format, and turn their records into rows.

Detection is explicit: each format has a signature (CSV header columns, or the keys of a JSON
record) and the first record must match one, or the file is refused with one line saying what
it looks like. `--format` skips the detection. docs/market-import.md#detection.
"""
import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

from markets.importers import (
    CATEGORY_ALIASES,
    RejectedRow,
    gamma_csv_row_parse,
    gamma_event_parse,
    gamma_market_parse,
    own_record_parse,
    parse_or_reject,
)
from markets.platforms import kalshi_csv_row_parse, kalshi_event_parse, manifold_market_parse, predictit_market_parse


class ImportFileError(Exception):
    """A file that cannot be read at all (unknown format, broken JSON document); one line for the operator."""


def _one(parse):
    """A reader of one record that gives one row, as a reader that gives a list of rows."""
    def read(record, *, where, aliases):
        return [parse_or_reject(parse, record, where=where, aliases=aliases)]
    return read


def _gamma_object_read(record, *, where, aliases):
    # A Gamma file may mix events and bare markets: each object is read as what it is.
    if _is_gamma_market(record):
        return [parse_or_reject(gamma_market_parse, record, where=where, aliases=aliases)]
    return gamma_event_parse(record, where=where, aliases=aliases)  # an event without markets gives no row


def _own_csv_read(record, *, where, aliases):
    return parse_or_reject(own_record_parse, record, where=where, tags_separator="|", aliases=aliases)


def _csv_read(parse):
    def read(record, *, where, aliases):
        return parse_or_reject(parse, record, where=where, aliases=aliases)
    return read


def _is_gamma_market(obj):
    return "question" in obj or "outcomePrices" in obj


def _is_gamma_event(obj):
    markets = obj.get("markets")
    nested = isinstance(markets, list) and any(isinstance(m, dict) and _is_gamma_market(m) for m in markets)
    # A Kalshi market (GET /markets) has a `ticker` too, beside its `event_ticker`: it is no Gamma event.
    return ("ticker" in obj and "event_ticker" not in obj) or nested


@dataclass(frozen=True)
class Format:
    name: str  # the --format value
    label: str  # what the report calls it
    csv: bool
    matches: object  # CSV: the header columns it needs (a set); JSON: a predicate on a record
    read: object  # (record, *, where, aliases) -> a row (CSV) or a list of rows (JSON)


# In detection order: the first format whose signature a file's first record has is the file's.
# Kalshi events have a `ticker` and Manifold markets a `question`, so both come before Gamma's.
FORMATS = (
    Format("gamma-csv", "Polymarket Gamma markets CSV", True, {"question", "outcome_prices"},
           _csv_read(gamma_csv_row_parse)),
    Format("kalshi-csv", "Kalshi markets CSV", True, {"market_id", "market_title", "yes_price"},
           _csv_read(kalshi_csv_row_parse)),
    Format("own-csv", "market CSV", True, {"market_id", "title"}, _own_csv_read),
    Format("kalshi-json", "Kalshi events JSON", False, lambda o: "series_ticker" in o, kalshi_event_parse),
    Format("manifold-json", "Manifold markets JSON", False, lambda o: "outcomeType" in o,
           _one(manifold_market_parse)),
    Format("predictit-json", "PredictIt markets JSON", False, lambda o: isinstance(o.get("contracts"), list),
           predictit_market_parse),
    Format("gamma-json", "Polymarket Gamma events JSON", False, _is_gamma_event, _gamma_object_read),
    Format("gamma-markets-json", "Polymarket Gamma markets JSON", False, _is_gamma_market, _gamma_object_read),
    Format("own-json", "market JSON", False, lambda o: "market_id" in o, _one(own_record_parse)),
)
FORMATS_BY_NAME = {f.name: f for f in FORMATS}
FORMAT_LABELS = {f.name: f.label for f in FORMATS}
KNOWN = ", ".join(f.label for f in FORMATS)


def _refuse(looks_like):
    return ImportFileError(f"no rows imported: the file looks like {looks_like}, which is none of the known formats")


def _keys(obj, limit=8):
    keys = sorted(map(str, obj))
    return ", ".join(keys[:limit]) + (", ..." if len(keys) > limit else "")


def _json_format(record, forced):
    if forced is not None:
        return forced
    if isinstance(record, dict):
        found = next((f for f in FORMATS if not f.csv and f.matches(record)), None)
        if found is not None:
            return found
        raise _refuse(f"JSON objects with the keys {_keys(record)}")
    if record is None:
        raise ImportFileError("no rows imported: the file looks like an empty JSON list or file")
    raise _refuse(f"JSON holding {type(record).__name__} values")


def _json_items(document):
    """(items, where prefix) of a JSON document: a list, a wrapper such as {"events": [...]}, or one record."""
    if isinstance(document, list):
        return document, ""
    if isinstance(document, dict):
        if any(not f.csv and f.matches(document) for f in FORMATS):
            return [document], ""
        for key in ("markets", "events"):  # the project's and PredictIt's wrapper; Kalshi's
            if isinstance(document.get(key), list):
                return document[key], key
        raise _refuse(f"a JSON object with the keys {_keys(document)}")
    raise _refuse(f"a JSON {type(document).__name__}")


def _json_rows(items, *, prefix, forced, aliases):
    first = next((i for i in items if isinstance(i, dict)), None)
    if first is None and items:
        first = items[0]
    fmt = _json_format(first, forced)

    def rows():
        for index, item in enumerate(items):
            where = f"{prefix}[{index}]"
            if not isinstance(item, dict):
                yield RejectedRow(where, "", "not a JSON object")
                continue
            yield from fmt.read(item, where=where, aliases=aliases)

    return fmt.name, rows()


def _jsonl_rows(stream, *, forced, aliases):
    """(format, rows) of JSON Lines; the format is the one of the first object."""
    lines = iter(enumerate(stream, start=1))
    parsed = []
    for number, line in lines:
        if line.strip():
            try:
                parsed.append((number, json.loads(line)))
            except ValueError as exc:
                parsed.append((number, exc))
            break
    fmt = _json_format(parsed[0][1] if parsed else None, forced)

    def rows():
        with stream:
            for number, obj in parsed:
                yield from _jsonl_object_rows(number, obj, fmt, aliases)
            for number, line in lines:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    obj = exc
                yield from _jsonl_object_rows(number, obj, fmt, aliases)

    return fmt.name, rows()


def _jsonl_object_rows(number, obj, fmt, aliases):
    if isinstance(obj, ValueError):  # a line that is not JSON
        return [RejectedRow(f"line {number}", "", f"invalid JSON: {obj}")]
    if not isinstance(obj, dict):
        return [RejectedRow(f"line {number}", "", "not a JSON object")]
    return fmt.read(obj, where=f"line {number}", aliases=aliases)


def _csv_rows(stream, *, forced, aliases):
    reader = csv.reader(stream)
    header = next(reader, None)
    if not header:
        raise ImportFileError("no rows imported: the file looks like an empty CSV file")
    header = [h.strip() for h in header]
    columns = set(header)
    fmt = forced or next((f for f in FORMATS if f.csv and f.matches <= columns), None)
    if fmt is None:
        raise _refuse(f"a CSV file with the columns {_keys(header)}")

    def rows():
        end_line = reader.line_num
        with stream:
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # broken quoting: the rest of the file cannot be trusted
                    raise ImportFileError(f"CSV error after line {end_line}: {exc}") from None
                start_line, end_line = end_line + 1, reader.line_num
                where = f"line {start_line}"
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    yield RejectedRow(where, "", f"expected {len(header)} columns, got {len(values)}")
                    continue
                yield fmt.read(dict(zip(header, values, strict=False)), where=where, aliases=aliases)

    return fmt.name, rows()


def _open_text(path):
    path = Path(path)
    with path.open("rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if is_gzip else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _base_suffix(path):
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def file_rows_read(path, *, format=None, aliases=CATEGORY_ALIASES):
    """(format name, iterator of MarketRow | RejectedRow) for a file of any accepted format, gzip or not.

    CSV or JSON comes from the extension (.csv, .json, .jsonl/.ndjson, each optionally .gz) or,
    failing that, from the first character; the format from the first record's signature, or
    from `format` (a FORMATS name). `aliases` maps category labels (category_key) to the taxonomy.
    """
    forced = None
    if format is not None:
        if format not in FORMATS_BY_NAME:
            raise ImportFileError(f"unknown format {format!r}: one of {', '.join(FORMATS_BY_NAME)}")
        forced = FORMATS_BY_NAME[format]
    suffix = _base_suffix(path)
    stream = _open_text(path)
    if suffix not in (".csv", ".json", ".jsonl", ".ndjson"):
        head = stream.read(1)
        while head and head.isspace():
            head = stream.read(1)
        stream.close()
        stream = _open_text(path)
        suffix = ".json" if head in ("[", "{") else ".csv"
    if forced is not None and forced.csv != (suffix == ".csv"):
        stream.close()
        raise ImportFileError(f"--format {forced.name} reads {'CSV' if forced.csv else 'JSON'}; this file is not")
    if suffix == ".csv":
        return _csv_rows(stream, forced=forced, aliases=aliases)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_rows(stream, forced=forced, aliases=aliases)
    text = stream.read()
    stream.close()
    try:
        document = json.loads(text)
    except ValueError as exc:
        if getattr(exc, "msg", "") == "Extra data":  # JSON Lines under a .json name
            return _jsonl_rows(io.StringIO(text), forced=forced, aliases=aliases)
        raise ImportFileError(f"invalid JSON: {exc}") from None
    items, prefix = _json_items(document)
    return _json_rows(items, prefix=prefix, forced=forced, aliases=aliases)
