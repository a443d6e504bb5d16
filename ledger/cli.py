"""`ledger`: the command line. A thin layer over `LedgerApplication` and the views.

Exit codes: 0 success, 1 verification/demo refusal, 2 bad input (one message
naming the line, the field and the reason; nothing of that command written).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.console import Console
from rich.table import Table

from ledger.batch import DEFAULT_CACHE
from ledger.domain import views
from ledger.domain.commands import CommandError, parse_command
from ledger.domain.summary import summarize
from ledger.rules.dates import parse_month

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Explicit limit: one command line may not exceed this many bytes.
MAX_LINE_BYTES = 64 * 1024

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Event-sourced ledger for dedicated-line service contracts.")
out = Console()

StoreOpt = Annotated[str | None, typer.Option(
    "--store", envvar="LEDGER_STORE",
    help="Event store URL: sqlite:///path.db (default ./ledger.db) or "
         "postgresql://user@host:port/dbname")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="Business date YYYY-MM-DD: what was true on that date.")]
KnownAtOpt = Annotated[str | None, typer.Option(
    "--as-known-at", help="Record time (ISO timestamp, UTC if no zone): what the ledger "
                          "had recorded by then.")]


def fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")  # one unwrapped line, for people and scripts
    raise typer.Exit(code)


def open_app(store: str | None) -> Any:
    from ledger.application import LedgerApplication
    from ledger.store.config import StoreConfigError

    try:
        ledger = LedgerApplication(store)
    except StoreConfigError as e:
        fail(f"--store: {e}")
    except Exception as e:  # a store that cannot be opened: say which and why
        fail(f"cannot open the event store: {type(e).__name__}: {e}")
    check_readable(ledger)
    return ledger


def check_readable(ledger: Any) -> None:
    """R15: a wrong or missing cipher key fails here, before anything is shown or
    written (a command would otherwise add plaintext or differently keyed events)."""
    from eventsourcing.persistence import MapperDeserialisationError

    try:
        first = ledger.recorder.select_notifications(1, 1)
        if first:
            ledger.mapper.to_domain_event(first[0])
    except (MapperDeserialisationError, ValueError) as e:
        ledger.close()
        fail("cannot read the event store: wrong or missing cipher key "
             f"(LEDGER_CIPHER_KEY) for {ledger.store_url} ({type(e).__name__})")
    except Exception as e:
        ledger.close()
        fail(f"cannot read the event store: {type(e).__name__}: {e}")


def emit_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


def parse_timestamp(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--as-known-at: {value!r} is not an ISO timestamp")
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def load_state(ledger: Any, contract_id: str, as_of: str | None, known_at: str | None,
               history: bool = False) -> tuple[Any, date]:
    """The contract state to read and the business date to read it as of.

    `status` as of the clock reads the (possibly compact) state from the latest
    snapshot; with `history` (past bills, explanations, reports), or as of a date
    before that snapshot, the contract is replayed from its first event."""
    try:
        if known_at:
            contract = ledger.contract_as_known_at(contract_id, parse_timestamp(known_at))
        elif history:
            contract = ledger.load_history(contract_id)
        else:
            contract = ledger.load(contract_id)
            if as_of and views.needs_history(contract.state, parse_date(as_of, "--as-of")):
                contract = ledger.load_history(contract_id)
    except CommandError as e:
        fail(str(e))
    state = contract.state
    day = parse_date(as_of, "--as-of") if as_of else state.clock
    if day > state.clock:
        fail(f"--as-of: {day} is after contract {contract_id}'s clock {state.clock}; "
             "the ledger does not forecast (run `ledger advance` first)")
    return state, day


def read_lines(path: str) -> Iterator[tuple[int, bytes]]:
    stream = sys.stdin.buffer if path == "-" else None
    if stream is None:
        p = Path(path)
        if not p.is_file():
            fail(f"FILE: {path} is not a readable file")
        stream = p.open("rb")
    with stream:
        for number, line in enumerate(stream, start=1):
            if len(line) > MAX_LINE_BYTES:
                fail(f"line {number}: the line is longer than {MAX_LINE_BYTES} bytes")
            if line.strip():
                yield number, line


def flush_batch(applier: Any) -> None:
    try:
        applier.flush()
    except CommandError as e:
        fail(str(e))


@contextmanager
def applying(applier: Any) -> Iterator[None]:
    """Group commit for one CLI run: saved at the end, and at the first refused
    command (exit 2) the ones before it are saved. GC tuned for bulk work."""
    from ledger.batch import bulk_gc

    with bulk_gc():
        try:
            yield
        except typer.Exit:
            flush_batch(applier)
            raise
        flush_batch(applier)


@app.command()
def apply(file: Annotated[str, typer.Argument(help="JSON Lines file of commands, - for stdin")],
          store: StoreOpt = None, json: JsonOpt = False,
          batch: Annotated[int, typer.Option(
              "--batch", min=1, max=100_000,
              help="Commands per transaction (group commit); each command stays "
                   "all-or-nothing")] = 500,
          cache: Annotated[int, typer.Option(
              "--cache", min=1, max=1_000_000,
              help="Contracts kept in memory between batches (compact: about 30 KB "
                   "each); size it to the contracts the file touches")
          ] = DEFAULT_CACHE) -> None:
    """Apply commands in order; stop at the first bad one (exit 2)."""
    from ledger.batch import BatchApplier

    ledger = open_app(store)
    applier = BatchApplier(ledger, batch, cache_size=cache)
    try:
        with applying(applier):
            for number, line in read_lines(file):
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    fail(f"line {number}: invalid JSON: {e}")
                try:
                    applier.submit(parse_command(raw), label=f"line {number}")
                except CommandError as e:
                    fail(f"line {number}: {e}")
    finally:
        ledger.close()
    applied, duplicates, events = (applier.saved.applied, applier.saved.duplicates,
                                   applier.saved.events)
    summary = {"applied": applied, "duplicates": duplicates, "events": events,
               "conflicts_retried": ledger.conflicts_retried}
    if json:
        emit_json(summary)
    else:
        out.print(f"applied {applied} command(s), {duplicates} duplicate(s) skipped, "
                  f"{events} event(s) recorded")


@app.command()
def advance(to: Annotated[str, typer.Option("--to", help="Business date YYYY-MM-DD")],
            contract: Annotated[str | None, typer.Option(
                "--contract", help="Only this contract (default: all)")] = None,
            store: StoreOpt = None, json: JsonOpt = False) -> None:
    """Move contracts' clocks to a date, firing every time rule on the way."""
    from ledger.batch import AdvanceClock, BatchApplier

    target = parse_date(to, "--to")
    ledger = open_app(store)
    results = []
    try:
        ids = [contract] if contract else ledger.contract_ids()
        applier = BatchApplier(ledger)  # month end: many contracts per transaction
        with applying(applier):
            for cid in ids:
                try:
                    outcome = applier.submit(AdvanceClock(cid, target), label=cid)
                except CommandError as e:
                    fail(f"{cid}: {e}")
                results.append({"contract_id": cid, "events": [type(e).__name__
                                                               for e in outcome.events]})
    finally:
        ledger.close()
    if json:
        emit_json({"to": target.isoformat(), "contracts": results,
                   "conflicts_retried": ledger.conflicts_retried})
    else:
        for r in results:
            out.print(f"{r['contract_id']}: clock at {target}, {len(r['events'])} event(s)")


