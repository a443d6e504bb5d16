"""`ledger projections ...`, `ledger report ...` and `ledger export`: the read side CLI.

`report_app` is a typer group other modules may add subcommands to
(``@report_app.command("contract")``). `register(app)` mounts everything on the
main `ledger` app. Exit codes as in `ledger.cli`: 2 for bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from projections.runner import DEFAULT_BATCH_SIZE, REBUILD_BATCH_SIZE
from projections.runner import Progress as BatchProgress

projections_app = typer.Typer(no_args_is_help=True, help="Read models: status, catch-up, rebuild.")
report_app = typer.Typer(no_args_is_help=True, help="Reports read from the projections.")
out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[str | None, typer.Option(
    "--store", envvar="LEDGER_STORE",
    help="Event store URL (the projection tables live in the same database).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
NameArg = Annotated[str | None, typer.Argument(
    help="One projection: contracts, balances, charges, audit, portfolio (default: all)")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, max=100_000,
                                       help="Events per transaction.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    from ledger.cli import fail  # one error format for every command (imported late: cycle)

    fail(message, code)


def _read_report(store: str | None, build: Any, *args: Any) -> Any:
    """Open the store, build a report from the projection tables, close the store."""
    from projections.export import ExportError

    st = _open(store)
    try:
        return build(st, *args)
    except ExportError as e:
        _fail(str(e))
    finally:
        st.close()


def _open(store: str | None) -> Any:
    from ledger.store.config import StoreConfigError
    from projections.runner import Store

    try:
        return Store(store)
    except StoreConfigError as e:
        _fail(f"--store: {e}")
    except Exception as e:  # a store that cannot be opened: say which and why
        _fail(f"cannot open the event store: {type(e).__name__}: {e}")


def _names(name: str | None) -> list[str] | None:
    from projections.readmodels import MODELS

    if name is not None and name not in MODELS:
        _fail(f"NAME: unknown projection {name!r} (known: {', '.join(MODELS)})")
    return [name] if name else None


def _emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@projections_app.command("status")
def status_cmd(store: StoreOpt = None, json: JsonOpt = False) -> None:
    """Each projection's position in the event log, its lag and its row counts."""
    from projections.runner import status

    st = _open(store)
    try:
        found = status(st)
    finally:
        st.close()
    data = [{"name": s.name, "position": s.position, "head": s.head, "lag": s.lag,
             "rows": s.rows} for s in found]
    if json:
        _emit(data)
        return
    table = Table("projection", "position", "head", "lag", "rows")
    for d in data:
        table.add_row(d["name"], "never built" if d["position"] is None else str(d["position"]),
                      str(d["head"]), "-" if d["lag"] is None else str(d["lag"]),
                      ", ".join(f"{k}={v}" for k, v in d["rows"].items()))
    out.print(table)


@projections_app.command("catch-up")
def catch_up_cmd(name: NameArg = None, store: StoreOpt = None,
                 follow: Annotated[bool, typer.Option(
                     "--follow", help="Keep running, applying new events as they arrive.")]
                 = False,
                 interval: Annotated[float, typer.Option(
                     "--interval", min=0.01, help="--follow: seconds between polls.")] = 1.0,
                 batch_size: BatchOpt = DEFAULT_BATCH_SIZE) -> None:
    """Apply the events recorded since each projection's position (exactly once)."""
    from projections.runner import Runner, select_models

    names = _names(name)
    st = _open(store)
    try:
        runner = Runner(st, select_models(names), batch_size=batch_size)
        if follow:
            err.print(f"following {st.url} (Ctrl-C to stop)", highlight=False)
            try:
                runner.follow(interval)
            except KeyboardInterrupt:
                pass
        else:
            read = runner.catch_up()
            out.print(f"caught up: {read} notification(s) read, {runner.events_processed} "
                      f"contract event(s) applied")
    finally:
        st.close()


@projections_app.command("rebuild")
def rebuild_cmd(name: NameArg = None, store: StoreOpt = None,
                batch_size: BatchOpt = REBUILD_BATCH_SIZE,
                workers: Annotated[int | None, typer.Option(
                    "--workers", min=1, max=64,
                    help="Processes sharing the contracts out (default: one per CPU, up to "
                         "4, for logs of 20,000 notifications or more).")] = None) -> None:
    """Rebuild from event 1 into new tables, then swap them in (readers keep the old
    tables until the new ones are complete)."""
    from projections.runner import rebuild

    names = _names(name)
    st = _open(store)
    try:
        head = st.head()
        # Redrawn by each batch, not by a refresh thread: a rebuild forks its workers
        # only from a process without other threads.
        with Progress(TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err, auto_refresh=False) as bar:
            task = bar.add_task("rebuild", total=head or 1)

            def advance(p: BatchProgress) -> None:
                bar.update(task, completed=p.position, total=p.head, refresh=True)

            read = rebuild(st, names, batch_size=batch_size, on_batch=advance,
                           workers=workers)
            bar.update(task, completed=head or 1, refresh=True)
    finally:
        st.close()
    out.print(f"rebuilt {', '.join(names or ['all projections'])} from {read} notification(s)")


