"""Study versions and retries: a candidate's study for one spec and dataset, a new
version when either changed (`<bench>/<cand>@v2`, ...), and the failed trials that
`--rerun-failed` queues again."""

from __future__ import annotations

from typing import Any

from suite.search.studies import RELEASED
from suite.stores import make_storage

VERSION_SEP = "@v"  # a candidate's later study versions: `<bench>/<cand>@v2`, ...
RERUN_OF = "suite.rerun_of"  # user attr: the failed trial a `--rerun-failed` trial retries


def study_version(
    storage: str, base: str, keys: dict[str, tuple[str, ...]]
) -> tuple[str, int, bool]:
    """The study (name, version, whether it is new) of candidate study `base` whose recorded
    keys match: each of `keys` (a study user attr, e.g. spec_hash) maps to the values accepted
    for it. A study missing an attr is taken as matching (it predates that key). None
    matching: the next version, `base` itself when there is none yet.
    """
    import optuna

    summaries = optuna.get_all_study_summaries(make_storage(storage), include_best_trial=False)
    versions: dict[int, Any] = {}
    for s in summaries:
        name = s.study_name
        if name == base:
            versions[1] = s
        elif name.startswith(base + VERSION_SEP) and name[len(base) + 2 :].isdigit():
            versions[int(name[len(base) + 2 :])] = s
    for v in sorted(versions):
        attrs = versions[v].user_attrs
        if all(attrs.get(k) is None or attrs[k] in ok for k, ok in keys.items()):
            return (base if v == 1 else f"{base}{VERSION_SEP}{v}"), v, False
    if not versions:
        return base, 1, True
    v = max(versions) + 1
    return f"{base}{VERSION_SEP}{v}", v, True


def failed_to_retry(study: Any) -> list[Any]:
    """Failed trials that nothing has retried yet (handed-back ones excluded), oldest first."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.system_attrs.get("failed_trial") for t in trials}
    retried |= {t.user_attrs.get(RERUN_OF) for t in trials}
    return [
        t
        for t in trials
        if t.state == TrialState.FAIL
        and not t.system_attrs.get(RELEASED)
        and t.number not in retried
        and t.params
    ]


def enqueue_failed(study: Any) -> list[int]:
    """Queue each failed, not yet retried trial's configuration again; their numbers."""
    out = []
    for t in failed_to_retry(study):
        study.enqueue_trial(dict(t.params), user_attrs={RERUN_OF: t.number})
        out.append(t.number)
    return out