@app.command()
def status(contract_id: str, as_of: AsOfOpt = None, as_known_at: KnownAtOpt = None,
           store: StoreOpt = None, json: JsonOpt = False) -> None:
    """A contract's status, balance and lines."""
    ledger = open_app(store)
    try:
        state, day = load_state(ledger, contract_id, as_of, as_known_at)
    finally:
        ledger.close()
    view = views.status_view(state, day)
    if json:
        emit_json(view)
        return
    print_status(view)


def print_status(view: dict[str, Any]) -> None:
    out.print(f"[bold]{view['contract_id']}[/] as of {view['as_of']}: [bold]{view['status']}[/]"
              f"  term {view['term_start']}..{view['term_end']}  {view['billing_mode']}")
    out.print(f"balance {view['balance']}  unbilled {view['unbilled']}  arrears since "
              f"{view['arrears_since'] or '-'}"
              + (f"  terminated {view['terminated_on']} ({view['termination_reason']})"
                 if view["terminated_on"] else ""))
    table = Table("line", "kind", "status", "billing start", "monthly fee")
    for ln in view["lines"]:
        table.add_row(ln["line_id"], ln["kind"], ln["status"], ln["billing_start"] or "-",
                      ln["monthly_fee"])
    out.print(table)


@app.command()
def bill(contract_id: str,
         month: Annotated[str, typer.Option("--month", help="Service month YYYY-MM")],
         as_of: AsOfOpt = None, as_known_at: KnownAtOpt = None,
         store: StoreOpt = None, json: JsonOpt = False) -> None:
    """Every charge item of a service month, whenever it was posted."""
    try:
        first = parse_month(month)
    except ValueError as e:
        fail(f"--month: {e}")
    ledger = open_app(store)
    try:
        state, day = load_state(ledger, contract_id, as_of, as_known_at, history=True)
    finally:
        ledger.close()
    view = views.bill_view(state, first, day)
    if json:
        emit_json(view)
        return
    print_bill(view)


