"""scripts/compare.py end to end on a hand-set T-maze agent, and the doc-block writer."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from sublstm.agents.agent import AdvantageAgent

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # compare.py imports its sibling spiking_doc.py

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def handset_checkpoint(tmp_path_factory, set_tmaze_weights):
    """An AdvantageAgent whose network holds the hand-set T-maze solution (see test_spiking_twin)."""
    agent = AdvantageAgent("sublstm/TMaze-v0", env_kwargs={"corridor_length": 2}, n_hidden=2, n_cells=1)
    set_tmaze_weights(agent.network)
    path = tmp_path_factory.mktemp("agent") / "agent.pt"
    agent.save(path)
    return path


def test_compare_end_to_end(handset_checkpoint, tmp_path):
    compare = load_script("compare")
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\n## Analog agent\n\nkept as is\n")
    out = tmp_path / "out.json"
    result = compare.main(
        [
            f"--checkpoint={handset_checkpoint}",
            "--episodes=6",
            "--step-ms=200",
            "--sweep=20,200",
            "--sweep-delays=0,step",
            f"--json={out}",
            f"--plots={tmp_path / 'plots'}",
            f"--write-doc={doc}",
            "--wandb=disabled",
        ]
    )
    saved = json.loads(out.read_text())
    for key in ("analog", "spiking", "agreement", "analog_macs_per_step", "step_ms", "dt_ms"):
        assert key in saved
    assert saved["analog"]["success_rate"] == 1.0
    assert saved["spiking"]["success_rate"] == 1.0
    assert saved["agreement"]["teacher_forced"] == 1.0 and saved["agreement"]["closed_loop"] == 1.0
    assert saved["spiking"]["mean_rate_hz"] > 0 and saved["spiking"]["synops_per_decision"] > 0
    assert saved["analog_macs_per_step"] == result["analog_macs_per_step"] == 3 * 2 + 3 * 3 + 3 * 1 + 3 * 4
    # the 20 ms steps see the junction too late (one wall bump), 200 ms ones do not
    by_step = {(r["recurrent_delay"], r["step_ms"]): r for r in saved["sweep"]}
    assert by_step[("step", 200.0)]["closed_loop"] == 1.0
    assert by_step[("step", 20.0)]["mean_length"] > by_step[("step", 200.0)]["mean_length"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "af_vs_asn.png",
        "memory_cell.png",
        "raster.png",
        "sweep.png",
    ]
    text = doc.read_text()
    assert "## Analog agent\n\nkept as is" in text
    assert text.count("## Spiking twin") == 1 and "| success rate | 1.000 | 1.000 |" in text


def test_write_block_replaces_only_its_own_block(tmp_path):
    from spiking_doc import write_block

    doc = tmp_path / "r.md"
    write_block(doc, "a", "first A")
    assert doc.read_text().startswith("# Results\n")
    with doc.open("a") as f:
        f.write("\n## Analog agent\n\nother text\n")
    write_block(doc, "b", "block B")
    write_block(doc, "a", "second A")
    text = doc.read_text()
    assert "first A" not in text and "second A" in text and "block B" in text
    assert text.index("block B") < text.index("## Analog agent")  # appended inside its section
    assert text.endswith("## Analog agent\n\nother text\n")
    with pytest.raises(ValueError, match="key"):
        write_block(doc, "bad key", "x")
