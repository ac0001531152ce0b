"""The typed, frozen spec of a benchmark. Components' schemas come from their registries."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import Discriminator, Field, Tag, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from suite.blocks import BLOCKS, One, Stack
from suite.data import DATASETS
from suite.optim import OPTIMIZERS, SCHEDULES
from suite.registry import Registry
from suite.spec.base import Strict
from suite.spec.signature import params_model, relation_validators, tagged_union
from suite.spec.space import Param
from suite.spec.strategies import PRUNERS, SAMPLERS
from suite.tasks import TASKS, direction_of
from suite.text.spec import TokenizerSpec

_LAYER = typing.ForwardRef("Layer")


def _blocks_in_blocks(ann: Any) -> Any:
    if ann is Stack:
        return list[_LAYER]  # type: ignore[valid-type]
    if ann is One:
        return _LAYER
    if get_origin(ann) is list and get_args(ann) == (Stack,):
        return list[list[_LAYER]]  # type: ignore[valid-type]
    return ann


# Blocks holding blocks refer to `Layer` by name: their (deferred) models are made in this
# module, so the reference resolves here when they are first built.
Layer = tagged_union(BLOCKS, "block", _blocks_in_blocks, module=__name__)
Optimizer = tagged_union(OPTIMIZERS, "optimizer")
Schedule = tagged_union(SCHEDULES, "schedule")
Sampler = tagged_union(SAMPLERS, "sampler")
Pruner = tagged_union(PRUNERS, "pruner")


def _known(registry: Registry[Any], name: str) -> str:
    if name not in registry:
        raise PydanticCustomError("unknown_component", registry.unknown(name))
    return name


class Reference(Strict):
    """The canonical setting a model spec reproduces; the test suite checks it."""

    input_shape: list[int] = Field(min_length=1, description="input without the batch axis")
    task: str = Field("classification", description="the task whose head is added")
    outputs: int = Field(10, ge=1, description="outputs of the canonical head (e.g. classes)")
    trainable_params: int | None = Field(
        None, ge=1, description="the published count, asserted at input_shape and outputs"
    )
    source: str = Field("", description="where the figure comes from")
    published: str | None = Field(
        None,
        description="the published result this model reproduces: the `model` of a row of "
        "suite/references.csv; a benchmark on that row's dataset shows its verdict",
    )
    smoke_shape: list[int] | None = Field(
        None, description="a smaller input for the one-step training check (default input_shape)"
    )


class ModelSpec(Strict):
    """A model: a stack of blocks and its own search space (paths relative to the model)."""

    extends: str | None = Field(None, description="a model spec file this one builds on")
    family: str = Field("custom", description="cnn, rnn, hybrid, mlp, ... (shown in leaderboards)")
    description: str = ""
    layers: list[Layer] = Field(  # type: ignore[valid-type]
        default_factory=list, description="required, here or in the extended file"
    )
    space: dict[str, Param] = Field(default_factory=dict)
    reference: Reference | None = Field(
        None, description="the canonical input, head and parameter count this spec reproduces"
    )

    @field_validator("layers")
    @classmethod
    def _some_layers(cls, v: list[Any]) -> list[Any]:
        if not v:
            raise PydanticCustomError(
                "no_layers", "a model needs at least one layer (here or in its extends file)"
            )
        return v


class EarlyStopping(Strict):
    """Stop when `monitor` has not improved for `patience` epochs."""

    monitor: str = "val_loss"
    patience: int = Field(3, ge=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best_weights: bool = True


class WeightPenalty(Strict):
    """L1 and L2 penalties on every kernel of the model, added to the training loss."""

    l1: float = Field(0.0, ge=0, description="times the sum of absolute kernel weights")
    l2: float = Field(0.0, ge=0, description="times the sum of squared kernel weights")


class FineTune(Strict):
    """A second phase after the main epochs: unfreeze layers, train on at a lower rate."""

    epochs: int = Field(3, ge=1, description="epochs of the fine-tuning phase")
    learning_rate_factor: float = Field(
        0.1, gt=0, le=1, description="the phase's constant rate: this times the optimizer's"
    )
    unfreeze: str | int = Field(
        "all",
        description="'all', or the first layer made trainable (with all after it): a name, "
        "or an index into the model's layers flattened through nested models",
    )


class Train(Strict):
    """The training recipe shared by every candidate."""

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    optimizer: Optimizer = Field(default_factory=lambda: {"adam": {}}, validate_default=True)  # type: ignore[valid-type]
    schedule: Schedule | None = Field(  # type: ignore[valid-type]
        None, description="learning-rate schedule over the main epochs (default: constant)"
    )
    clipnorm: float | None = Field(None, gt=0, description="clip each gradient to this norm")
    clipvalue: float | None = Field(None, gt=0, description="clip gradient values to +-this")
    global_clipnorm: float | None = Field(
        None, gt=0, description="clip all gradients together to this global norm"
    )
    weight_penalty: WeightPenalty | None = None
    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="classification: smooth the one-hot targets by this"
    )
    class_weight: Literal["balanced"] | dict[int, float] | None = Field(
        None, description="loss weight per class: 'balanced' (inverse frequency) or class -> w"
    )
    early_stopping: EarlyStopping | None = None
    fine_tune: FineTune | None = Field(
        None, description="after the main epochs, unfreeze and train on at a lower rate"
    )
    jit_compile: Literal["auto"] | bool = Field(
        "auto",
        description="XLA: auto = Keras' choice, except recurrent models on a CPU with "
        "TensorFlow, compiled when the trial is long enough (see benchmarks/README.md)",
    )
    steps_per_execution: Literal["auto"] | Annotated[int, Field(ge=1)] = Field(
        "auto",
        description="batches per compiled call: auto = 8, or 1 for recurrent models and PyTorch",
    )
    mixed_precision: bool = Field(
        False, description="mixed_float16 compute (GPUs; slower on CPUs, which stay float32)"
    )
    seeds_together: Literal["auto"] | bool = Field(
        "auto",
        description="train a configuration's seed runs as one program (JAX): auto = when the "
        "backend is JAX and the recipe is in the supported subset (suite.seeds_together)",
    )

    @field_validator("class_weight")
    @classmethod
    def _weights(cls, v: Any) -> Any:
        if isinstance(v, dict) and any(k < 0 or w < 0 for k, w in v.items()):
            raise ValueError("class weights map class indices >= 0 to weights >= 0")
        return v

    @model_validator(mode="after")
    def _one_clip(self) -> Train:
        given = [k for k in ("clipnorm", "clipvalue", "global_clipnorm") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"set only one of clipnorm, clipvalue, global_clipnorm; got {given}")
        return self


COSTS = {"params": "trainable parameters", "latency_ms": "milliseconds to predict one batch"}


def _goal_direction(metric: str) -> Literal["maximize", "minimize"]:
    return "minimize" if metric in COSTS else direction_of(metric)


class Objective(Strict):
    """One objective of a multi-objective search: a val_ metric, `params` or `latency_ms`."""

    metric: str = Field(description="a val_ metric, params (trainable) or latency_ms (one batch)")
    direction: Literal["maximize", "minimize"] | None = Field(
        None, description="default: minimize for losses, errors and costs, else maximize"
    )

    @property
    def resolved_direction(self) -> Literal["maximize", "minimize"]:
        return self.direction or _goal_direction(self.metric)


class Search(Strict):
    """The search budget and strategy, equal for every candidate."""

    trials: int = Field(10, ge=1, description="completed + pruned trials per candidate")
    timeout: float | None = Field(
        None, gt=0, description="seconds per candidate (each worker from its own start)"
    )
    epochs_budget: int | None = Field(
        None, ge=1, description="total epochs per candidate: no trial starts once consumed"
    )
    sampler: Sampler = Field(default_factory=lambda: {"tpe": {}}, validate_default=True)  # type: ignore[valid-type]
    pruner: Pruner = Field(default_factory=lambda: {"median": {}}, validate_default=True)  # type: ignore[valid-type]
    metric: str = Field("val_accuracy", description="ranks trials (with objectives: the first)")
    direction: Literal["maximize", "minimize"] | None = Field(
        None, description="default: minimize for the loss and errors (mae, ...), else maximize"
    )
    prune_on: str | None = Field(
        None, description="the metric reported to the pruner each epoch (default: metric)"
    )
    objectives: list[Objective] | None = Field(
        None,
        min_length=1,
        description="several objectives (a Pareto front): the first is the leaderboard's metric",
    )
    seeds_top_k: int = Field(
        1, ge=1, description="re-train the k best configurations (Pareto front order) on the seeds"
    )
    target: float | None = Field(
        None,
        description="a value of `metric` that counts as reached: the leaderboard reports the "
        "time and epochs each candidate needed to reach it",
    )
    space: dict[str, Param] = Field(
        default_factory=dict, description="dimensions shared by every candidate (train.*)"
    )

    @model_validator(mode="before")
    @classmethod
    def _first_objective(cls, data: Any) -> Any:
        """With objectives, `metric` and `direction` are the first objective's."""
        if not (isinstance(data, dict) and isinstance(data.get("objectives"), list)):
            return data
        first = data["objectives"][0] if data["objectives"] else None
        if not isinstance(first, dict) or "metric" not in first:
            return data
        for key in ("metric", "direction"):
            given = data.get(key)
            if given is not None and first.get(key) is not None and given != first[key]:
                raise ValueError(
                    f"search.{key} is the first objective's; received {key}={given!r} "
                    f"but objectives[0].{key}={first[key]!r}"
                )
        return {**data, "metric": first["metric"], "direction": first.get("direction")}

    @model_validator(mode="after")
    def _pruning_needs_one_objective(self) -> Search:
        if len(self.objectives or ()) > 1 and "pruner" in self.model_fields_set:
            name = next(iter(type(self.pruner).model_fields))
            if name != "none":
                raise ValueError(
                    f"Optuna cannot prune a multi-objective search: remove pruner {name!r} "
                    "(or set it to none)"
                )
        return self

    @property
    def resolved_direction(self) -> Literal["maximize", "minimize"]:
        if self.direction:
            return self.direction
        return _goal_direction(self.metric)

    @property
    def goals(self) -> list[tuple[str, Literal["maximize", "minimize"]]]:
        """(metric, direction) of each objective: one unless `objectives` lists several."""
        if self.objectives:
            return [(o.metric, o.resolved_direction) for o in self.objectives]
        return [(self.metric, self.resolved_direction)]

    @property
    def pruned_metric(self) -> str:
        """What the pruner watches: `prune_on`, else the search metric."""
        return self.prune_on or self.metric


