"""Audit commands of the `ledger` CLI: explain, verify, disputes, report contract.

Registered on the main typer app by `register(app)` (called from `ledger.cli`).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from ledger.domain.commands import CommandError
from ledger.rules.dates import parse_month


def _cli() -> Any:
    from ledger import cli  # the shared helpers (fail, open_app, ...); imported late

    return cli


def load_record(ledger: Any, contract_id: str, as_of: str | None, known_at: str | None
                ) -> tuple[Any, list[Any], date]:
    """State (with its whole history), events and as-of date of a contract as
    recorded (by `known_at`)."""
    cli = _cli()
    state, day = cli.load_state(ledger, contract_id, as_of, known_at, history=True)
    try:
        events = ledger.contract_events(
            contract_id, cli.parse_timestamp(known_at) if known_at else None)
    except CommandError as e:
        cli.fail(str(e))
    return state, events, day


def explain(contract_id: str,
            month: Annotated[str, typer.Option("--month", help="Service month YYYY-MM")],
            charge: Annotated[str | None, typer.Option(
                "--charge", help="Only this charge id (e.g. REF-2025/CH00005)")] = None,
            as_of: Annotated[str | None, typer.Option(
                "--as-of", help="Business date YYYY-MM-DD: what was true on that date.")]
            = None,
            as_known_at: Annotated[str | None, typer.Option(
                "--as-known-at", help="Record time (ISO timestamp, UTC if no zone): what "
                                      "the ledger had recorded by then.")] = None,
            store: Annotated[str | None, typer.Option(
                "--store", envvar="LEDGER_STORE", help="Event store URL")] = None,
            json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """Why each charge of a month is what it is: inputs, formula, rule, clause, facts."""
    from ledger.audit.explain import explain_month

    cli = _cli()
    try:
        parse_month(month)
    except ValueError as e:
        cli.fail(f"--month: {e}")
    ledger = cli.open_app(store)
    try:
        state, events, day = load_record(ledger, contract_id, as_of, as_known_at)
        calendar = ledger.calendar
    finally:
        ledger.close()
    try:
        view = explain_month(events, state, month, day, calendar, charge)
    except LookupError as e:
        cli.fail(f"--charge: {e.args[0]}")
    if as_known_at:
        view["as_known_at"] = cli.parse_timestamp(as_known_at).isoformat()
    if json:
        cli.emit_json(view)
        return
    print_explanation(view)


def print_explanation(view: dict[str, Any]) -> None:
    out = _cli().out

    def say(text: str = "") -> None:  # soft wrap: a formula stays on one line
        out.print(text, markup=False, highlight=False, soft_wrap=True)

    known = f", as known at {view['as_known_at']}" if view.get("as_known_at") else ""
    say(f"{view['contract_id']} service month {view['month']} as of {view['as_of']}{known}")
    say(f"{len(view['items'])} item(s), total {view['total']}; amounts {view['rounding']}")
    for it in view["items"]:
        say()
        say(f"{it['charge_id']}  {it['line_id'] or '-'}  {it['kind']}  "
            f"{it['service_from']}..{it['service_to']}  amount {it['amount']}")
        say(f"  posted    {it['posted_on']} (event v{it['version']}, recorded "
            f"{it['recorded_at']})  bill {it['bill_id'] or '-'}")
        if it["days_in_month"]:
            say(f"  inputs    rate {it['rate']}/month, {it['days']} of {it['days_in_month']} "
                f"days in service")
        say(f"  formula   {it['formula']}")
        if it["exact"]:
            say(f"  rounding  {it['exact']} (half-up to 0.01, once per item, R1)")
        say(f"  rule      {it['rule']['id']}: {it['rule']['title']}")
        c = it["clause"]
        say(f"  clause    {c['ref']} ({c['heading']})")
        say(f"            {c['zh']}")
        say(f"            {c['en']}")
        for f in it["facts"]:
            _print_fact(say, f)
    if view["facts"]:
        say()
        say("facts of the month:")
        for f in view["facts"]:
            _print_fact(say, f)


def _print_fact(say: Any, f: dict[str, Any]) -> None:
    head = f"  - [{f['rule']['id']} {f['clause']['ref']}] " if "rule" in f else "  - "
    lines = f["text"].split("\n")
    say(head + lines[0])
    for line in lines[1:]:
        say("      " + line)


def verify(contract_id: Annotated[str | None, typer.Argument(
               help="Only this contract (default: every stream in the store)")] = None,
           store: Annotated[str | None, typer.Option(
               "--store", envvar="LEDGER_STORE", help="Event store URL")] = None,
           json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """Re-check every hash chain and chain head; exit 1 on any break."""
    from ledger.audit.verify import Break, verify_store

    cli = _cli()
    ledger = cli.open_app(store)
    try:
        report = verify_store(ledger, contract_id)
        if contract_id is not None and report.events == 0 and report.ok is False and \
                report.breaks[0].reason == "no chain head recorded for this stream":
            cli.fail(f"contract_id: unknown contract {contract_id!r}")
        if contract_id is None:  # the read models cover every contract
            diffs, notes = _check_projections(ledger)
            report.notes.extend(notes)
            report.breaks.extend(Break("projections", "", 0, d) for d in diffs)
    finally:
        ledger.close()
    if json:
        cli.emit_json(report.as_dict())
    else:
        for b in report.breaks:
            where = b.stream if b.stream == "projections" else f"{b.stream} at version {b.version}"
            cli.out.print(f"BROKEN {where}: {b.reason}", soft_wrap=True, markup=False,
                          highlight=False)
        for note in report.notes:
            cli.out.print(f"note: {note}", markup=False, highlight=False)
        cli.out.print(f"{'OK' if report.ok else 'FAILED'}: {report.streams} stream(s), "
                      f"{report.events} event(s) checked, {len(report.breaks)} broken",
                      markup=False, highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _check_projections(ledger: Any) -> tuple[list[str], list[str]]:
    """Projections against a replay of every contract: (differences, notes)."""
    from projections.verify import verify_against_replay

    return verify_against_replay(ledger)


def disputes(open_only: Annotated[bool, typer.Option("--open", help="Only open disputes")]
             = False,
             contract: Annotated[str | None, typer.Option(
                 "--contract", help="Only this contract")] = None,
             as_of: Annotated[str | None, typer.Option(
                 "--as-of", help="Age counted to this date (default: today in Shanghai)")]
             = None,
             store: Annotated[str | None, typer.Option(
                 "--store", envvar="LEDGER_STORE", help="Event store URL")] = None,
             json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """R13 disputes and their age in days (open: to today; resolved: to resolution)."""
    cli = _cli()
    today = cli.parse_date(as_of, "--as-of") if as_of else datetime.now(cli.SHANGHAI).date()
    ledger = cli.open_app(store)
    rows = []
    try:
        ids = [contract] if contract else ledger.contract_ids()
        for cid in ids:
            try:
                state = ledger.load(cid).state
            except CommandError as e:
                cli.fail(str(e))
            for d in state.disputes:
                if open_only and d.resolved_on is not None:
                    continue
                end = d.resolved_on or today
                rows.append({**d.model_dump(mode="json"), "contract_id": cid,
                             "status": "resolved" if d.resolved_on else "open",
                             "age_days": (end - d.opened_on).days})
    finally:
        ledger.close()
    if json:
        cli.emit_json({"as_of": today.isoformat(), "disputes": rows})
        return
    table = Table("dispute", "month", "line", "status", "opened", "age (days)", "outcome",
                  "adjustment", "question", title=f"disputes as of {today}")
    for r in rows:
        table.add_row(r["dispute_id"], r["month"], r["line_id"] or "-", r["status"],
                      r["opened_on"], str(r["age_days"]), r["outcome"] or "-",
                      r["adjustment"] or "-", r["question"])
    cli.out.print(table)


def report_contract(contract_id: str,
                    html: Annotated[str, typer.Option("--html", help="Output HTML file")],
                    as_of: Annotated[str | None, typer.Option(
                        "--as-of", help="Business date YYYY-MM-DD")] = None,
                    as_known_at: Annotated[str | None, typer.Option(
                        "--as-known-at", help="Record time (ISO timestamp)")] = None,
                    store: Annotated[str | None, typer.Option(
                        "--store", envvar="LEDGER_STORE", help="Event store URL")] = None
                    ) -> None:
    """A self-contained HTML audit page: timeline, balance chart, bills, full history."""
    from ledger.audit.report import render_contract_report

    cli = _cli()
    ledger = cli.open_app(store)
    try:
        state, events, day = load_record(ledger, contract_id, as_of, as_known_at)
    finally:
        ledger.close()
    records = []
    for e in events:
        r = cli.event_record(e)
        content = {k: v for k, v in r["content"].items() if v not in (None, [], "")}
        r["content_text"] = orjson.dumps(content, option=orjson.OPT_INDENT_2).decode()
        records.append(r)
    page = render_contract_report(state, events, day, records)
    try:
        Path(html).write_text(page, encoding="utf-8")
    except OSError as e:
        cli.fail(f"--html: cannot write {html}: {e.strerror}")
    cli.out.print(f"wrote {html} ({len(page)} bytes)", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the audit commands; `report contract` goes on the `report` group (the
    projections' `report_app` if it exists, else a new group)."""
    app.command("explain")(explain)
    app.command("verify")(verify)
    app.command("disputes")(disputes)
    group = next((g.typer_instance for g in app.registered_groups if g.name == "report"), None)
    if group is None:
        try:
            from projections.cli import report_app as group  # type: ignore[no-redef]
        except ImportError:
            group = typer.Typer(no_args_is_help=True, help="Reports.")
        app.add_typer(group, name="report")
    group.command("contract")(report_contract)
