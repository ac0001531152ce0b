"""One benchmark's runs as MLflow holds them, and the per-run figures the comparisons use.

Nothing here reads state of the training code: every figure comes from the tracking store
(tags and metrics named in `suite.track`), so results from many workers read back alike.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from suite import stores, track


class NotFound(LookupError):
    """No benchmark of that name in the tracking store."""


class MixedResults(ValueError):
    """Results that must not be put side by side (other data, other suite version)."""


@dataclass(frozen=True)
class Runs:
    """A benchmark's experiment tags and every run (mlflow.search_runs' DataFrame)."""

    benchmark: str
    uri: str
    tags: dict[str, str]
    frame: Any
    client: Any = field(repr=False)

    @property
    def metric(self) -> str:
        return self.tags.get(track.METRIC, "val_accuracy")

    @property
    def direction(self) -> str:
        return self.tags.get(track.DIRECTION, "maximize")

    @property
    def test_metric(self) -> str:
        return "test_" + self.metric.removeprefix("val_")

    @property
    def target(self) -> float | None:
        value = json.loads(self.tags.get("suite.target") or "null")
        return None if value is None else float(value)

    @property
    def dataset(self) -> str:
        """A label of the dataset: its name, and the problem or file when it has one."""
        doc = json.loads(self.tags.get("suite.data") or "{}")
        if doc:
            return dataset_label(doc)
        names = self.col(f"tags.{track.DATASET}").dropna().unique()
        return str(names[0]) if len(names) else "?"

    def col(self, name: str) -> Any:
        import pandas as pd

        f = self.frame
        return f[name] if name in f else pd.Series([None] * len(f), index=f.index, dtype=object)

    def kind(self, kind: str) -> Any:
        return self.frame[self.col(f"tags.{track.KIND}") == kind]

    def candidates(self) -> list[str]:
        names = self.kind("candidate").get(f"tags.{track.CANDIDATE}", [])
        return [c for c in dict.fromkeys(names) if isinstance(c, str)]


def dataset_label(doc: dict[str, Any]) -> str:
    """`ucr/GunPoint` for {name: ucr, problem: GunPoint}; the file's stem for npz/csv."""
    name = str(doc.get("name", "?"))
    for key in ("problem", "subset", "config"):
        if isinstance(doc.get(key), str):
            return f"{name}/{doc[key]}"
    if isinstance(doc.get("path"), str):
        return f"{name}/{doc['path'].replace(chr(92), '/').rsplit('/', 1)[-1].split('.')[0]}"
    return name


def read(benchmark: str, tracking_uri: str | None = None) -> Runs:
    """Every run of a benchmark, read from the tracking store."""
    import mlflow

    uri = tracking_uri or stores.default_tracking_uri()
    client = stores.tracking_client(uri)
    exp = client.get_experiment_by_name(benchmark)
    if exp is None or exp.lifecycle_stage == "deleted":
        names = sorted(e.name for e in client.search_experiments() if e.name != "Default")
        raise NotFound(f"no benchmark {benchmark!r} in {uri}. Known: {', '.join(names) or 'none'}")
    with stores.use_tracking_uri(uri):  # mlflow.search_runs reads the global URI only
        frame = mlflow.search_runs(experiment_ids=[exp.experiment_id], output_format="pandas")
    frame = track.latest_versions(frame, exp.tags)  # older study versions are not mixed in
    return Runs(benchmark, uri, dict(exp.tags), frame, client)


def best_seed_runs(runs: Runs, candidate: str) -> Any:
    """The completed seed runs of the candidate's best configuration."""
    cand, state = runs.col(f"tags.{track.CANDIDATE}"), runs.col(f"tags.{track.STATE}")
    kind = runs.col(f"tags.{track.KIND}")
    seeds = runs.frame[(kind == "seed") & (cand == candidate) & (state == "COMPLETE")]
    parent = runs.frame[(kind == "candidate") & (cand == candidate)]
    best = parent.iloc[0].get("tags.suite.best_trial") if len(parent) else None
    if isinstance(best, str) and "tags.suite.best_trial" in seeds:
        seeds = seeds[seeds["tags.suite.best_trial"] == best]
    return seeds


