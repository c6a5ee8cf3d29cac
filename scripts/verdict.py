"""The verdict protocol, resumable: on one dataset with the `paper` preset, per seed
ALD-VAE and the from-scratch retrain at its size, the whole grid over the preset's sizes
and the other methods; the stop rule's ablation; every finished step exported to a
committed results folder, and the report rendered from that folder.

    python scripts/verdict.py --dataset mnist5k                       # the whole protocol
    python scripts/verdict.py --dataset fashion-mnist --subset 5000 \\
        --data_dir measurements/data                                  # Fashion-MNIST, 5,000
    python scripts/verdict.py --dataset mnist5k --phases core --seeds 1,2

Phases (``--phases``, in this order by default): ``core`` runs ALD-VAE, its retrain,
the grid and successive halving on seeds 1-5; ``rivals`` runs hyperband, active units,
ARD and the ordered VAE on seeds 1-3; ``ablation`` runs ALD-VAE with each of the stop
rule's four signals left out in turn on seeds 1-3 (the published rule is the core
phase's ALD-VAE run). ``--seeds`` and ``--methods`` narrow a phase.

The verdict is named ``verdict-<dataset>`` (``verdict-<dataset><N/1000>k`` with a
subset): its runs go to that experiment of a tracking store of its own,
``measurements/<name>/mlflow.db`` (studies in ``measurements/<name>/optuna.db``,
checkpoints beside them; ``measurements/`` is ignored by git), the ablation's to
``<name>-ablation``. After every finished step the experiment is exported to
``results/<name>/`` (``results/<name>-ablation/``), which is committed, and the report
``reports/<name>.pdf`` is rendered from the export. A step is skipped when the export or
the store already holds its finished run, so the protocol continues on a fresh machine
from what is committed; a run of a step that was killed continues from its checkpoint;
a search resumes its study.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parents[1]
CORE = ("adaptive", "grid", "halving")
RIVALS = ("hyperband", "active-units", "ard", "ordered")
PHASES = {
    "core": ((1, 2, 3, 4, 5), CORE),
    "rivals": ((1, 2, 3), RIVALS),
    "ablation": ((1, 2, 3), ()),
}
# The stop rule's ablation: each variant leaves one signal out of the stop condition.
SIGNALS = ("silhouette", "fid", "fid_recon", "recon_loss")
ABLATION_TAG = "benchmark.ablation"


def verdict_name(dataset: str, subset: int) -> str:
    """``verdict-mnist5k``, ``verdict-fashion-mnist5k`` (a 5,000-image subset)."""
    if not subset:
        return f"verdict-{dataset}"
    size = f"{subset // 1000}k" if subset % 1000 == 0 else str(subset)
    return f"verdict-{dataset}{size}"


def ablation_variants() -> dict[str, str]:
    """Variant name (``no-fid``) -> the stop_signals it trains with."""
    return {f"no-{s}": ",".join(o for o in SIGNALS if o != s) for s in SIGNALS}


@dataclass
class Ledger:
    """The finished runs a step may already have: those of the export and of the store."""

    views: list  # RunView

    def find(self, match: Callable) -> object | None:
        done = [v for v in self.views if v.status == "FINISHED" and match(v)]
        return max(done, key=lambda v: v.start_time) if done else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data_dir", default="")
    parser.add_argument("--subset", type=int, default=0)
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--seeds", default="", help="comma list; default: each phase's")
    parser.add_argument("--methods", default="", help="comma list; default: each phase's")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--results", default=str(ROOT / "results"))
    parser.add_argument("--no-report", action="store_true", help="export only")
    parser.add_argument("--preset", default="paper", help="the protocol's preset (paper)")
    parser.add_argument(
        "--workers", type=int, default=1,
        help="local workers of a grid, halving or hyperband search (one GPU takes several)",
    )  # fmt: skip
    parser.add_argument(
        "--work", default="", help="folder of the stores and checkpoints (measurements/)"
    )
    parser.add_argument(
        "--tag", default="", help="appended to the verdict's name: verdict-mnist-gpu"
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a config value over the preset (a smoke test's epochs, latent_sizes)",
    )  # fmt: skip
    args = parser.parse_args()

    name = verdict_name(args.dataset, args.subset)
    if args.preset != "paper":
        name += f"-{args.preset}"
    if args.tag:
        name += f"-{args.tag}"
    work = Path(args.work) / name if args.work else ROOT / "measurements" / name
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    os.environ.setdefault("ALD_BENCHMARK_CHECKPOINTS", str(work / "checkpoints"))

    import torch

    from benchmark.config import parse_int_list, resolve_config
    from benchmark.errors import BenchmarkError
    from benchmark.methods import METHODS, method
    from benchmark.system.interrupts import RunInterrupted, raise_on_signals

    torch.set_num_threads(args.threads)
    raise_on_signals()  # a stop ends the runs KILLED; starting the driver again resumes them
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        print(f"unknown phase {unknown[0]!r}; allowed: {', '.join(PHASES)}", file=sys.stderr)
        return 2
    chosen = [method(m.strip()).name for m in args.methods.split(",") if m.strip()]
    try:
        for phase in phases:
            seeds, methods = PHASES[phase]
            if args.seeds:
                seeds = tuple(parse_int_list(args.seeds, "seeds"))
            if chosen:
                methods = tuple(m for m in methods if m in chosen)
            for seed in seeds:
                values = {"dataset": args.dataset, "seed": str(seed), "device": args.device}
                values |= {"data_dir": args.data_dir, "subset": str(args.subset or "")}
                values |= dict(item.split("=", 1) for item in args.set)
                cfg = resolve_config(args.preset, values)
                driver = Driver(
                    name, cfg, work, Path(args.results), not args.no_report, args.workers
                )
                if phase == "ablation":
                    driver.ablation()
                else:
                    for m in methods:
                        driver.step(METHODS[m])
    except RunInterrupted as stop:
        print(f"{stop}: start the same command again to continue", file=sys.stderr)
        return stop.exit_code
    except BenchmarkError as error:  # bad input or data: one line, what was done is kept
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"results: {Path(args.results) / name}", flush=True)
    return 0


class Driver:
    """One seed's steps of one verdict: each skipped when done, else run, exported and
    reported."""

    def __init__(  # noqa: PLR0913
        self,
        name: str,
        cfg,  # noqa: ANN001 - a RunConfig (imported after the environment is set)
        work: Path,
        results: Path,
        report: bool,
        workers: int = 1,
    ) -> None:
        self.name, self.cfg, self.work = name, cfg, work
        self.results, self.report, self.workers = results, report, workers
        self._prepared = None

    # --- where runs are -------------------------------------------------------------
    def experiment_id(self, experiment: str) -> str:
        import mlflow

        exp = mlflow.get_experiment_by_name(experiment)
        return exp.experiment_id if exp else mlflow.create_experiment(experiment)

    def ledger(self, experiment: str) -> Ledger:
        from mlflow.tracking import MlflowClient

        from benchmark.report.export import read_rows, view_of
        from benchmark.report.views import RunView

        views = [view_of(r) for r in read_rows(self.results / experiment).values()]
        runs = MlflowClient().search_runs([self.experiment_id(experiment)], max_results=5000)
        return Ledger(views + [RunView.of(r) for r in runs])

    def prepared(self):  # noqa: ANN201 - benchmark.tracking.training_run.Prepared
        from benchmark.tracking.training_run import prepare

        if self._prepared is None:
            start = time.perf_counter()
            self._prepared = prepare(self.cfg)
            print(f"seed {self.cfg.seed}: data and extractor ready in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
        return self._prepared

    def stopped_run(self, experiment: str, match: Callable) -> str | None:
        """The newest stopped run (RUNNING from a killed driver, or FAILED/KILLED) of a
        step that has a checkpoint to continue from; the others are ended FAILED."""
        from mlflow.tracking import MlflowClient

        from benchmark import tracking
        from benchmark.report.views import RunView
        from benchmark.training.checkpoint import checkpoint_path

        runs = MlflowClient().search_runs([self.experiment_id(experiment)], max_results=5000)
        stopped = [RunView.of(r) for r in runs]
        stopped = [v for v in stopped if v.status != "FINISHED" and match(v)]
        stopped.sort(key=lambda v: v.start_time, reverse=True)
        keep = next((v.run_id for v in stopped if checkpoint_path(v.run_id).exists()), None)
        for v in stopped:
            if v.status == "RUNNING" and v.run_id != keep:
                tracking.mark_run_failed(v.run_id, "process vanished (verdict driver restarted)")
        return keep

    def finish(self, experiment: str) -> None:
        """Export the seed's runs of ``experiment`` and render its report from the export."""
        from benchmark.report.export import export_experiment
        from benchmark.report.write import generate_report

        folder = self.results / experiment
        counts = export_experiment(experiment, folder, seeds=[self.cfg.seed])
        print(f"exported seed {self.cfg.seed} of {experiment}: {counts} runs -> {folder}",
              flush=True)  # fmt: skip
        if self.report:
            output = ROOT / "reports" / f"{experiment}.pdf"
            generate_report(str(folder), output, overwrite=True)
            print(f"report: {output}", flush=True)

    # --- steps ----------------------------------------------------------------------
    def _is(self, v, **tags: str) -> bool:  # noqa: ANN001 - a RunView
        return v.seed == self.cfg.seed and all(v.tags.get(k) == t for k, t in tags.items())

    def step(self, m) -> None:  # noqa: ANN001 - a benchmark.methods.Method
        from benchmark.methods import adaptive as adaptive_method

        if m is adaptive_method.METHOD:
            adaptive_id = self.adaptive(self.name)
            self.retrain(adaptive_id)
        elif m.is_study:
            self.study(m)
        else:
            self.rival(m)

    def adaptive(self, experiment: str, variant: str = "", stop_signals: str = "") -> str:
        import mlflow

        from benchmark.jobs.rivals import method_tags
        from benchmark.methods import adaptive as adaptive_method
        from benchmark.tracking.training_run import RunPlacement, TrainingSpec, run_training

        tags = method_tags(adaptive_method.METHOD) | ({ABLATION_TAG: variant} if variant else {})

        def match(v) -> bool:  # noqa: ANN001
            return v.method == "adaptive" and self._is(v, **tags)

        label = f"seed {self.cfg.seed}: adaptive{f' {variant}' if variant else ''}"
        done = self.ledger(experiment).find(match)
        if done:
            print(f"{label} done ({done.run_id})", flush=True)
            return done.run_id
        cfg = self.cfg
        if stop_signals:
            from dataclasses import replace

            cfg = replace(cfg, stop_signals=stop_signals)
        resume = self.stopped_run(experiment, match)
        mlflow.set_experiment(experiment)
        name = f"adaptive seed={cfg.seed}" + (f" {variant}" if variant else "")
        out = run_training(
            cfg,
            self.prepared(),
            TrainingSpec.shrinking(resume),
            RunPlacement(run_name=name, extra_tags=tags),
        )
        self.finish(experiment)
        return out.run_id

    def retrain(self, adaptive_id: str) -> None:
        import mlflow

        from benchmark.jobs.rivals import RETRAIN_OF_TAG, RETRAIN_ROLE, ROLE_TAG, method_tags
        from benchmark.methods import adaptive as adaptive_method
        from benchmark.tracking.training_run import RunPlacement, TrainingSpec, run_training

        tags = method_tags(
            adaptive_method.METHOD, **{ROLE_TAG: RETRAIN_ROLE, RETRAIN_OF_TAG: adaptive_id}
        )

        def match(v) -> bool:  # noqa: ANN001
            return v.method == "fixed" and self._is(v, **tags)

        ledger = self.ledger(self.name)
        if ledger.find(match):
            print(f"seed {self.cfg.seed}: retrain done", flush=True)
            return
        adaptive = ledger.find(lambda v: v.run_id == adaptive_id)
        size = int(adaptive.metrics["final_latent_dim"])
        resume = self.stopped_run(self.name, match)
        mlflow.set_experiment(self.name)
        run_training(
            self.cfg,
            self.prepared(),
            TrainingSpec.fixed(size, resume_run_id=resume),
            RunPlacement(
                run_name=f"retrain seed={self.cfg.seed} latent_dim={size}", extra_tags=tags
            ),
        )
        self.finish(self.name)

    def study(self, m) -> None:  # noqa: ANN001 - a study Method
        import mlflow

        from benchmark.jobs.experiment import study_spec
        from benchmark.search.parent import run_search

        storage = f"sqlite:///{self.work / 'optuna.db'}"
        spec = study_spec(self.cfg, m, storage, n_workers=self.workers)  # tpe: 1
        # the verdict's own storage holds one study per seed and search: a stable name,
        # which the committed exports carry (the default one ends with a settings hash)
        spec.study_name = f"{self.cfg.dataset}-{self.cfg.preset}-seed{self.cfg.seed}-{m.name}"

        def match(v) -> bool:  # noqa: ANN001
            return v.method == "gridsearch" and self._is(
                v, **{"benchmark.study_name": spec.study_name}
            )

        if self.ledger(self.name).find(match):
            print(f"seed {self.cfg.seed}: {m.name} done ({spec.study_name})", flush=True)
            return
        mlflow.set_experiment(self.name)
        self.stopped_run(self.name, match)  # a stale parent ends FAILED; the study resumes
        run_search(self.cfg, spec, prepared=self.prepared())
        self.finish(self.name)

    def rival(self, m) -> None:  # noqa: ANN001 - a one-training Method
        import mlflow

        from benchmark.jobs.rivals import RETRAIN_ROLE, ROLE_TAG, run_rival

        role = {ROLE_TAG: RETRAIN_ROLE} if m.retrains else {}

        def match(v) -> bool:  # noqa: ANN001
            return v.method == "fixed" and self._is(
                v, **{"benchmark.selection_method": m.name}, **role
            )

        if self.ledger(self.name).find(match):
            print(f"seed {self.cfg.seed}: {m.name} done", flush=True)
            return
        mlflow.set_experiment(self.name)
        self.stopped_run(self.name, lambda v: v.method == "fixed" and self._is(
            v, **{"benchmark.selection_method": m.name}))  # fmt: skip
        run_rival(m, self.cfg, self.prepared())
        self.finish(self.name)

    def ablation(self) -> None:
        """The stop rule with each signal left out in turn (the published rule is the
        verdict's own ALD-VAE run)."""
        for variant, signals in ablation_variants().items():
            self.adaptive(f"{self.name}-ablation", variant, signals)


if __name__ == "__main__":
    sys.exit(main())
