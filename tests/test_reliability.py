"""The reliability run: every class of bad input is refused clearly, and its report renders.

The report goes to a temp folder; docs/reliability.md is written by ``python -m
sublstm.experiments.reliability``, so running the tests leaves the checkout as it was."""

from collections import Counter

from sublstm.agents import AdvantageAgent
from sublstm.experiments import cli, reliability
from sublstm.experiments.reliability_cases import TINY_TRAIN, cli_cases

TEST = "pytest tests/test_reliability.py"


def test_every_bad_input_is_refused_clearly(tmp_path):
    report = reliability.run_all(tmp_path)
    counts = report.counts()
    assert set(reliability.CLASSES) <= set(counts)  # every class was tried
    assert all(tried >= 2 for tried, _ in counts.values())
    doc = tmp_path / "reliability.md"
    reliability.write_doc(report, doc, TEST)
    unexpected = report.unexpected
    assert not unexpected, "\n".join(f"{o.klass}: {o.case}: {o.detail}" for o in unexpected)
    assert not report.gaps_closed, f"delete {report.gaps_closed} from reliability_cases.KNOWN_GAPS"
    text = doc.read_text()
    assert f"Written by `{TEST}`" in text and "Machine: " in text
    assert ("all were refused clearly" in text) == (not report.unclear)
    for o in report.unclear:  # a known gap is listed with its fix
        assert f"- {o.klass}: {o.case}: " in text and "known gap; fix: " in text
    for name in cli.COMMANDS:  # one row per subcommand in the command-line table
        assert f"\n| {name} | " in text


def test_every_subcommand_has_command_line_cases():
    per_command = Counter(case.argv[0] for case in cli_cases())
    assert set(per_command) == set(cli.COMMANDS)
    assert min(per_command.values()) >= 15 and sum(per_command.values()) >= 70
    names = [case.name for case in cli_cases()]
    assert len(names) == len(set(names))  # the doc lists them by name


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


def test_an_accepted_command_starts_no_work_and_writes_only_in_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scratch = reliability.Scratch(tmp_path / "scratch")
    commands, _ = reliability._available_commands()
    learn = AdvantageAgent.learn
    # valid arguments and no --out: the default run folder would be runs/... of the current folder
    case = reliability.CliCase("valid", ("train", *TINY_TRAIN), ("anything",))
    outcome = reliability.run_cli_case(case, scratch, commands)
    assert not outcome.clear and "started sublstm.agents.agent.AdvantageAgent.learn" in outcome.detail
    assert AdvantageAgent.learn is learn  # the sentinel is gone afterwards
    assert not (tmp_path / "runs").exists()  # the case ran in its own folder
    assert (scratch.root / "case001" / "runs").is_dir()


def test_an_error_line_that_does_not_name_the_option_is_not_clear(tmp_path):
    scratch = reliability.Scratch(tmp_path)
    commands, _ = reliability._available_commands()
    case = reliability.CliCase("names another", ("train", *TINY_TRAIN, "--threads", "0"), ("--seed",))
    outcome = reliability.run_cli_case(case, scratch, commands)
    assert not outcome.clear and "does not name '--seed'" in outcome.detail