class DataCommon(Strict):
    """Options every dataset has: the fixed, seeded splits."""

    val_fraction: float = Field(0.2, gt=0, lt=1, description="of the training part")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="when the source has no test split")
    max_examples: int | None = Field(None, ge=10, description="cap on training examples")
    split_seed: int = Field(0, description="fixes the splits; never changes with trial seeds")


def _data_members() -> list[Any]:
    members = []
    for name, fn in DATASETS.items():
        own = params_model(fn, f"data.{name}")
        clash = set(own.model_fields) & {"name", *DataCommon.model_fields}
        if clash:
            raise TypeError(
                f"dataset {name!r}: parameter(s) {sorted(clash)} clash with data options"
            )
        fields: dict[str, Any] = {"name": (Literal[name], ...)}
        fields.update({k: (f.annotation, f) for k, f in own.model_fields.items()})
        model = create_model(
            f"data:{name}", __base__=DataCommon, __validators__=relation_validators(fn), **fields
        )
        model.__doc__ = own.__doc__
        members.append(model)
    return members


DataSpec = Annotated[Union[tuple(_data_members())], Field(discriminator="name")]  # noqa: UP007


class Candidate(Strict):
    """One named setup: a model and, for text, a tokenizer."""

    model: ModelSpec
    tokenizer: TokenizerSpec | None = Field(  # type: ignore[valid-type]
        None, description="text tasks: how texts become token ids (fitted on train)"
    )


