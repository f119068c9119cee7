"""The reliability run: every class of bad input is refused clearly; it writes docs/reliability.md."""

from pathlib import Path

from sublstm.experiments import reliability

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


def test_every_bad_input_is_refused_clearly(tmp_path):
    report = reliability.run_all(tmp_path)
    counts = report.counts()
    assert set(reliability.CLASSES) <= set(counts)  # every class was tried
    assert all(tried >= 2 for tried, _ in counts.values())
    reliability.write_doc(report, DOC)
    assert not report.unclear, "\n".join(f"{o.klass}: {o.case}: {o.detail}" for o in report.unclear)
    text = DOC.read_text()
    assert "all were refused clearly" in text and reliability.COMMAND in text


def test_a_case_that_is_accepted_or_vague_is_not_counted_as_clear(tmp_path):
    scratch = reliability.Scratch(tmp_path)
    accepted = reliability.Case("accepted", lambda s: None)
    vague = reliability.Case("vague", lambda s: int("x"), mentions=("seed",))
    wrong_kind = reliability.Case("wrong kind", lambda s: {}["k"])
    outcomes = [reliability.run_case(c, scratch) for c in (accepted, vague, wrong_kind)]
    assert [o.clear for o in outcomes] == [False, False, False]
    assert "accepted" in outcomes[0].detail and "'seed'" in outcomes[1].detail
    assert "KeyError" in outcomes[2].detail


def test_a_command_that_does_not_fail_is_not_counted_as_clear(tmp_path):
    scratch = reliability.Scratch(tmp_path)
    commands, _ = reliability._available_commands()
    case = reliability.CliCase("help is no error", ("train", "--help"), ("anything",))
    outcome = reliability.run_cli_case(case, scratch, commands)
    assert not outcome.clear and "exit code 0" in outcome.detail
