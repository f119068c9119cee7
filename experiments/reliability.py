"""Bad input of every kind the package takes, tried one case at a time and counted: docs/reliability.md.

    python -m sublstm.experiments.reliability [--doc docs/reliability.md]

A case is refused *clearly* when it raises the expected exception (ValueError and its subclasses
such as CheckpointError, or FileNotFoundError) whose message names what is wrong (the file and
field, the argument, the option), leaves no side effect (no planted module ran, no folder was
made), and - on the command line - when ``sublstm ...`` exits with code 2 and its last line of
output is the one-line ``error: ...`` (argparse's own errors print the usage first), no traceback.
The cases live in :mod:`.reliability_cases`; command-line cases of a subcommand that does not
import yet are reported as not run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .reliability_cases import CLASSES, CLI_CLASS, CLI_WHAT, KNOWN_GAPS, Case, CliCase, Scratch, cli_cases

DOC = Path("docs/reliability.md")
COMMAND = "python -m sublstm.experiments.reliability"


@dataclass
class Outcome:
    klass: str
    case: str
    clear: bool
    detail: str  # the refusal's message, or what went wrong
    ran: bool = True  # False: a module the command needs does not import (being written)


def _available_commands() -> tuple[tuple[str, ...], dict[str, str]]:
    """The subcommands that import, and why the others do not."""
    from sublstm.experiments import cli

    ok, missing = [], {}
    for name in cli.COMMANDS:
        try:
            importlib.import_module(cli.command_module(name))
            ok.append(name)
        except Exception as exc:  # a command module being written right now
            missing[name] = f"{type(exc).__name__}: {exc}"
    return tuple(ok), missing


class WorkStarted(BaseException):
    """Raised in place of the work a command does once its input is accepted (training, the twin
    comparison, benchmark sections, experiment grids): a bad input must be refused before it."""


# module, attribute: where the work of each subcommand starts (after all its checks)
WORK = (
    ("sublstm.agents.agent", "AdvantageAgent.learn"),  # train, demo, bench's training runs
    ("sublstm.agents.supervised", "train_sequence"),  # train --task sequence
    ("sublstm.experiments.peers", "make_model"),  # baselines
    ("sublstm.experiments.comparing", "compare"),  # compare, demo's second step
    ("sublstm.experiments.bench", "run_sections"),  # bench
    ("sublstm.experiments.validation", "run_cells"),  # validate
    ("sublstm.experiments.acceptance", "run_cells"),  # acceptance
    ("sublstm.experiments.gating", "run_cells"),  # gating
    ("sublstm.experiments.twin_tables", "run_cells"),  # twin-tables
)


@contextlib.contextmanager
def no_work():
    """Every entry of :data:`WORK` raises :class:`WorkStarted` naming itself (modules that do not
    import are left alone: their command does not run either)."""
    saved = []
    for module_name, dotted in WORK:
        try:
            owner = importlib.import_module(module_name)
        except Exception:  # a module being written right now
            continue
        *path, attr = dotted.split(".")
        for part in path:
            owner = getattr(owner, part)
        if not hasattr(owner, attr):
            continue

        def started(*args, _what=f"{module_name}.{dotted}", **kwargs):
            raise WorkStarted(_what)

        saved.append((owner, attr, owner.__dict__.get(attr, getattr(owner, attr))))
        setattr(owner, attr, started)
    try:
        yield
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)


def run_cli_case(case: CliCase, scratch: Scratch, commands: tuple[str, ...]) -> Outcome:
    """``cli.main(argv)`` in the case's own folder (so that default output paths such as runs/ and
    docs/ land there): clear when exit code 2, last line ``error: ...`` naming the mentions, no
    traceback, nothing created in the folder and none of the work of :data:`WORK` started."""
    from sublstm.experiments import cli

    base = str(scratch.base_checkpoint()) if any("{base}" in a for a in case.argv) else ""
    folder = scratch.folder()
    if case.prepare is not None:
        case.prepare(folder)
    before = sorted(folder.rglob("*"))
    argv = [a.replace("{dir}", str(folder)).replace("{base}", base) for a in case.argv]
    err, outs = io.StringIO(), io.StringIO()
    saved, cwd = cli.COMMANDS, os.getcwd()
    cli.COMMANDS = commands  # leave out subcommands that do not import yet
    try:
        os.chdir(folder)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(outs), no_work():
            try:
                code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code
    except WorkStarted as exc:
        return Outcome("", case.name, False, f"accepted: started {exc}")
    except ImportError as exc:  # a module the command needs is being written right now
        return Outcome("", case.name, False, f"{type(exc).__name__}: {exc}", ran=False)
    except Exception as exc:
        return Outcome("", case.name, False, f"raised {type(exc).__name__}: {exc}")
    finally:
        os.chdir(cwd)
        cli.COMMANDS = saved
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    made = sorted(set(folder.rglob("*")) - set(before))
    problems = []
    if code != 2:
        problems.append(f"exit code {code!r}")
    if "Traceback" in err.getvalue():
        problems.append("a traceback")
    if "error: " not in last:
        problems.append("no one-line 'error: ...' at the end")
    problems += [f"the error does not name {m!r}" for m in case.mentions if m not in last]
    if made:
        problems.append(f"made {[str(p.relative_to(folder)) for p in made]}")
    detail = last.replace(str(folder), "<dir>")
    return Outcome("", case.name, not problems, "; ".join(problems + [detail]) if problems else detail)


# --- running ------------------------------------------------------------------------------------------
def run_case(case: Case, scratch: Scratch) -> Outcome:
    try:
        case.attempt(scratch)
    except case.expect as exc:
        message = str(exc)
        problems = [
            f"does not name {m!r}" for m in case.mentions if m.format(path=scratch.path) not in message
        ]
    except Exception as exc:  # the wrong kind of refusal is not a clear one
        message, problems = f"{type(exc).__name__}: {exc}", ["raised the wrong kind of error"]
    else:
        message, problems = "accepted", ["accepted"]
    if case.side_effect is not None:
        effect = case.side_effect(scratch)
        if effect:
            problems.append(effect)
    detail = message.replace(str(scratch.root), "<tmp>").splitlines()[0] if message else ""
    return Outcome("", case.name, not problems, "; ".join(problems + [detail]) if problems else detail)


# class title -> (what it covers, the function listing its cases)
@dataclass
class Report:
    outcomes: list[Outcome]
    not_run: dict[str, str]  # command-line cases (or subcommands) that could not run, and why
    seconds: float

    def counts(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for o in self.outcomes:
            tried, clear = out.get(o.klass, (0, 0))
            out[o.klass] = (tried + 1, clear + int(o.clear))
        return out

    @property
    def unclear(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.clear]

    @property
    def unexpected(self) -> list[Outcome]:
        """The unclear cases that are not known gaps (:data:`KNOWN_GAPS`)."""
        return [o for o in self.unclear if o.case not in KNOWN_GAPS]

    @property
    def gaps_closed(self) -> list[str]:
        """Known gaps whose case ran and was refused clearly: their entries can go."""
        return [o.case for o in self.outcomes if o.clear and o.case in KNOWN_GAPS]


def run_all(root: str | Path | None = None) -> Report:
    """Try every case in scratch folders under ``root`` (a new temp folder by default)."""
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if root is None:
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="sublstm-reliability-"))
        scratch = Scratch(Path(root))
        outcomes: list[Outcome] = []
        for klass, (_, cases) in CLASSES.items():
            for case in cases():
                outcome = run_case(case, scratch)
                outcome.klass = klass
                outcomes.append(outcome)
        commands, missing = _available_commands()
        not_run = {}
        for case in cli_cases():
            if case.argv[0] not in commands:
                not_run[case.name] = missing.get(case.argv[0], "no such subcommand")
                continue
            outcome = run_cli_case(case, scratch, commands)
            outcome.klass = CLI_CLASS
            if outcome.ran:
                outcomes.append(outcome)
            else:
                not_run[case.name] = outcome.detail
    return Report(outcomes, not_run, time.perf_counter() - t0)


def _by_command(report: Report) -> list[list]:
    """Rows of the command-line table: subcommand, cases tried, refused clearly, not run."""
    from sublstm.experiments import cli

    rows = []
    for name in cli.COMMANDS:
        mine = [o for o in report.outcomes if o.klass == CLI_CLASS and o.case.startswith(f"{name}: ")]
        skipped = sum(case.startswith(f"{name}: ") for case in report.not_run)
        rows.append([name, len(mine), sum(o.clear for o in mine), skipped])
    return rows


def _shown(detail: str, width: int = 160) -> str:
    """A refusal's message for the doc: one line, at most ``width`` characters, as code."""
    text = detail.replace("`", "'")
    return f"`{text if len(text) <= width else text[: width - 3] + '...'}`"


