"""Check Runway's books against the ledger: what the account was charged vs what the ledger holds.

``organization usage (net credits per UTC day and model) + every ledger record -> one row per
day and model (usage, ledger, gap, estimates, possible duplicates, unknown outcomes) -> a table
artifact, a summary, a runway.spend.mismatch event per row above the tolerance``.

A gap above 0 is spend the ledger does not hold: a task created behind a lost answer or a
gateway's 5xx (the day's ``possible_duplicate`` and ``unknown`` rows say how many could explain
it), or tasks made outside this ledger (the console, another tool or key of the project). A gap
below 0 is usually a refund the ledger has not seen yet (a failed task's final cost is recorded
when `collect_videos` sees it end). See `prefect_runway.ledger.reconcile` for the rules.

Each mismatch emits ``runway.spend.mismatch`` (resource ``runway.account.<fingerprint>``, never
the key) with the row as its payload, for a Prefect automation to notify on.

Example:
    ```python
    import asyncio
    from prefect_runway.flows import reconcile_spend

    result = asyncio.run(reconcile_spend(days=7, tolerance_credits=0))
    print(result.gap_credits, len(result.mismatches), "mismatch(es)")
    ```
"""

from __future__ import annotations

import sys

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.events import emit_event

from prefect_runway.credentials import RunwayCredentials, load_credentials
from prefect_runway.errors import RecordReadError
from prefect_runway.flows.common import flow_parser, run_flow
from prefect_runway.ledger.reconcile import Reconciliation, SpendRow, reconcile
from prefect_runway.ledger.records import Ledger

RECONCILE_KEY = "runway-spend-reconciliation"
RECONCILE_SUMMARY_KEY = "runway-spend-reconciliation-summary"
MISMATCH_EVENT = "runway.spend.mismatch"


@flow(name="reconcile-runway-spend")
async def reconcile_spend(
    days: int = 7,
    tolerance_credits: float = 0.0,
    credentials_block: RunwayCredentials | str | None = None,
    records: str | None = None,
) -> Reconciliation:
    """Compare the account's usage per UTC day and model with the ledger's credits.

    Args:
        days: UTC days back, today included (1-90).
        tolerance_credits: The ``|gap|`` a day and model may have without a mismatch.
        credentials_block: A RunwayCredentials block, or a saved block's name; None reads
            the environment.
        records: Where the ledger is (``s3://bucket/prefix`` or an absolute folder); None:
            the configured ledger (``PREFECT_RUNWAY_RECORDS``..., see the README).

    Returns:
        The rows, the totals and the mismatches (`Reconciliation`).

    Raises:
        RecordReadError: a record could not be read (named): nothing is reported, since an
            unreadable record is never "no spend".
    """
    logger = get_run_logger()
    creds = await load_credentials(credentials_block)
    ledger = Ledger(records) if records else await Ledger.default()
    try:
        async with creds.get_async_client() as client:
            result = await reconcile(client, ledger, days, tolerance_credits,
                                     account=creds.account_fingerprint)  # fmt: skip
    except RecordReadError as exc:
        raise RecordReadError(f"Spend not reconciled: {exc}") from None
    await _publish(result)
    for row in result.mismatches:
        _emit(result, row)
    line = (f"Runway spend {result.start_date} to {result.before_date} (exclusive): usage "
            f"{result.usage_credits:g} credits, ledger {result.ledger_credits:g}, gap "
            f"{result.gap_credits:g}; {len(result.mismatches)} day/model mismatch(es) above "
            f"{tolerance_credits:g}")  # fmt: skip
    (logger.warning if result.mismatches else logger.info)(line)
    return result


def _emit(result: Reconciliation, row: SpendRow) -> None:
    emit_event(
        event=MISMATCH_EVENT,
        resource={
            "prefect.resource.id": f"runway.account.{result.account}",
            "prefect.resource.name": f"Runway account {result.account[:12]}",
        },
        payload={**row.model_dump(mode="json"), "explanation": row.explanation,
                 "tolerance_credits": result.tolerance_credits,
                 "ledger": result.ledger},  # fmt: skip
    )


async def _publish(result: Reconciliation) -> None:
    table = [
        {
            "day": row.day.isoformat(), "model": row.model, "usage_credits": row.usage_credits,
            "ledger_credits": row.ledger_credits, "gap": row.gap, "tasks": row.tasks,
            "estimated": row.estimated, "possible_duplicates": row.possible_duplicates,
            "unknown": row.unknown, "mismatch": row.mismatch,
        }
        for row in result.rows
    ]  # fmt: skip
    await acreate_table_artifact(
        key=RECONCILE_KEY, table=table,
        description=f"Runway usage vs the ledger, per UTC day and model, {result.start_date} "
        f"to {result.before_date} (exclusive)",
    )  # fmt: skip
    await acreate_markdown_artifact(key=RECONCILE_SUMMARY_KEY, markdown=summary(result))


def summary(result: Reconciliation) -> str:
    """The markdown summary: totals, then each mismatch and what could explain it."""
    lines = [
        "# Runway spend reconciliation",
        "",
        f"UTC days {result.start_date} to {result.before_date} (exclusive); ledger "
        f"`{result.ledger}` ({result.records} records); tolerance "
        f"{result.tolerance_credits:g} credits.",
        "",
        "| | credits | USD |",
        "|---|---|---|",
        f"| Runway usage (net) | {result.usage_credits:g} | {result.usage_credits / 100:.2f} |",
        f"| ledger | {result.ledger_credits:g} | {result.ledger_credits / 100:.2f} |",
        f"| **gap** | {result.gap_credits:g} | {result.gap_credits / 100:.2f} |",
        "",
    ]
    if not result.mismatches:
        lines.append("No day and model is off by more than the tolerance.")
    else:
        lines += ["## Mismatches", "", "| day | model | usage | ledger | gap | why |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {r.day} | {r.model} | {r.usage_credits:g} | {r.ledger_credits:g} | "
                  f"{r.gap:g} | {r.explanation} |" for r in result.mismatches]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m prefect_runway.flows.reconcile_spend [--days N] [--tolerance C]``.

    Returns:
        0 when the run completed, 1 when it failed (the reason is in its log).
    """
    parser = flow_parser(__doc__, "python -m prefect_runway.flows.reconcile_spend")
    parser.add_argument("--days", type=int, default=7, help="UTC days back, today included")
    parser.add_argument("--tolerance", type=float, default=0.0, metavar="CREDITS",
                        help="the gap a day and model may have without a mismatch")  # fmt: skip
    parser.add_argument("--credentials-block", metavar="NAME",
                        help="a saved RunwayCredentials block (default: the environment)")
    parser.add_argument("--records", metavar="LOCATION",
                        help="the ledger: s3://bucket/prefix or a folder (default: configured)")
    args = parser.parse_args(argv)
    return run_flow(reconcile_spend(
        days=args.days, tolerance_credits=args.tolerance,
        credentials_block=args.credentials_block, records=args.records, return_state=True,
    ))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
