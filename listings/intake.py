"""Listings as feeds send them, from the API's JSON or an uploaded CSV: every row is
checked on its own; the bad ones come back with their problems, the good ones are
stored (listings.services.listings_store)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from contacts.intake import csv_parse
from listings.forms import ListingRowForm
from listings.models import ChangeVia
from listings.services import StoreResult, listings_store
from teams.models import Team

FIELD_LABELS = {
    "external_id": "external id",
    "address": "address",
    "city": "city",
    "state": "state",
    "zip_code": "zip",
    "price": "price",
    "beds": "beds",
    "baths": "baths",
    "property_type": "type",
    "status": "status",
    "photo_url": "photo URL",
    "listing_url": "listing URL",
    "listed_at": "listed at",
}
REQUIRED = tuple(name for name, f in ListingRowForm.base_fields.items() if f.required)


@dataclass(frozen=True)
class RowProblem:
    row: int  # the API: its index in the array (0 first); a CSV: its spreadsheet row
    external_id: str
    errors: tuple[tuple[str, str], ...]  # (field, message)


@dataclass
class IntakeResult:
    store: StoreResult
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.store.stored


def _row_clean(raw: object, *, strict: bool) -> tuple[dict | None, list[tuple[str, str]]]:
    if not isinstance(raw, Mapping):
        return None, [("row", "Each listing must be a JSON object.")]
    errors, data = [], {}
    for key, value in raw.items():
        if key not in ListingRowForm.base_fields:
            if strict:
                errors.append((str(key)[:100], "Not a listing field."))
            continue
        if value is None:
            continue
        if isinstance(value, bool | list | dict):
            errors.append((key, "Must be a string or a number."))
            continue
        data[key] = value
    form = ListingRowForm(data=data)
    if not form.is_valid():
        errors += [(name, " ".join(messages)) for name, messages in form.errors.items()]
    return (None, errors) if errors else (form.cleaned_data, [])


def listings_intake(
    *, team: Team, rows: Iterable[tuple[int, object]], via: str, strict: bool
) -> IntakeResult:
    """Check every (row number, row), store the good ones in one transaction (upserted
    by external id) and say what was wrong with the others. `strict` refuses unknown
    fields (the API); a CSV's other columns are simply not read."""
    ready, problems, seen = [], [], {}
    for number, raw in rows:
        values, errors = _row_clean(raw, strict=strict)
        external_id = values["external_id"] if values else _raw_external_id(raw)
        if values and external_id in seen:
            errors = [("external_id", f"The same external id as row {seen[external_id]}.")]
        if errors:
            problems.append(RowProblem(row=number, external_id=external_id, errors=tuple(errors)))
            continue
        seen[external_id] = number
        ready.append(values)
    return IntakeResult(store=listings_store(team=team, rows=ready, via=via), problems=problems)


def _raw_external_id(raw: object) -> str:
    value = raw.get("external_id") if isinstance(raw, Mapping) else None
    return str(value)[:100] if isinstance(value, str | int) else ""


# --- CSV --------------------------------------------------------------------------------

_HEADER_GUESSES = {
    **dict.fromkeys(("externalid", "id", "mls", "mlsnumber", "mlsid"), "external_id"),
    **dict.fromkeys(("listingid", "listingnumber"), "external_id"),
    **dict.fromkeys(("address", "streetaddress", "street", "address1"), "address"),
    "city": "city",
    "state": "state",
    **dict.fromkeys(("zip", "zipcode", "postalcode", "postcode"), "zip_code"),
    **dict.fromkeys(("price", "listprice", "askingprice"), "price"),
    **dict.fromkeys(("beds", "bedrooms", "bed", "br"), "beds"),
    **dict.fromkeys(("baths", "bathrooms", "bath", "ba"), "baths"),
    **dict.fromkeys(("type", "propertytype"), "property_type"),
    "status": "status",
    **dict.fromkeys(("photo", "photourl", "image", "imageurl"), "photo_url"),
    **dict.fromkeys(("url", "listingurl", "link"), "listing_url"),
    **dict.fromkeys(("listedat", "listed", "listdate", "listingdate"), "listed_at"),
}


@dataclass(frozen=True)
class CsvFile:
    columns: dict[str, str]  # field → the column title it is read from
    ignored: list[str]  # the titles of columns not read
    rows: list[dict[str, str]]  # spreadsheet row 2 first


def csv_read(*, data: bytes) -> CsvFile:
    """The file's rows as listing fields, by its column titles; a ValidationError for a
    file that cannot be read or lacks a column a listing needs."""
    header, rows = csv_parse(data=data)
    index_of, ignored = {}, []
    for index, title in enumerate(header):
        name = _HEADER_GUESSES.get(re.sub(r"[^a-z0-9]", "", title.lower()))
        if name and name not in index_of:
            index_of[name] = index
        else:
            ignored.append(title)
    missing = [FIELD_LABELS[name] for name in REQUIRED if name not in index_of]
    if missing:
        raise ValidationError(
            "The file needs a column for each of: %(missing)s (the first row names the columns).",
            params={"missing": ", ".join(missing)},
        )
    return CsvFile(
        columns={name: header[index] for name, index in index_of.items()},
        ignored=ignored,
        rows=[{name: cells[index] for name, index in index_of.items()} for cells in rows],
    )


def csv_intake(*, team: Team, data: bytes) -> tuple[CsvFile, IntakeResult]:
    """A CSV's listings stored (blank rows skipped), with each bad row's problems under
    its spreadsheet row number and column title."""
    csv_file = csv_read(data=data)
    numbered = [(n, row) for n, row in enumerate(csv_file.rows, start=2) if any(row.values())]
    result = listings_intake(team=team, rows=numbered, via=ChangeVia.CSV, strict=False)
    titled = [
        RowProblem(
            row=p.row,
            external_id=p.external_id,
            errors=tuple((csv_file.columns.get(f, FIELD_LABELS.get(f, f)), m) for f, m in p.errors),
        )
        for p in result.problems
    ]
    return csv_file, IntakeResult(store=result.store, problems=titled)
