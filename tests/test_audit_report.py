"""`ledger report contract ID --html FILE`, opened in headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.application import LedgerApplication
from tests.audit_support import CID, advance, cmd, ledger_cli, reference_commands, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(page: Path) -> str:
    """The DOM after the page's scripts ran (plotly draws its charts as SVG)."""
    if CHROMIUM is None:
        message = "chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs it")
        pytest.skip(message)
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         "--virtual-time-budget=5000", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_contract_report_in_chromium(sqlite_url: str, tmp_path: Path) -> None:
    app = LedgerApplication(sqlite_url)
    try:
        run(app, reference_commands())
        advance(app, "2025-11-20")
        run(app, [cmd("record_payment", "2025-11-20", amount="12508.61", reference="bank")])
        advance(app, "2026-01-05")
    finally:
        app.close()
    page = tmp_path / "report.html"
    result = ledger_cli("report", "contract", CID, "--html", str(page), "--store", sqlite_url)
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert "<script src=" not in html  # the page carries its own JS: it opens offline
    dom = dump_dom(page)
    assert 'class="main-svg"' in dom  # plotly rendered both charts
    assert dom.count('class="plot-container plotly"') == 2
    assert "Lines over time" in dom and "Balance over time" in dom
    assert '<b id="balance">-17000.00</b>' in dom  # Sep+Oct paid; Nov, Dec owed
    for figure in ("REF-2025/2025-09", "4266.67", "8241.94", "REF-2025/2025-11", "8500.00",
                   "2000.00 x 27/31 = 1741.94 (rounded half-up to 0.01 per item, R1)",
                   "12508.61", "LineActivated"):
        assert figure in dom, figure
    # A numeric balance axis: plotly labels its ticks at round values (a category axis
    # would label the data values instead).
    assert "10,000.00" in dom
    # The balance chart's series: bills issued on the 1st, the payment on Nov 20.
    for point in ('["2025-10-01","-4266.67"]', '["2025-11-01","-12508.61"]',
                  '["2025-11-20","0.00"]', '["2026-01-01","-17000.00"]'):
        assert point in dom, point
    # The timeline: DL-2 pending until its back-dated start, then in service.
    assert ("<td>DL-2</td><td class=\"status-pending\">pending</td>\n<td>2025-08-25</td>"
            "<td>2025-10-05</td>") in dom
    assert ("<td>DL-2</td><td class=\"status-active\">active</td>\n<td>2025-10-05</td>"
            "<td>2026-01-06</td>") in dom
    bad = ledger_cli("report", "contract", CID, "--html", str(tmp_path / "no" / "x.html"),
                     "--store", sqlite_url)
    assert bad.exit_code == 2 and "--html" in bad.stderr
