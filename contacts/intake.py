"""Lead intake: every door a lead comes in by (API, lead-source webhook, CSV import).

A lead is stored before anyone is told it arrived, and routing starts only
after that commit (the contact's announcement → routing queues it → a router
runs after commit). A lead that matches a contact the team already has is
attached to it as a new inquiry and announced (routing logs it and decides
whether it stays with its agent). Idempotency keys, rejected payloads and the
pruning of both live here too.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from contacts import signals
from contacts.buckets import contacts_place, team_buckets_named, unknown_buckets_message
from contacts.models import (
    Bucket,
    BucketVia,
    Contact,
    ContactType,
    ExternalLead,
    IdempotencyKey,
    IdempotencyState,
    ImportJob,
    ImportStatus,
    LeadSource,
    RejectedPayload,
    WebhookDelivery,
)
from contacts.ratelimit import ratelimit_prune
from contacts.selectors_buckets import team_wide_buckets_by_name
from contacts.services import (
    contact_create,
    contacts_bulk_create,
    tags_clean,
    tags_resolve,
    timeline_add,
)
from teams.models import Membership, Team

logger = logging.getLogger(__name__)


@contextmanager
def stored_first(what: str) -> Iterator[None]:
    """An atomic block whose commit is the promise made to the sender.

    Work started on commit (routing: django-q2 runs it inline in sync mode, or
    enqueues it) can still fail after the rows are stored. That failure is
    already recorded where it belongs (routing marks the contact failed and
    retries it); here it is logged with its traceback and the caller still gets
    its answer, because the lead is safe. A failure before the commit is raised
    as usual.
    """
    committed = []
    try:
        with transaction.atomic():
            # Registered first, so it runs before any callback that might raise.
            transaction.on_commit(lambda: committed.append(True))
            yield
    except Exception:
        if not committed:
            raise
        logger.exception("%s committed; a task started on commit failed", what)


# --- normalising ------------------------------------------------------------------


def normalize_email(value: str) -> str:
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """Digits only, the last ten: "+1 (512) 555-0100" and "512.555.0100" are one number."""
    return re.sub(r"\D", "", value)[-10:]


def normalize_name(value: str) -> str:
    return " ".join(value.split()).lower()


# --- storing a lead ---------------------------------------------------------------

CONTACT_INFO_FIELDS = ("first_name", "last_name", "email", "phone")
# Blank fields of an existing contact that a repeat inquiry may fill in; nothing is overwritten.
FILLABLE_FIELDS = (*CONTACT_INFO_FIELDS, "city", "state", "zip_code", "contact_type")


@dataclass(frozen=True)
class Lead:
    """A validated lead, whatever door it came in by: Contact fields, tags and a message."""

    fields: dict
    tags: tuple[str, ...] = ()
    message: str = ""
    buckets: tuple[str, ...] = ()  # team-wide bucket names to place the contact in

    @property
    def source(self) -> str:
        return self.fields.get("source", "")


@dataclass(frozen=True)
class IntakeResult:
    contact: Contact
    deduplicated: bool
    matched_by: str = ""
    tags: tuple[str, ...] = ()  # a new contact's tag names, as stored


def lead_intake(
    *,
    team: Team,
    lead: Lead,
    source: LeadSource | None = None,
    external_id: str = "",
) -> IntakeResult:
    """Store the lead, or attach it to the contact it duplicates, and commit.

    Concurrent leads with the same email (or phone and name, or source lead id)
    are serialised by a transaction-scoped lock, so ten identical posts make one
    contact and nine inquiries on it. One transaction, no savepoints: a new lead
    is the lock, one dedup query, and its inserts.
    """
    fields = {**lead.fields, "email": normalize_email(lead.fields.get("email", ""))}
    email, phone = fields["email"], normalize_phone(fields.get("phone", ""))
    name = normalize_name(f"{fields.get('first_name', '')} {fields.get('last_name', '')}")
    tags: tuple[str, ...] = ()
    with stored_first("Lead"):
        # Named buckets are checked before anything is stored: an unknown one refuses
        # the whole lead. A lead without buckets costs no query here.
        buckets = team_buckets_named(team_id=team.pk, names=lead.buckets) if lead.buckets else []
        _dedup_lock(_dedup_keys(team.pk, email, phone, name, source, external_id))
        match = _find_match(team, fields, source, external_id)
        if match is not None:
            contact, matched_by = match
            inquiry_attach(contact=contact, lead=lead, matched_by=matched_by)
        else:
            matched_by = ""
            inquiry = (
                {
                    "kind": "inquiry",
                    "message": f"Inquiry from {lead.source or 'an unnamed source'}.",
                    "text": lead.message[:2000],
                }
                if lead.message
                else None
            )
            contact = contact_create(
                team=team, tags=lead.tags, events=[inquiry] if inquiry else (), **fields
            )
            tags = tags_clean(lead.tags)
        if source is not None and external_id and matched_by != "source lead id":
            ExternalLead.objects.create(source=source, external_id=external_id, contact=contact)
        # A repeat lead places the contact it matched as well (lead pools route it).
        for bucket in buckets:
            contacts_place(bucket=bucket, contacts=[contact], via=BucketVia.API, actor=None)
    return IntakeResult(
        contact=contact, deduplicated=match is not None, matched_by=matched_by, tags=tags
    )


def _dedup_keys(
    team_id: int,
    email: str,
    phone: str,
    name: str,
    source: LeadSource | None,
    external_id: str,
) -> list[str]:
    keys = []
    if email:
        keys.append(f"{team_id}:email:{email}")
    if phone and name:
        keys.append(f"{team_id}:phone:{phone}:{name}")
    if source is not None and external_id:
        keys.append(f"source:{source.pk}:{external_id}")
    return keys


def _dedup_lock(keys: list[str]) -> None:
    """Hold a lock per dedup key until commit.

    PostgreSQL: transaction-scoped advisory locks, all taken by one statement, in a
    fixed order (its select list is evaluated left to right) so two leads sharing keys
    cannot deadlock. It must be a statement of its own, before the dedup query: that
    query's snapshot is taken when it starts, so it sees whatever the lock's previous
    holder committed. SQLite: every transaction here begins IMMEDIATE (settings), which
    already serialises writers, so there is nothing to add.
    """
    if connection.vendor != "postgresql" or not keys:
        return
    lock_ids = sorted(
        {int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "big", signed=True) for k in keys}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(["pg_advisory_xact_lock(%s)"] * len(lock_ids)), lock_ids
        )


# The dedup query's ranks, best first.
_BY_SOURCE_ID, _BY_EMAIL, _BY_NAME = 0, 1, 2
NAMESAKES_LOOKED_AT = 200


def _find_match(
    team: Team, fields: dict, source: LeadSource | None, external_id: str
) -> tuple[Contact, str] | None:
    """The team's oldest contact this lead duplicates, and how it matched, in one query.

    Candidates are ranked: the contact the source's lead id became, then the oldest
    with the email, then namesakes (oldest first) whose phone is the lead's once
    normalised, which is checked here; only the first NAMESAKES_LOOKED_AT are looked at.
    """
    email = fields["email"]
    phone = normalize_phone(fields.get("phone", ""))
    first, last = fields.get("first_name", "").strip(), fields.get("last_name", "").strip()
    ranks, wanted = [], Q()
    if source is not None and external_id:
        known = ExternalLead.objects.filter(source=source, external_id=external_id)
        by_id = Q(pk__in=known.values("contact_id"))
        ranks.append(When(by_id, then=Value(_BY_SOURCE_ID)))
        wanted |= by_id
    if email:
        by_email = Q(team=team, email__iexact=email)
        ranks.append(When(by_email, then=Value(_BY_EMAIL)))
        wanted |= by_email
    if phone and (first or last):
        wanted |= Q(team=team, first_name__iexact=first, last_name__iexact=last) & ~Q(phone="")
    if not wanted:
        return None
    candidates = (
        Contact.objects.filter(wanted)
        .annotate(rank=Case(*ranks, default=Value(_BY_NAME)))
        .order_by("rank", "created_at", "id")[:NAMESAKES_LOOKED_AT]
    )
    for candidate in candidates:
        if candidate.rank == _BY_SOURCE_ID:
            return candidate, "source lead id"
        if candidate.rank == _BY_EMAIL:
            return candidate, "email"
        if normalize_phone(candidate.phone) == phone:
            return candidate, "phone and name"
    return None


def inquiry_attach(*, contact: Contact, lead: Lead, matched_by: str) -> None:
    """A repeat lead: blank details filled in, a new inquiry on the timeline, announced."""
    source = lead.source or "an unnamed source"
    filled = [
        name
        for name in FILLABLE_FIELDS
        if not getattr(contact, name) and lead.fields.get(name) not in (None, "")
    ]
    for name in filled:
        setattr(contact, name, lead.fields[name])
    if filled:
        contact.save(update_fields=[*filled, "updated_at"])
    timeline_add(
        contact=contact,
        kind="inquiry",
        message=f"New inquiry from {source}.",
        matched_by=matched_by,
        text=lead.message[:2000],
        filled=filled,
    )
    signals.inquiry_received.send(
        sender=Contact, contact=contact, source=source, matched_by=matched_by
    )


# --- idempotency ------------------------------------------------------------------


class IdempotencyInFlight(Exception):
    """The first request with this key has not finished."""


class IdempotencyMismatch(Exception):
    """The key was used before with another request."""


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict


def request_fingerprint(*, path: str, data: object) -> str:
    """The same request whatever its JSON key order or whitespace."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def idempotency_begin(
    *, team: Team, key: str, fingerprint: str, now: datetime | None = None
) -> StoredResponse | None:
    """Claim the key (committed at once, before any work), or say why not.

    None: go ahead. A StoredResponse: replay it. Raises IdempotencyMismatch for
    another request under the same key, IdempotencyInFlight while the first runs.
    One statement to claim a new key (an insert that does nothing when the key is
    taken), one more to read a taken one.
    """
    now = now or timezone.now()
    if _idempotency_claim(team=team, key=key, fingerprint=fingerprint, now=now):
        return None
    row = IdempotencyKey.objects.filter(team=team, key=key).first()
    if row is None:  # the first request failed and released the key a moment ago
        raise IdempotencyInFlight
    if row.fingerprint != fingerprint:
        raise IdempotencyMismatch
    if row.state == IdempotencyState.DONE:
        return StoredResponse(status=row.response_status, body=row.response_body)
    # A request that died mid-flight (process killed) leaves its key behind: take it over.
    stale = now - timedelta(seconds=settings.INTAKE_IDEMPOTENCY_IN_FLIGHT_SECONDS)
    taken = IdempotencyKey.objects.filter(
        pk=row.pk, state=IdempotencyState.IN_FLIGHT, created_at__lt=stale
    ).update(created_at=now)
    if taken:
        return None
    raise IdempotencyInFlight