@report_app.command("portfolio")
def portfolio_cmd(month: Annotated[str, typer.Option("--month", help="Month YYYY-MM")],
                  store: StoreOpt = None, json: JsonOpt = False) -> None:
    """Monthly recurring revenue by line kind, contracts and lines by status, renewals,
    cancellations, equipment."""
    from ledger.rules.dates import month_key, parse_month
    from projections.export import portfolio_report

    try:
        month = month_key(parse_month(month))
    except ValueError as e:
        _fail(f"--month: {e}")
    data = _read_report(store, portfolio_report, month)
    if json:
        _emit(data)
        return
    out.print(f"[bold]portfolio {month}[/]: {data['contracts']} contract(s)")
    t = Table("", *data["contracts_by_status"])
    t.add_row("contracts", *map(str, data["contracts_by_status"].values()))
    out.print(t)
    t = Table("", *data["lines_by_status"])
    t.add_row("lines", *map(str, data["lines_by_status"].values()))
    out.print(t)
    t = Table("MRR", *data["mrr_by_kind"], "total")
    t.add_row("", *data["mrr_by_kind"].values(), data["mrr_total"])
    out.print(t)
    out.print(f"rent charged {data['rent_charged']}  renewals {data['renewals']}  "
              f"terminations {data['terminations']}  cancellations {data['cancellations']}")
    out.print(f"equipment outstanding {data['equipment_outstanding']}  recovered "
              f"{data['equipment_recovered']}  lost {data['equipment_lost']}")
    if data["contracts_with_clock_before_month_end"]:
        out.print(f"note: {data['contracts_with_clock_before_month_end']} contract(s) have not "
                  "reached the month's end yet (run `ledger advance`)")


@report_app.command("arrears")
def arrears_cmd(store: StoreOpt = None, json: JsonOpt = False) -> None:
    """Aging buckets and every contract with a bill past due, oldest first."""
    from projections.export import arrears_report

    data = _read_report(store, arrears_report)
    if json:
        _emit(data)
        return
    t = Table("aging", "contracts", "overdue amount")
    for k, v in data["buckets"].items():
        t.add_row(k, str(v["contracts"]), v["overdue_amount"])
    out.print(t)
    t = Table("contract", "customer", "status", "as of", "overdue bills", "overdue amount",
              "oldest unpaid due", "days", "bucket")
    for r in data["contracts"]:
        t.add_row(r["contract_id"], r["customer"], r["status"], r["as_of"],
                  str(r["overdue_bills"]), r["overdue_amount"], r["oldest_unpaid_due_on"],
                  str(r["arrears_days"]), r["aging_bucket"])
    out.print(t)


def export_cmd(table: Annotated[str, typer.Argument(
                   help="A projection table, e.g. contract, balance, charge_item, audit")],
               format: Annotated[str, typer.Option(
                   "--format", help="csv | jsonl | parquet")] = "csv",
               output: Annotated[str | None, typer.Option(
                   "--output", "-o", help="File to write (default: stdout)")] = None,
               store: StoreOpt = None) -> None:
    """Export a projection table for downstream tools (rows in key order)."""
    from projections.export import FORMATS, ExportError, export, resolve_table

    if format not in FORMATS:
        _fail(f"--format: {format!r} is not one of {', '.join(FORMATS)}")
    try:
        t = resolve_table(table)
    except ExportError as e:
        _fail(f"TABLE: {e}")
    if output is not None and not Path(output).parent.is_dir():
        _fail(f"--output: directory {Path(output).parent} does not exist")
    st = _open(store)
    try:
        if output is None:
            n = export(st, t, format, sys.stdout.buffer)
        else:
            with open(output, "wb") as f:
                n = export(st, t, format, f)
    except ExportError as e:
        _fail(str(e))
    finally:
        st.close()
    if output is not None:
        err.print(f"exported {n} row(s) of {t.name} to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    """Mount `projections`, `report` and `export` on the main `ledger` app."""
    app.add_typer(projections_app, name="projections")
    if not any(g.name == "report" for g in app.registered_groups):
        app.add_typer(report_app, name="report")
    app.command("export")(export_cmd)


def main() -> None:  # `python -m projections.cli`: the read side alone (e.g. a worker)
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