def print_bill(view: dict[str, Any]) -> None:
    table = Table("line", "kind", "service", "days", "rate", "amount", "rule", "clause",
                  "posted", title=f"{view['contract_id']} service month {view['month']}")
    for it in view["items"]:
        days = f"{it['days']}/{it['days_in_month']}" if it["days_in_month"] else "-"
        table.add_row(it["line_id"] or "-", it["kind"],
                      f"{it['service_from']}..{it['service_to']}", days, it["rate"],
                      it["amount"], it["rule"], it["clause"], it["posted_on"])
    out.print(table)
    out.print(f"total {view['total']}")


def event_record(e: Any) -> dict[str, Any]:
    body = e.model_dump(mode="json", exclude={"originator_id", "originator_version", "timestamp",
                                               "business_date", "actor", "command_id",
                                               "command_type", "originator_topic"})
    return {
        "version": e.originator_version,
        "type": type(e).__name__,
        "business_date": e.business_date.isoformat(),
        "recorded_at": e.timestamp.isoformat(),
        "actor": e.actor,
        "command_id": e.command_id,
        "command_type": e.command_type,
        "summary": summarize(e),
        "content": body,
    }


@app.command()
def history(contract_id: str, as_known_at: KnownAtOpt = None, as_of: AsOfOpt = None,
            store: StoreOpt = None, json: JsonOpt = False) -> None:
    """Every event of a contract, in order (--as-of: those in force by that date)."""
    ledger = open_app(store)
    try:
        try:
            events = ledger.contract_events(contract_id, parse_timestamp(as_known_at)
                                   if as_known_at else None)
        except CommandError as e:
            fail(str(e))
    finally:
        ledger.close()
    if as_of:  # a back-dated fact (deemed start) is in force from its effective date
        from ledger.audit.explain import effective_date

        day = parse_date(as_of, "--as-of")
        events = [e for e in events if effective_date(e) <= day]
    records = [event_record(e) for e in events]
    if json:
        emit_json({"contract_id": contract_id, "events": records})
        return
    print_history(contract_id, records)


def print_history(contract_id: str, records: list[dict[str, Any]]) -> None:
    table = Table("v", "business date", "recorded at (UTC)", "actor", "event", "what",
                  title=f"{contract_id} history")
    for r in records:
        table.add_row(str(r["version"]), r["business_date"], r["recorded_at"][:19],
                      r["actor"], r["type"], r["summary"])
    out.print(table)


@app.command()
def demo(store: StoreOpt = None,
         today: Annotated[str | None, typer.Option(
             "--today", help="Run the story up to this date (default: today in Shanghai)")]
         = None) -> None:
    """Run the reference contract and an arrears contract from signing to today."""
    from ledger.demo import run_demo

    ledger = open_app(store)
    try:
        head = ledger.recorder.max_notification_id() or 0
        if head:
            fail(f"the store {ledger.store_url} already holds {head} events; the demo "
                 "only runs into an empty store (choose another with --store)", code=1)
        until = parse_date(today, "--today") if today else datetime.now(SHANGHAI).date()
        run_demo(ledger, until, out)
    finally:
        ledger.close()


from projections.cli import register as _register_projections  # noqa: E402 (issue 3)

_register_projections(app)  # projections status|catch-up|rebuild, report, export

from ledger.audit.cli import register as _register_audit  # noqa: E402 (needs the above)

_register_audit(app)  # explain, verify, disputes, report contract


def main() -> None:
    app()


if __name__ == "__main__":
    main()