def budget_assessments(runs: Runs) -> dict[str, Any]:
    """Each candidate's best configuration's seed runs judged by `suite.budget`'s rule
    (candidates whose seed runs logged no tail, e.g. older results, are left out)."""
    from suite.budget import assess, curves_of

    out = {}
    for name in runs.candidates():
        curves = curves_of(best_seed_runs(runs, name))
        if curves:
            out[name] = assess(curves, runs.direction)
    return out


def seed_scores(runs: Runs, metric: str | None = None) -> Any:
    """Long frame candidate, seed, value: the best configuration's seed runs (test metric)."""
    import pandas as pd

    metric = metric or runs.test_metric
    rows = []
    for name in runs.candidates():
        seeds = best_seed_runs(runs, name)
        if f"metrics.{metric}" not in seeds:
            continue
        for _, r in seeds.iterrows():
            value = r[f"metrics.{metric}"]
            if value is not None and not math.isnan(float(value)):
                seed = r.get(f"tags.{track.SEED}")
                rows.append({"candidate": name, "seed": int(seed), "value": float(value)})
    frame = pd.DataFrame(rows, columns=["candidate", "seed", "value"])
    frame = frame.drop_duplicates(["candidate", "seed"], keep="last")
    frame.attrs.update(benchmark=runs.benchmark, metric=metric, dataset=runs.dataset)
    return frame.sort_values(["candidate", "seed"], kind="stable").reset_index(drop=True)