class Matrix(Strict):
    """Axes whose product is the list of candidates (model x tokenizer), named `model+tokenizer`."""

    model: dict[str, ModelSpec] = Field(min_length=1)
    tokenizer: dict[str, TokenizerSpec] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="text tasks: tokenizers, each tried with every model"
    )


class MatrixCandidates(Strict):
    matrix: Matrix


def _candidates_kind(value: Any) -> str:
    if isinstance(value, MatrixCandidates):
        return "matrix"
    return "matrix" if isinstance(value, dict) and "matrix" in value else "named"


Candidates = Annotated[
    Union[  # noqa: UP007
        Annotated[MatrixCandidates, Tag("matrix")],
        Annotated[dict[str, Candidate], Tag("named")],
    ],
    Discriminator(_candidates_kind),
]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", max_length=100)]


class Benchmark(Strict):
    """A head-to-head benchmark: candidates trained and searched under one budget."""

    extends: str | None = Field(None, description="a benchmark file this one builds on")
    name: Name
    description: str = ""
    task: str = "classification"
    data: DataSpec  # type: ignore[valid-type]
    candidates: Candidates
    train: Train = Field(default_factory=Train)
    search: Search = Field(default_factory=Search)
    seeds: int | list[int] = Field(
        10,
        description="re-train each candidate's best configuration on N seeds (or these seeds); "
        "paired tests need enough of them: with 5 an exact two-sided Wilcoxon test never "
        "reaches p < 0.05, with 10 it can after Holm's correction for up to 7 candidates",
    )

    @field_validator("task")
    @classmethod
    def _task(cls, v: str) -> str:
        return _known(TASKS, v)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> int | list[int]:
        if isinstance(v, int) and v < 0:
            raise ValueError("seeds must be >= 0")
        return v

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def candidate_models(self) -> dict[str, ModelSpec]:
        """The expanded candidates: name -> model."""
        return {name: model for name, (model, _) in self.candidate_setups().items()}

    def candidate_setups(self) -> dict[str, tuple[ModelSpec, Any]]:
        """The expanded candidates: name -> (model, tokenizer or None), in spec order."""
        c = self.candidates
        if not isinstance(c, MatrixCandidates):
            return {name: (cand.model, cand.tokenizer) for name, cand in c.items()}
        toks = c.matrix.tokenizer
        if not toks:
            return {name: (m, None) for name, m in c.matrix.model.items()}
        return {
            f"{name}+{t}": (m, tok) for name, m in c.matrix.model.items() for t, tok in toks.items()
        }
