"""Drive the real `ledger` CLI in-process (typer's runner) against a real store."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ledger.cli import app

RUNNER = CliRunner()


class Ledger:
    """`ledger ...` against one store URL; JSON outputs parsed."""

    def __init__(self, store_url: str, workdir: Path) -> None:
        self.store_url = store_url
        self.workdir = workdir
        self._files = 0

    def run(self, *args: str, expect: int = 0) -> Any:
        result = RUNNER.invoke(app, [*args, "--store", self.store_url])
        assert result.exit_code == expect, (args, result.exit_code, result.output,
                                            result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def apply(self, commands: Iterable[dict[str, Any]], expect: int = 0) -> Any:
        self._files += 1
        path = self.workdir / f"commands-{self._files}.jsonl"
        path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands),
                        encoding="utf-8")
        return self.run("apply", str(path), expect=expect)

    def advance(self, to: str, contract: str | None = None) -> Any:
        args = ["advance", "--to", to] + (["--contract", contract] if contract else [])
        return self.json(*args)

    def status(self, contract_id: str, *extra: str) -> dict[str, Any]:
        return self.json("status", contract_id, *extra)

    def bill(self, contract_id: str, month: str, *extra: str) -> dict[str, Any]:
        return self.json("bill", contract_id, "--month", month, *extra)

    def line(self, contract_id: str, line_id: str, *extra: str) -> dict[str, Any]:
        return next(x for x in self.status(contract_id, *extra)["lines"]
                    if x["line_id"] == line_id)

    def items(self, contract_id: str, month: str, line_id: str | None = None
              ) -> list[tuple[str | None, str, str]]:
        """(line, kind, amount) of a service month's items, optionally one line's."""
        return [(i["line_id"], i["kind"], i["amount"])
                for i in self.bill(contract_id, month)["items"]
                if line_id is None or i["line_id"] == line_id]


def cmd(kind: str, at: str, contract_id: str = "REF", **fields: Any) -> dict[str, Any]:
    return {"type": kind, "at": at, "contract_id": contract_id, **fields}
