"""CI-sized smoke of the benchmark tooling: the generator is deterministic and its
commands apply cleanly, and `scripts/bench.py --size tiny` runs end to end and writes
its reports. No timed assertions: figures are only printed (issue #6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generator_is_deterministic_and_calibrated(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_portfolio.py"),
                        "--contracts", "5", "--seed", "3", "--out", str(out)],
                       check=True, capture_output=True, cwd=ROOT)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    lines = [json.loads(x) for x in outs[0].splitlines()]
    assert [c["at"] for c in lines] == sorted(c["at"] for c in lines)
    assert len({c["command_id"] for c in lines}) == len(lines)
    assert {c["contract_id"] for c in lines} == {f"P{i:07d}" for i in range(5)}
    meta = json.loads((tmp_path / "a.meta.json").read_text())
    assert meta["contracts"] == 5 and meta["commands"] == len(lines)


def test_bench_tiny_runs_end_to_end(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--size", "tiny",
                        "--no-pg", "--no-long", "--workdir", str(tmp_path / "w"),
                        "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((tmp_path / "out" / "benchmarks.json").read_text())
    ing = data["ingest_sqlite"]
    # the ledger recorded exactly the events the generator's dry run predicted
    assert (ing["commands"], ing["events"]) == (data["portfolio"]["commands"],
                                                data["portfolio"]["events"])
    assert data["month_end_sqlite"]["contracts"] == data["portfolio"]["contracts"]
    assert "ingest sqlite: stored events/s" in r.stdout
    assert "| measure | figure | reference | ratio |" in (tmp_path / "out" /
                                                         "benchmarks.md").read_text()