def _idempotency_claim(*, team: Team, key: str, fingerprint: str, now: datetime) -> bool:
    """Insert the key unless the team has it already: True if this request inserted it."""
    return _insert_unless_present(
        IdempotencyKey,
        conflict=("team_id", "key"),
        team_id=team.pk,
        key=key,
        fingerprint=fingerprint,
        state=IdempotencyState.IN_FLIGHT.value,
        created_at=now,
    )


def _insert_unless_present(model, *, conflict: tuple[str, ...], **values) -> bool:
    """One INSERT that does nothing when a row with the same `conflict` columns exists
    (their unique constraint): True if it inserted. A conflict raises no error, so no
    transaction or savepoint is needed around it. Every column is given (no defaults)."""
    meta = model._meta
    q = connection.ops.quote_name
    fields = [meta.get_field(name) for name in values]
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    on = ", ".join(q(meta.get_field(name).column) for name in conflict)
    sql = (
        f"INSERT INTO {q(meta.db_table)} ({', '.join(q(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({on}) DO NOTHING RETURNING {q(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def idempotency_finish(*, team: Team, key: str, status: int, body: dict) -> None:
    IdempotencyKey.objects.filter(team=team, key=key).update(
        state=IdempotencyState.DONE,
        response_status=status,
        response_body=body,
        completed_at=timezone.now(),
    )


def idempotency_release(*, team: Team, key: str) -> None:
    """The request failed before storing anything: a retry with the key may run again."""
    IdempotencyKey.objects.filter(team=team, key=key, state=IdempotencyState.IN_FLIGHT).delete()


# --- webhooks ---------------------------------------------------------------------

SIGNATURE_HEADER = "X-Switchboard-Signature"
SIGNATURE_FORMAT = (
    't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." followed by the raw body, '
    "with the source's secret>"
)
LEGACY_SIGNATURE_SCHEME = "sha256="  # the raw body alone, with no timestamp: refused
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureRefused(Exception):
    """The signature does not prove the source sent this body just now; the message
    says why, for the sender."""


@dataclass(frozen=True)
class VerifiedSignature:
    timestamp: int
    digest: str  # the v1 that matched: the same whenever this exact request is sent again


def _signature_digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    """The X-Switchboard-Signature header a source sends with `body` at `timestamp`."""
    return f"t={timestamp},v1={_signature_digest(secret, timestamp, body)}"


def webhook_signature_verify(
    *, source: LeadSource, body: bytes, header: str | None, now: datetime | None = None
) -> VerifiedSignature:
    """Check `t=<unix seconds>,v1=<hex>` against the raw body, or raise SignatureRefused.

    The HMAC covers the timestamp, so a captured request cannot be sent later under a
    new one. Several v1 values may be sent (a sender moving to a new secret signs with
    both) and other schemes are ignored. The age is checked after the HMAC, so only a
    holder of the secret learns that a clock is off.
    """
    if not header or not header.strip():
        raise SignatureRefused(f"Missing {SIGNATURE_HEADER}: send {SIGNATURE_FORMAT}.")
    if header.strip().startswith(LEGACY_SIGNATURE_SCHEME):
        raise SignatureRefused(
            f"{SIGNATURE_HEADER}: sha256=… (no timestamp) is no longer accepted; "
            f"send {SIGNATURE_FORMAT}."
        )
    pairs = [item.strip().partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in pairs if key == "t"]
    if len(stamps) != 1 or not _TIMESTAMP.fullmatch(stamps[0]):
        raise SignatureRefused(
            f"{SIGNATURE_HEADER} needs one timestamp, t=<unix seconds>: send {SIGNATURE_FORMAT}."
        )
    timestamp = int(stamps[0])
    signatures = [value.encode() for key, _, value in pairs if key == "v1"]
    if not signatures:
        raise SignatureRefused(f"{SIGNATURE_HEADER} has no v1= signature: send {SIGNATURE_FORMAT}.")
    expected = _signature_digest(source.secret, timestamp, body)
    if not any(hmac.compare_digest(expected.encode(), signature) for signature in signatures):
        raise SignatureRefused(
            "Bad signature: no v1 matches this body and timestamp with this source's secret."
        )
    tolerance = settings.WEBHOOK_TOLERANCE_SECONDS
    if abs((now or timezone.now()).timestamp() - timestamp) > tolerance:
        raise SignatureRefused(
            f"The signature timestamp is outside the {tolerance}-second tolerance: sign each "
            "delivery with the current time, and check the sender's clock."
        )
    return VerifiedSignature(timestamp=timestamp, digest=expected)


def webhook_delivery_claim(
    *, source: LeadSource, signature: VerifiedSignature, now: datetime | None = None
) -> bool:
    """Remember an accepted signature, in one statement: False when it was accepted
    before, i.e. this is the same signed request again (a replay)."""
    return _insert_unless_present(
        WebhookDelivery,
        conflict=("source_id", "digest"),
        source_id=source.pk,
        digest=signature.digest,
        signed_at=datetime.fromtimestamp(signature.timestamp, tz=UTC),
        received_at=now or timezone.now(),
    )


# --- rejected payloads ------------------------------------------------------------


def _clean_text(value: str) -> str:
    # PostgreSQL text and jsonb refuse NUL characters.
    return value.replace("\x00", "\ufffd")


def rejected_payload_record(
    *,
    endpoint: str,
    status: int,
    reason: str,
    body: bytes,
    errors: list[dict] | tuple = (),
    content_type: str = "",
    remote_addr: str = "",
    team: Team | None = None,
    source: LeadSource | None = None,
) -> RejectedPayload:
    """Keep a turned-away request for inspection: reason, errors and the start of its body."""
    cap = settings.INTAKE_REJECTED_BODY_BYTES
    clean_errors = [
        {k: _clean_text(str(v))[:500] for k, v in error.items()} for error in list(errors)[:50]
    ]
    return RejectedPayload.objects.create(
        team=team,
        source=source,
        endpoint=_clean_text(endpoint)[:255],
        status=status,
        reason=_clean_text(reason)[:255],
        errors=clean_errors,
        content_type=_clean_text(content_type)[:255],
        remote_addr=remote_addr or None,
        body=_clean_text(body[:cap].decode("utf-8", errors="replace")),
        body_size=len(body),
    )


# --- pruning (django-q2 schedule "intake-prune", hourly) ----------------------------


def intake_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Idempotency keys past their keep time, old rejected payloads, webhook signatures
    too old to be accepted again, and rate-limit windows."""
    now = now or timezone.now()
    keys_before = now - timedelta(hours=max(settings.INTAKE_IDEMPOTENCY_KEEP_HOURS, 24))
    rejected_before = now - timedelta(days=settings.INTAKE_REJECTED_KEEP_DAYS)
    # A minute past the window: a request whose timestamp was checked just before this
    # prune still finds the signature it repeats.
    signed_before = now - timedelta(seconds=settings.WEBHOOK_TOLERANCE_SECONDS + 60)
    keys, _ = IdempotencyKey.objects.filter(created_at__lt=keys_before).delete()
    rejected, _ = RejectedPayload.objects.filter(created_at__lt=rejected_before).delete()
    deliveries, _ = WebhookDelivery.objects.filter(signed_at__lt=signed_before).delete()
    return {
        "idempotency_keys": keys,
        "rejected_payloads": rejected,
        "webhook_deliveries": deliveries,
        "rate_limit_windows": ratelimit_prune(now=now.timestamp()),
    }


# --- CSV import -------------------------------------------------------------------

IMPORT_FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "email": "Email",
    "phone": "Phone",
    "source": "Source",
    "contact_type": "Type",
    "city": "City",
    "state": "State",
    "zip_code": "ZIP code",
    "price_min": "Price from",
    "price_max": "Price to",
    "tags": "Tags",
    "segment": "Segment",
    "buckets": "Buckets",
}
_HEADER_GUESSES = {
    "firstname": "first_name",
    "first": "first_name",
    "givenname": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "name": "full_name",
    "fullname": "full_name",
    "email": "email",
    "emailaddress": "email",
    "phone": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "cell": "phone",
    "source": "source",
    "leadsource": "source",
    "type": "contact_type",
    "contacttype": "contact_type",
    "city": "city",
    "state": "state",
    "zip": "zip_code",
    "zipcode": "zip_code",
    "postalcode": "zip_code",
    "pricemin": "price_min",
    "minprice": "price_min",
    "pricefrom": "price_min",
    "pricemax": "price_max",
    "maxprice": "price_max",
    "priceto": "price_max",
    "tags": "tags",
    "segment": "segment",
    "bucket": "buckets",
    "buckets": "buckets",
}


def import_guess_mapping(header: list[str]) -> dict[str, str]:
    """Column index → field for the headers we recognise, each field once."""
    mapping, taken = {}, set()
    for index, title in enumerate(header):
        guess = _HEADER_GUESSES.get(re.sub(r"[^a-z]", "", title.lower()))
        if guess and guess not in taken:
            mapping[str(index)] = guess
            taken.add(guess)
    return mapping


def csv_parse(*, data: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and rows of an uploaded CSV (UTF-8, or Windows-1252 as Excel writes it)."""
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise ValidationError(
            f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    text = text.replace("\x00", "")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        records = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise ValidationError(f"This is not a readable CSV file: {exc}.") from exc
    # Blank rows stay, so row numbers match the spreadsheet; the check skips them.
    while records and not any(cell.strip() for cell in records[-1]):
        records.pop()
    if len(records) < 2:
        raise ValidationError("The file needs a header row and at least one contact.")
    header = [title.strip() or f"Column {i + 1}" for i, title in enumerate(records[0])]
    rows = records[1:]
    if len(rows) > settings.IMPORT_MAX_ROWS:
        raise ValidationError(f"At most {settings.IMPORT_MAX_ROWS} contacts per file.")
    width = len(header)
    return header, [(row + [""] * width)[:width] for row in rows]


def import_job_create(*, actor: Membership, filename: str, data: bytes) -> ImportJob:
    header, rows = csv_parse(data=data)
    return ImportJob.objects.create(
        team_id=actor.team_id,
        created_by=actor,
        filename=filename[:255],
        header=header,
        rows=rows,
        mapping=import_guess_mapping(header),
    )


@transaction.atomic
def import_job_map(
    *,
    job: ImportJob,
    mapping: dict[str, str],
    default_source: str,
    assign_to: Membership | None,
) -> ImportJob:
    """Save the column mapping; the rows are checked against it on every view of the job."""
    if job.status == ImportStatus.IMPORTED:
        raise ValidationError("This file was imported already.")
    if assign_to is not None and assign_to.team_id != job.team_id:
        raise ValidationError("That agent belongs to another team.")
    job.mapping = {k: v for k, v in mapping.items() if v}
    job.default_source = default_source.strip() or "CSV import"
    job.assign_to = assign_to
    job.status = ImportStatus.MAPPED
    job.save(update_fields=["mapping", "default_source", "assign_to", "status"])
    return job


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    field: str
    message: str


@dataclass
class ImportCheck:
    ready: list[tuple[int, dict, list[str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    buckets: dict[int, list[Bucket]] = field(default_factory=dict)  # ready row → its buckets

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})


_CONTACT_TYPES = {
    **{value: value for value in ContactType.values},
    **{label.lower(): value for value, label in ContactType.choices},
}


def _import_row(cells: list[str], mapping: dict[str, str], default_source: str):
    """One row's Contact fields, tags and errors as (field label, message) pairs."""
    values = {fieldname: cells[int(index)].strip() for index, fieldname in mapping.items()}
    fields, errors = {}, []
    full = values.pop("full_name", "")
    if full:
        first, _, last = full.partition(" ")
        fields.update(first_name=first, last_name=last.strip())
    for name in ("first_name", "last_name", "phone", "city", "state", "zip_code", "segment"):
        if values.get(name):
            fields[name] = values[name]
    fields["email"] = normalize_email(values.get("email", ""))
    fields["source"] = values.get("source") or default_source
    kind = values.get("contact_type", "")
    if kind:
        if kind.lower() in _CONTACT_TYPES:
            fields["contact_type"] = _CONTACT_TYPES[kind.lower()]
        else:
            errors.append(
                ("contact_type", f"“{kind}” is not one of buyer, seller, renter, investor.")
            )
    for name in ("price_min", "price_max"):
        raw = re.sub(r"[\s$,]", "", values.get(name, ""))
        if raw:
            try:
                fields[name] = Decimal(raw).quantize(Decimal(1))
            except InvalidOperation:
                errors.append((name, f"“{values[name]}” is not a whole number."))
    if not fields["email"] and not fields.get("phone"):
        errors.append(("email", "Needs an email or a phone number."))
    if (
        fields.get("price_min")
        and fields.get("price_max")
        and fields["price_min"] > fields["price_max"]
    ):
        errors.append(("price_max", "Must not be below the price from."))
    tags = [t.strip()[:60] for t in re.split(r"[,;]", values.get("tags", "")) if t.strip()]
    try:
        Contact(**fields).full_clean(
            exclude=["team"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        errors += [(name, " ".join(msgs)) for name, msgs in exc.message_dict.items()]
    return fields, tags, errors


def import_check(*, job: ImportJob) -> ImportCheck:
    """Every row against the mapping: ready, in error, or a contact the team already has."""
    check = ImportCheck()
    header_of = {fieldname: job.header[int(index)] for index, fieldname in job.mapping.items()}
    known_emails, known_phones = _team_contact_index(job.team_id)
    seen_emails, seen_phones = {}, {}
    bucket_column = next((int(i) for i, name in job.mapping.items() if name == "buckets"), None)
    team_buckets = team_wide_buckets_by_name(job.team_id) if bucket_column is not None else {}
    for offset, cells in enumerate(job.rows):
        row = offset + 2
        if not any(cell.strip() for cell in cells):
            continue
        fields, tags, errors = _import_row(cells, job.mapping, job.default_source)
        names = _names_split(cells[bucket_column]) if bucket_column is not None else []
        unknown = [name for name in names if name.casefold() not in team_buckets]
        if unknown:
            errors.append(("buckets", unknown_buckets_message(unknown)))
        for name, message in errors:
            label = header_of.get(name) or IMPORT_FIELDS.get(name) or name.replace("_", " ")
            check.errors.append(RowError(row=row, field=label, message=message))
        if errors:
            continue
        email, phone = fields["email"], normalize_phone(fields.get("phone", ""))
        name_key = normalize_name(f"{fields.get('first_name', '')} {fields.get('last_name', '')}")
        phone_key = (phone, name_key) if phone and name_key else None
        if email and email in known_emails:
            check.duplicates.append((row, f"same email as contact #{known_emails[email]}"))
        elif phone_key and phone_key in known_phones:
            check.duplicates.append(
                (row, f"same phone and name as contact #{known_phones[phone_key]}")
            )
        elif email and email in seen_emails:
            check.duplicates.append((row, f"same email as row {seen_emails[email]}"))
        elif phone_key and phone_key in seen_phones:
            check.duplicates.append((row, f"same phone and name as row {seen_phones[phone_key]}"))
        else:
            check.ready.append((row, fields, tags))
            if names:
                check.buckets[row] = list(dict.fromkeys(team_buckets[n.casefold()] for n in names))
            if email:
                seen_emails[email] = row
            if phone_key:
                seen_phones[phone_key] = row
    return check


def _team_contact_index(team_id: int) -> tuple[dict, dict]:
    """The team's contacts by normalized email and by (phone, name), in one pass."""
    emails, phones = {}, {}
    rows = (
        Contact.objects.filter(team_id=team_id)
        .order_by("-created_at", "-id")
        .values_list("id", "email", "phone", "first_name", "last_name")
    )
    for contact_id, email, phone, first, last in rows.iterator(chunk_size=2000):
        if email:
            emails[normalize_email(email)] = contact_id
        name_key = normalize_name(f"{first} {last}")
        if phone and name_key:
            phones[(normalize_phone(phone), name_key)] = contact_id
    return emails, phones


def import_run(*, actor: Membership, job: ImportJob) -> ImportJob:
    """Create the ready rows once, in a few statements whatever their number. They are
    routed like any other contact, or given straight to the job's agent (not routed)."""
    with stored_first("Import"):
        claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.MAPPED).update(
            status=ImportStatus.IMPORTED, imported_at=timezone.now()
        )
        if not claimed:
            raise ValidationError("This file was imported already, or its columns are not mapped.")
        check = import_check(job=job)
        rows = [fields for _, fields, _ in check.ready]
        # Routing runs after commit, so it sees the tags added here.
        contacts = contacts_bulk_create(
            team=job.team, rows=rows, assign_to=job.assign_to, actor=actor
        )
        _import_tags(job.team, contacts, [tags for _, _, tags in check.ready])
        _import_buckets(contacts, [check.buckets.get(row, []) for row, _, _ in check.ready])
        job.status = ImportStatus.IMPORTED
        job.created_count = len(contacts)
        job.skipped_count = check.error_rows + len(check.duplicates)
        job.save(update_fields=["created_count", "skipped_count"])
    return job


def _names_split(cell: str) -> list[str]:
    """Names separated by ";" or ",", each once, blanks dropped."""
    return list(dict.fromkeys(n.strip() for n in re.split(r"[,;]", cell) if n.strip()))


def _import_buckets(contacts: list[Contact], bucket_lists: list[list[Bucket]]) -> None:
    """Place the imported contacts in their rows' buckets: one placement per bucket."""
    by_bucket: dict[int, tuple[Bucket, list[Contact]]] = {}
    for contact, buckets in zip(contacts, bucket_lists, strict=True):
        for bucket in buckets:
            by_bucket.setdefault(bucket.pk, (bucket, []))[1].append(contact)
    for bucket, placed in by_bucket.values():
        contacts_place(bucket=bucket, contacts=placed, via=BucketVia.IMPORT, actor=None)


def _import_tags(team: Team, contacts: list[Contact], tag_lists: list[list[str]]) -> None:
    names = {name for tags in tag_lists for name in tags}
    if not names:
        return
    by_name = {tag.name: tag for tag in tags_resolve(team=team, names=names)}
    through = Contact.tags.through
    through.objects.bulk_create(
        [
            through(contact_id=contact.pk, tag_id=by_name[name].pk)
            for contact, tags in zip(contacts, tag_lists, strict=True)
            for name in set(tags)
        ],
        ignore_conflicts=True,
    )
