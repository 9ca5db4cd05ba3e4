"""Spend reconciliation: Runway's books (net credits per UTC day and model) against the ledger.

Runway offers no way to list tasks, so a task the client never learned of (an answer lost
after the task was created, a gateway's 5xx after creation) leaves no trace except in the
organization's usage (``POST /v1/organization/usage``). For each UTC day and model of the
window, `reconcile` compares:

- **usage**: the API's net credits (refunds netted in);
- **ledger**: the credits of every task the ledger holds as created that day (every attempt in
  each record's history): its final ``cost.credits`` once a collector saw it end, else its
  estimate (counted in ``estimated``: a failed task's refund is not known yet);
- **gap** = usage - ledger. Above the tolerance it is a mismatch, with the day's
  ``possible_duplicate`` attempts and ``unknown`` outcomes (a record in state ``unknown``, or an
  ``intent`` without an outcome) that could explain it: each may stand for one hidden task.

A record that cannot be read fails the reconciliation, naming it (`RecordReadError`): an
unreadable record is never "no spend". Days are the UTC date of each attempt's recorded
creation, a moment after Runway's own ``createdAt``: a task created within a second of
midnight may land on the next day (the window's total is unaffected).

Example:
    ```python
    from prefect_runway import RunwayCredentials
    from prefect_runway.ledger.reconcile import reconcile
    from prefect_runway.ledger.records import Ledger

    creds = RunwayCredentials()
    async with creds.get_async_client() as client:
        result = await reconcile(client, await Ledger.default(), days=7)
    print(result.gap_credits, [(r.day, r.model, r.gap) for r in result.mismatches])
    ```
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from pydantic import BaseModel, Field

from prefect_runway.api.client import AsyncRunwayClient
from prefect_runway.api.limits import MAX_USAGE_DAYS
from prefect_runway.errors import RunwayValidationError
from prefect_runway.ledger.records import Ledger, SubmissionRecord

UNKNOWN_STATES = ("intent", "unknown")
"""Record states whose POST may have created a task the ledger does not hold."""


class SpendRow(BaseModel):
    """One UTC day and model: Runway's net credits against the ledger's.

    Attributes:
        day: The UTC day.
        model: The model.
        usage_credits: Runway's net credits (refunds netted in).
        ledger_credits: The ledger's credits for the tasks created that day.
        tasks: Tasks the ledger holds as created that day.
        estimated: How many of them count at their estimate (no final cost known yet).
        gap: ``usage_credits - ledger_credits``: above 0, Runway charged for tasks the ledger
            does not hold (or charged more); below 0, refunds not recorded yet.
        possible_duplicates: Tasks flagged possible_duplicate that day (each may hide one more).
        unknown: Submissions of unknown outcome that day (each may hide one task).
        mismatch: ``|gap|`` is above the tolerance.
    """

    day: date
    model: str
    usage_credits: float = 0.0
    ledger_credits: float = 0.0
    tasks: int = 0
    estimated: int = 0
    gap: float = 0.0
    possible_duplicates: int = 0
    unknown: int = 0
    mismatch: bool = False

    @property
    def explanation(self) -> str:
        """What could explain the gap, in words (empty without a gap)."""
        if not self.gap:
            return ""
        parts = []
        if self.gap > 0 and (self.possible_duplicates or self.unknown):
            parts.append(f"{self.possible_duplicates} possible duplicate(s) and {self.unknown} "
                         "unknown outcome(s) could explain it")  # fmt: skip
        if self.estimated:
            parts.append(f"{self.estimated} task(s) counted at their estimate (final cost not "
                         "collected yet)")  # fmt: skip
        if not parts:
            parts.append("no ledger row explains it: tasks outside this ledger (another "
                         "ledger, tool or key of the project)" if self.gap > 0
                         else "credits the ledger counts that Runway does not")  # fmt: skip
        return "; ".join(parts)


class Reconciliation(BaseModel):
    """The result of `reconcile`: one row per UTC day and model with spend on either side.

    Attributes:
        start_date: The first UTC day compared.
        before_date: The day after the last one (today's included).
        tolerance_credits: The ``|gap|`` a row may have without being a mismatch.
        account: The account's fingerprint (never the key).
        ledger: Where the records live.
        records: Records read.
        usage_credits: Runway's net credits over the window.
        ledger_credits: The ledger's over the window.
        gap_credits: ``usage_credits - ledger_credits``.
        rows: Day by day, model by model, oldest first.
    """

    start_date: date
    before_date: date
    tolerance_credits: float
    account: str = ""
    ledger: str = ""
    records: int = 0
    usage_credits: float = 0.0
    ledger_credits: float = 0.0
    gap_credits: float = 0.0
    rows: list[SpendRow] = Field(default_factory=list)

    @property
    def mismatches(self) -> list[SpendRow]:
        """The rows whose ``|gap|`` is above the tolerance."""
        return [row for row in self.rows if row.mismatch]


def window(days: int, today: date | None = None) -> tuple[date, date]:
    """The UTC days ``[start, before)`` of the last `days` days, today included.

    Raises:
        RunwayValidationError: `days` is not 1 to 90 (the usage endpoint's limit).

    Example:
        >>> window(7, date(2026, 3, 9))
        (datetime.date(2026, 3, 3), datetime.date(2026, 3, 10))
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_USAGE_DAYS:
        raise RunwayValidationError(f"days must be 1 to {MAX_USAGE_DAYS}, got {days!r}")
    today = today or datetime.now(timezone.utc).date()
    return today - timedelta(days=days - 1), today + timedelta(days=1)


def _day(moment: datetime) -> date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).date()


def ledger_rows(records: list[SubmissionRecord], start: date, before: date) -> dict[
    tuple[date, str], SpendRow
]:
    """The ledger's side, by (UTC day, model), for the days ``[start, before)``."""
    rows: dict[tuple[date, str], SpendRow] = {}

    def row(day: date, model: str) -> SpendRow:
        return rows.setdefault((day, model), SpendRow(day=day, model=model))

    for record in records:
        model = str(record.request.get("model") or "unknown")
        for attempt in record.attempts:
            day = _day(attempt.created_at or record.written_at)
            if not start <= day < before:
                continue
            found = row(day, model)
            found.tasks += 1
            if attempt.credits is not None:
                found.ledger_credits += attempt.credits
            else:
                found.estimated += 1
                found.ledger_credits += attempt.estimated_credits or 0
            found.possible_duplicates += attempt.possible_duplicate
        day = _day(record.written_at)
        if record.state in UNKNOWN_STATES and start <= day < before:
            row(day, model).unknown += 1
    return rows


async def reconcile(
    client: AsyncRunwayClient,
    ledger: Ledger,
    days: int = 7,
    tolerance_credits: float = 0.0,
    account: str = "",
    today: date | None = None,
) -> Reconciliation:
    """Compare the API's usage with the ledger, day by day and model by model.

    Args:
        client: An `AsyncRunwayClient` of the account.
        ledger: The account's ledger (every record is read).
        days: UTC days back, today included (1-90).
        tolerance_credits: The ``|gap|`` a day and model may have without a mismatch.
        account: The account's fingerprint, kept in the result.
        today: The current UTC day (default: now).

    Raises:
        RecordReadError: a record could not be read (named); nothing is compared.
        ConfigurationError: the ledger cannot be listed (a storage block).
        RunwayError: the usage query failed.
    """
    if tolerance_credits < 0:
        raise RunwayValidationError(f"tolerance_credits must be >= 0, got {tolerance_credits}")
    start, before = window(days, today)
    records = await ledger.records()
    usage = await client.organization_usage(start, before)
    rows = ledger_rows(records, start, before)
    for (day, model), credits in usage.credits().items():
        rows.setdefault((day, model), SpendRow(day=day, model=model)).usage_credits = credits
    done = []
    for key in sorted(rows):
        row = rows[key]
        gap = row.usage_credits - row.ledger_credits
        done.append(row.model_copy(update={"gap": gap, "mismatch": abs(gap) > tolerance_credits}))
    used = sum(r.usage_credits for r in done)
    held = sum(r.ledger_credits for r in done)
    return Reconciliation(
        start_date=start, before_date=before, tolerance_credits=tolerance_credits,
        account=account, ledger=ledger.location, records=len(records), usage_credits=used,
        ledger_credits=held, gap_credits=used - held, rows=done,
    )  # fmt: skip