def render(report: Report, command: str = COMMAND) -> str:
    from .reporting import machine_line, markdown_table

    counts = report.counts()
    described = {**{k: v[0] for k, v in CLASSES.items()}, CLI_CLASS: CLI_WHAT}
    rows = [[k, described[k], tried, clear] for k, (tried, clear) in counts.items()]
    tried = sum(t for t, _ in counts.values())
    clear = sum(c for _, c in counts.values())
    verdict = "all were refused clearly" if tried == clear else f"{tried - clear} were NOT refused clearly"
    known = sum(o.case in KNOWN_GAPS for o in report.unclear)
    if known:
        verdict += f" ({known} of them known gaps, each with the fix it needs below)"
    lines = [
        "# Reliability: bad input, refused clearly",
        "",
        f"Written by `{command}` in {report.seconds:.0f} s; {tried} bad inputs in {len(counts)} classes, "
        f"{verdict}. The cases are in `sublstm.experiments.reliability_cases` (append to add one); "
        f"`{COMMAND}` runs them all and rewrites this page, `pytest tests/test_reliability.py` does too.",
        "",
        "A case is refused clearly when it raises ValueError (CheckpointError for checkpoints, "
        "FileNotFoundError for a missing file) whose message names the file and field, the argument or "
        "the option, with no side effect (no planted code ran, no folder was made). On the command line "
        "(`sublstm.experiments.cli.main(argv)`, run in an empty folder of its own) when it exits with "
        "code 2, its last line of output is the one line `error: ...` naming the option, there is no "
        "traceback, nothing was created in that folder, and none of the command's work started "
        "(training, the agent-twin comparison, a benchmark section or an experiment grid: each is "
        "replaced by a sentinel that counts the case as accepted).",
        "",
        markdown_table(["class", "what", "tried", "refused clearly"], rows),
        "",
        "Command-line cases per subcommand:",
        "",
        markdown_table(["subcommand", "tried", "refused clearly", "not run"], _by_command(report)),
        "",
        f"Machine: {machine_line()}",
        "",
    ]
    if report.unclear:
        lines += ["## Not refused clearly", ""]
        for o in report.unclear:
            fix = f" (known gap; fix: {KNOWN_GAPS[o.case]})" if o.case in KNOWN_GAPS else ""
            lines.append(f"- {o.klass}: {o.case}: {o.detail}{fix}")
        lines.append("")
    if report.not_run:
        lines += [
            "## Command-line cases not run (their subcommand, or a module it needs, does not import)",
            "",
        ]
        lines += [f"- {name}: {why}" for name, why in report.not_run.items()]
        lines.append("")
    lines += ["## Cases", "", "Each case with the first line of its refusal.", ""]
    for klass in counts:
        lines += [f"### {klass}", ""]
        lines += [
            f"- {'ok' if o.clear else 'NOT CLEAR'} {o.case}: {_shown(o.detail)}"
            for o in report.outcomes
            if o.klass == klass
        ]
        lines.append("")
    return "\n".join(lines)


def write_doc(report: Report, path: str | Path = DOC, command: str = COMMAND) -> Path:
    from .reporting import write_text_atomic

    write_text_atomic(path, render(report, command))
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--doc", default=str(DOC), help="the markdown file to write")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    report = run_all()
    path = write_doc(report, args.doc, " ".join([COMMAND, *map(shlex.quote, argv)]))
    tried, clear = len(report.outcomes), len(report.outcomes) - len(report.unclear)
    print(f"{clear} of {tried} bad inputs refused clearly in {report.seconds:.0f} s; wrote {path}")
    for o in report.unclear:
        known = " (known gap)" if o.case in KNOWN_GAPS else ""
        print(f"NOT CLEAR{known} {o.klass}: {o.case}: {o.detail}")
    for case in report.gaps_closed:
        print(f"now refused clearly: {case}; delete it from reliability_cases.KNOWN_GAPS")
    if report.not_run:
        print(f"{len(report.not_run)} command-line cases not run (a module does not import); see {path}")
    return 0 if not report.unclear else 1


if __name__ == "__main__":
    sys.exit(main())
