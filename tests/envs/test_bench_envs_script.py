"""The env benchmark script: a tiny run produces a table, and the doc section is replaced in place."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_envs.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_envs_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_a_table_for_every_id(bench, tmp_path, capsys):
    doc = tmp_path / "benchmarks.md"
    bench.main(["--steps", "64", "--repeats", "1", "--num-envs", "2", "--write-doc", "--doc", str(doc)])
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n") and bench.SECTION in text
    for env_id in bench.ENV_IDS:
        assert f"| `{env_id}` |" in text
    assert "Command: `python scripts/bench_envs.py --steps 64" in text
    assert "Machine: " in text and "gymnasium" in text


def test_section_replaced_between_other_sections(bench, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\nkeep\n\n## Environment throughput\nold\n\n## Later\nkeep too\n")
    bench.write_doc("## Environment throughput\n\nnew\n", doc)
    assert doc.read_text() == (
        "# Benchmarks\n\n## Other\nkeep\n\n## Environment throughput\n\nnew\n\n## Later\nkeep too\n"
    )
    bench.write_doc("## Environment throughput\n\nnewer\n", doc)
    assert "newer" in doc.read_text() and "\nnew\n" not in doc.read_text()
    assert doc.read_text().count(bench.SECTION) == 1


def test_bad_counts_rejected(bench):
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "0"])