def tuning_curves(runs: Runs) -> Any:
    """Per candidate and trial (in trial order): its value, the best so far, its epochs and
    the epochs and training seconds consumed up to it (pruned and failed trials included)."""
    import pandas as pd

    trials = runs.kind("trial")
    up = runs.direction == "maximize"
    parts = []
    for name in runs.candidates():
        t = trials[trials.get(f"tags.{track.CANDIDATE}") == name]
        if t.empty:
            continue
        f = pd.DataFrame(
            {
                "candidate": name,
                "trial": t[f"tags.{track.TRIAL}"].astype(int),
                "state": t.get(f"tags.{track.STATE}"),
                "value": _metric(t, "objective"),
                "epochs": _metric(t, "epochs").fillna(0),
                "train_time_s": _metric(t, "train_time_s").fillna(0),
            }
        ).sort_values("trial", kind="stable")
        done = f["value"].where(f["state"] == "COMPLETE")
        f["best_so_far"] = (done.cummax() if up else done.cummin()).ffill()
        f["epochs_cum"] = f["epochs"].cumsum()
        f["time_cum_s"] = f["train_time_s"].cumsum()
        parts.append(f)
    cols = ["candidate", "trial", "state", "value", "best_so_far", "epochs", "epochs_cum"]
    cols += ["train_time_s", "time_cum_s"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    frame.attrs.update(benchmark=runs.benchmark, metric=runs.metric, direction=runs.direction)
    return frame[cols]


def _metric(frame: Any, name: str) -> Any:
    import pandas as pd

    col = f"metrics.{name}"
    if col in frame:
        return frame[col].astype(float)
    return pd.Series(math.nan, index=frame.index)


def to_target(runs: Runs, run_ids: list[str], target: float) -> list[tuple[float, float]]:
    """(epochs, seconds) each run took to reach `target` on the search metric; inf if never.

    Seconds run from the `params` metric (logged after the model is built, before fitting)
    to the epoch that reached the target, from the timestamps MLflow keeps.
    """
    up = runs.direction == "maximize"
    out = []
    for run_id in run_ids:
        history = sorted(runs.client.get_metric_history(run_id, runs.metric), key=lambda m: m.step)
        start = runs.client.get_metric_history(run_id, "params")
        t0 = min((m.timestamp for m in start), default=None)
        hit = next((m for m in history if (m.value >= target if up else m.value <= target)), None)
        if hit is None or t0 is None:
            out.append((math.inf, math.inf))
        else:
            out.append((float(hit.step + 1), max(0.0, (hit.timestamp - t0) / 1000)))
    return out


def _major_minor(version: Any) -> str | None:
    if not isinstance(version, str) or not version:
        return None
    return ".".join(version.split(".")[:2])


def check_mixed(all_runs: list[Runs], allow: bool = False) -> list[str]:
    """Problems with putting these benchmarks' results side by side: data fingerprints that
    differ for one dataset, or suite versions (major.minor) that differ. Raises
    MixedResults unless `allow`; returns the problems as warnings."""
    prints: dict[str, dict[str, set[str]]] = {}
    versions: dict[str, set[str]] = {}
    for runs in all_runs:
        work = runs.frame[runs.col(f"tags.{track.KIND}").isin(["candidate", "trial", "seed"])]
        label = runs.dataset
        for fp in work.get(f"tags.{track.FINGERPRINT}", []):
            if isinstance(fp, str):
                prints.setdefault(label, {}).setdefault(fp, set()).add(runs.benchmark)
        for v in work.get("tags.suite.version", []):
            mm = _major_minor(v)
            if mm:
                versions.setdefault(mm, set()).add(runs.benchmark)
    problems = []
    for label, fps in prints.items():
        if len(fps) > 1:
            where = "; ".join(f"{fp} in {', '.join(sorted(b))}" for fp, b in sorted(fps.items()))
            problems.append(
                f"dataset {label!r} has {len(fps)} different data fingerprints ({where}): "
                "the splits or files differ, so the figures are not comparable"
            )
    if len(versions) > 1:
        where = "; ".join(f"{v} in {', '.join(sorted(b))}" for v, b in sorted(versions.items()))
        problems.append(f"results come from different suite versions ({where})")
    if problems and not allow:
        raise MixedResults(
            "refusing to compare: " + " | ".join(problems) + " (use --allow-mixed to compare "
            "anyway, with a warning)"
        )
    return problems


def sensitivity(runs: Runs, storage: str | None = None) -> Any:
    """Each completed trial's searched values against its value: candidate, trial, param,
    value, objective (long form). `.attrs["importance"]` maps each candidate to Optuna's
    parameter importances (fANOVA, read from the Optuna storage) where they can be computed,
    and `.attrs["most_important"]` to its most important parameter."""
    import pandas as pd

    trials = runs.kind("trial")
    done = trials[runs.col(f"tags.{track.STATE}")[trials.index] == "COMPLETE"]
    rows = []
    for _, r in done.iterrows():
        params = json.loads(r.get("tags.suite.params") or "{}")
        for name, value in params.items():
            rows.append(
                {
                    "candidate": r[f"tags.{track.CANDIDATE}"],
                    "trial": int(r[f"tags.{track.TRIAL}"]),
                    "param": name,
                    "value": value,
                    "objective": _f(r.get("metrics.objective")),
                }
            )
    frame = pd.DataFrame(rows, columns=["candidate", "trial", "param", "value", "objective"])
    importance = _importances(runs, storage)
    frame.attrs.update(
        benchmark=runs.benchmark,
        metric=runs.metric,
        importance=importance,
        most_important={c: next(iter(v)) for c, v in importance.items() if v},
    )
    return frame


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _importances(runs: Runs, storage: str | None) -> dict[str, dict[str, float]]:
    """Optuna's parameter importances per candidate; candidates it cannot rate are left out."""
    import optuna

    from suite.stores import make_storage, resolve_storage

    try:
        store = make_storage(resolve_storage(runs.benchmark, storage))
    except Exception:  # no study storage reachable: no importances
        return {}
    out = {}
    parents = runs.kind("candidate")
    for name in runs.candidates():
        tagged = parents[parents[f"tags.{track.CANDIDATE}"] == name].get(f"tags.{track.STUDY}")
        study_name = next(  # the current study version's name, tagged on its parent run
            (s for s in ([] if tagged is None else tagged) if isinstance(s, str)),
            f"{runs.benchmark}/{name}",
        )
        try:
            study = optuna.load_study(study_name=study_name, storage=store)
            out[name] = {
                k: float(v)
                for k, v in optuna.importance.get_param_importances(
                    study,
                    evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                    target=lambda t: t.values[0],
                ).items()
            }
        except (KeyError, ValueError, RuntimeError):  # unknown study, too few trials
            continue
    return out
