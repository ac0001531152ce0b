"""What the exit code of a command says, and whether a run finished its budget.

| code | meaning |
|------|---------|
| 0    | every candidate finished its budget |
| 1    | an internal error (a bug in the suite: the traceback is shown) |
| 2    | a spec, usage or data error, found before training |
| 3    | finished, but some candidate is incomplete (stopped by failures, ...), or a full disk |
| 130  | interrupted (Ctrl-C); finished trials are kept |
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

OK = 0
INTERNAL = 1
USER = 2
INCOMPLETE = 3
INTERRUPTED = 130


@dataclass(frozen=True)
class Incomplete:
    """A candidate that did not finish its budget, and why."""

    name: str
    reason: str


def incomplete(summaries: Sequence[Any]) -> list[Incomplete]:
    """The candidates of a run (`runner.CandidateSummary`s) that did not finish their budget:
    those whose search stopped early (failures in a row, a storage error)."""
    return [Incomplete(s.name, s.error) for s in summaries if s.error]


def resume_command(command: str, spec: str, options: Sequence[str], names: Sequence[str]) -> str:
    """The command that resumes the incomplete candidates `names` of a run of `spec`."""
    only = [a for n in names for a in ("--only", n)]
    return shlex.join(["suite", command, spec, *options, *only])


def report(missing: Sequence[Incomplete], total: int, resume: str) -> str:
    """The closing summary of a run with incomplete candidates."""
    lines = [
        f"incomplete: {len(missing)} of {total} candidate{'s' * (total != 1)} did not finish "
        f"{'its' if total == 1 else 'their'} budget (exit code {INCOMPLETE}):"
    ]
    lines += [f"  {m.name}: {m.reason}" for m in missing]
    lines.append(
        f"finished trials are kept; once the cause is fixed, resume with:\n  {resume}\n"
        "(add --rerun-failed to retry only the failed trials' configurations)"
    )
    return "\n".join(lines)


def worst(codes: Sequence[int]) -> int:
    """One exit code for several processes: interrupted, then a bug, then incomplete, then a
    user error; a process killed by a signal counts as a bug."""
    known = [c if c in (OK, USER, INCOMPLETE, INTERRUPTED) else INTERNAL for c in codes]
    for code in (INTERRUPTED, INTERNAL, INCOMPLETE, USER):
        if code in known:
            return code
    return OK
