"""SWE-bench-Live: resolve real GitHub issues; a patch is graded by the exit code of the instance's tests.

Data (data.py): the hub dataset SWE-bench-Live/SWE-bench-Live (splits full, lite, verified, test), local
JSONL/JSON/parquet files in its schema, and the classic SWE-bench schema. Sample ids are instance ids; metadata
is the repository (per-repository metrics, the gate's clusters) and created_at (per-month metrics, `--since` /
`--until`, the site's contamination view).

The prompt (prompt.jinja) is non-agentic: the issue and the files the gold patch touches as they are at
base_commit (context_files.py), asking for a unified diff. Agents' patches come in through `replay:` (SWE-bench
predictions files); the oracle answers the gold patch.

Grading (evaluate.py) runs in the instance's image (images.py: a local mapping, the published image, or one built
offline from a recipe): the patch applied with fallbacks, the test patch applied, the test command run on exactly
FAIL_TO_PASS and PASS_TO_PASS. The exit code is the verdict:

  pass        exit 0: resolved (unless the run's own per-test results show a requested test failed or missing)
  fail        a nonzero exit, or exit 0 contradicted by the per-test results (a disagreement)
  error       the patch did not apply; the tests ran past the deadline (-T test_timeout, default 1800 s)
  ungradable  no test command, no FAIL_TO_PASS (`harness validate` derives them), a test patch that does not apply
  infra       Docker or the image failed (retried on the next run)

Per-test results (junit XML, else pytest's -rA lines) are kept in the verdict, and `disagreement` says when they
contradict the exit code. The tests run in one process with the patched code, so a patch can hook the runner
itself (a conftest.py that reports every test passed): `touches_test_runner` names the files of the patch made
for that (conftest.py, pytest's configuration, .pth, site customisation), and reports count the resolved ones.
It is a flag for the obvious cases, not a proof: any module the tests import runs in that process too.
Options (-T): ids, repo (filters), test_timeout, and the image options of images.py.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import jinja2

from harness.sandbox import ContainerLimits, SandboxError
from harness.task import DataSource, LoadOptions, Task, TaskError, TaskOption
from harness.types import Answer, Prompt, Sample, Status, Verdict

from . import context_files, data
from .evaluate import DEFAULT_LIMITS, LiveContainers, Outcome, run_instance
from .images import IMAGE_OPTIONS, Images, images_from_args
from .patches import extract_patch, test_runner_files

if TYPE_CHECKING:
    from harness.context import TaskContext

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
SIZES = {"lite": 300, "verified": 500}  # full and test grow with each release
DEFAULT_TEST_TIMEOUT_S = 1800.0
FAILED_LISTED = 50  # failed tests named in a verdict


class SweBenchLive(Task):
    name = "swebench-live"
    version = "1"
    description = "SWE-bench-Live: resolve GitHub issues; patches graded by the tests' exit code in the instance image"
    splits = data.SPLITS
    default_split = "lite"
    options = (
        TaskOption("ids", str, "", "only these instance ids (comma-separated)", identity=False),
        TaskOption("repo", str, "", "only instances of these repositories (owner/name, comma-separated)",
                   identity=False),
        TaskOption("test_timeout", float, DEFAULT_TEST_TIMEOUT_S,
                   "seconds the test command may run per instance; past it the container is killed (error)"),
        TaskOption("memory_gb", float, DEFAULT_LIMITS.memory_mb / 1024, "memory of an instance's container (no swap)"),
        TaskOption("cpus", float, DEFAULT_LIMITS.cpus, "CPUs of an instance's container"),
        *IMAGE_OPTIONS,
    )
    metadata_keys = ("repo", "created_at")
    cluster_key = "repo"

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.images: Images | None = None
        self.live = LiveContainers()  # of the grades in progress: removed by close() (a run stopped by Ctrl-C)

    # --- lifecycle ------------------------------------------------------------------------------------
    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.live = LiveContainers()  # a task closed before is opened again: a fresh set
        self.limits()  # a bad -T memory_gb / cpus stops the run here, in one line
        self.images = images_from_args(ctx.args, log=ctx.log)

    def close(self) -> None:
        self.live.close_all()
        self.images = None
        super().close()

    def unavailable(self) -> str | None:
        from harness.sandbox import engine_available

        ok, why = engine_available()
        return None if ok else f"it grades in per-instance Docker images: {why}"

    def _images(self) -> Images:
        if self.images is None:  # outside a run (harness show, a test): the options' defaults
            self.images = images_from_args({o.name: o.default for o in IMAGE_OPTIONS}, log=self._log)
        return self.images

    def _log(self, message: str) -> None:
        if self.ctx is not None:
            self.ctx.log(message)
        else:
            print(message, file=sys.stderr)

    def _arg(self, name: str) -> Any:
        default = next(o.default for o in self.options if o.name == name)
        value = self.ctx.args.get(name) if self.ctx is not None else None
        return default if value is None else value

    # --- data -----------------------------------------------------------------------------------------
    def smoke_options(self) -> LoadOptions | None:
        """The project's own toy instance (fixtures/toy: a repository with a bug, its fix and a test; its recipe is
        recipes/toy__calc-1.json), whose image builds offline in seconds on the swe base image."""
        return LoadOptions(data=str(FIXTURES / "toy" / "instances.jsonl"))

    def size(self, split: str | None = None) -> int | None:
        return SIZES.get(self.split_or_default(split))

    def source(self, options: LoadOptions) -> DataSource:
        ds = data.locate(options.data, self.split_or_default(options.split))
        return DataSource(ds.description, ds.sha256)

    def samples(self, options: LoadOptions) -> Iterator[Sample]:
        """Instances in data order, filtered by -T ids / -T repo. An instance's recipe, where it has one with a
        test command, gives the test command (classic SWE-bench has none); where the data has no FAIL_TO_PASS
        and PASS_TO_PASS, the lists `harness validate` derived on this machine are filled in."""
        args = {o.name: o.default for o in self.options} | dict(options.args)
        ds = data.locate(options.data, self.split_or_default(options.split))
        images = images_from_args(args, log=self._log)
        for inst in data.instances(ds, ids=data.split_list(args["ids"]), repos=data.split_list(args["repo"])):
            yield data.to_sample(completed(inst, images))

    # --- prompt ---------------------------------------------------------------------------------------
    def render(self, sample: Sample, template: jinja2.Template) -> Prompt:
        inst = data.instance_of(sample)
        text = template.render(repo=inst.repo, base_commit=inst.base_commit, instance_id=inst.instance_id,
                               problem_statement=inst.problem_statement, hints_text=inst.hints_text,
                               files=context_files.render_files(self._context_files(inst)))
        return Prompt.chat(text)

    def _context_files(self, inst: data.Instance) -> list[context_files.ContextFile]:
        """The gold patch's files: from the recipe's source where there is a recipe (no image needed), else from
        the image (a published one is pulled now: the prompt must not depend on what happens to be pulled)."""
        images = self._images()
        try:
            recipe = images.recipe(inst)
            if recipe is not None:
                return context_files.gather(inst, recipe=recipe, log=self._log)
            if images.plan(inst).how in ("local", "pull"):
                with images.use(inst) as tag:
                    return context_files.gather(inst, image=tag, log=self._log)
        except Exception as exc:  # noqa: BLE001 - the files are then named as missing, the run goes on
            self._log(f"swebench-live: {inst.instance_id}: no source to read the gold patch's files from: {exc}")
        return context_files.gather(inst, log=self._log)

    # --- answers --------------------------------------------------------------------------------------
    def extract(self, sample: Sample, text: str) -> Answer:
        patch = extract_patch(text)
        return Answer(patch, patch)

    def reference_response(self, sample: Sample) -> str:
        return sample.reference["patch"]

    def grader_fingerprint(self, sample: Sample) -> Any:
        """The image the instance grades in: its id where it is present, the recipe's hash for an image built
        from a recipe (the same before and after the build), the registry name for one to pull."""
        return {"image": self._images().plan(data.instance_of(sample)).fingerprint}

    def plan(self, samples: Iterator[Sample], options: LoadOptions) -> Any:
        """`harness plan`: what grading these samples will pull or build, and the disk it needs (images.py)."""
        from .images import plan_instances

        args = {o.name: o.default for o in self.options} | dict(options.args)
        return plan_instances((data.instance_of(s) for s in samples), images_from_args(args, log=self._log))

    def grade(self, sample: Sample, answer: Answer) -> Verdict:
        inst = data.instance_of(sample)
        if not inst.test_cmds:
            return Verdict(Status.UNGRADABLE, 0.0, {"reason": "no test command for this instance (the data has no "
                                                              "test_cmds and no recipe gives one)"})
        if not inst.fail_to_pass:
            return Verdict(Status.UNGRADABLE, 0.0, {"reason": "no FAIL_TO_PASS tests (derive them with `harness "
                                                              "validate --task swebench-live`)"})
        timeout = float(self._arg("test_timeout"))
        try:
            with self._images().use(inst) as image:
                outcome = run_instance(image, inst, answer.value, tests=inst.listed_tests, timeout_s=timeout,
                                       limits=self.limits(), live=self.live)
        except SandboxError as exc:
            return Verdict(Status.INFRA, 0.0, {"reason": f"{type(exc).__name__}: {exc}"})
        return verdict_of(outcome, inst, answer.value, timeout)

    def limits(self) -> ContainerLimits:
        """An instance container's limits: -T memory_gb and -T cpus, the rest as evaluate.DEFAULT_LIMITS."""
        try:
            return dataclasses.replace(DEFAULT_LIMITS, memory_mb=int(float(self._arg("memory_gb")) * 1024),
                                       cpus=float(self._arg("cpus")))
        except ValueError as exc:
            raise TaskError(f"swebench-live: -T memory_gb / -T cpus: {exc}") from None

    # --- validation and metrics (validate.py, metrics.py) ------------------------------------------------
    def validate(self, sample: Sample, *, repeats: int, fresh: bool, stop: Any) -> Any:
        """`harness validate`: gold and empty patch `repeats` times, lists derived where the data has none."""
        from .validate import validate_sample

        return validate_sample(self, sample, repeats=repeats, fresh=fresh, stop=stop)

    def aggregate(self, results: Any, samples_per_problem: int) -> Any:
        """resolved with its interval, per repository and month, and resolved_validated (metrics.py)."""
        from .metrics import aggregate
        from .validate import status_of

        return aggregate(results, status_of)


def completed(inst: data.Instance, images: Images) -> data.Instance:
    """The instance with its recipe's test command (where the recipe has one) and derived test lists (where the
    data has none and `harness validate` derived them here)."""
    recipe = images.recipe(inst)
    if recipe is not None and recipe.test_cmds:
        inst = dataclasses.replace(inst, test_cmds=tuple(recipe.test_cmds))
    if not inst.fail_to_pass and not inst.pass_to_pass:
        from .validate import derived_tests

        derived = derived_tests(inst, images)
        if derived is not None:
            inst = dataclasses.replace(inst, fail_to_pass=tuple(derived[0]), pass_to_pass=tuple(derived[1]))
    return inst


def verdict_of(out: Outcome, inst: data.Instance, patch: str, timeout_s: float) -> Verdict:
    """The grading rule: exit 0 resolves, unless the run's own per-test results contradict it (a requested test
    failed or did not report, a FAIL_TO_PASS test skipped): then it is a fail, flagged as a disagreement. A nonzero
    exit is a fail whatever the per-test results say (flagged when they all passed)."""
    requested = inst.listed_tests
    details: dict[str, Any] = {"apply_method": out.apply_method, "exit_code": out.exit_code,
                               "empty_patch": not patch.strip(), "image_id": out.image_id,
                               "phases": {k: round(v, 3) for k, v in out.phases.items()}}
    if not out.applied:
        details.update(reason="patch did not apply", apply_log=out.apply_log)
        return Verdict(Status.ERROR, 0.0, details)
    if not out.test_patch_applied:
        details.update(reason="the instance's test patch did not apply (a problem of the data, not the patch)",
                       apply_log=out.apply_log)
        return Verdict(Status.UNGRADABLE, 0.0, details)
    details["log_tail"] = out.log_tail
    if out.timed_out:
        details["reason"] = f"tests timed out after {timeout_s:g} s"
        return Verdict(Status.ERROR, 0.0, details)
    failed = [t for t in requested if out.tests.get(t) in ("failed", "error")]
    missing = [t for t in requested if t not in out.tests]
    skipped = [t for t in requested if out.tests.get(t) == "skipped"]
    details.update(results_from=out.results_from or None, selection=out.selection,
                   tests={"passed": sum(out.tests.get(t) == "passed" for t in requested), "failed": len(failed),
                          "skipped": len(skipped), "missing": len(missing)},
                   failed_tests=failed[:FAILED_LISTED], missing_tests=missing[:FAILED_LISTED],
                   fail_to_pass={t: out.tests.get(t, "missing") for t in inst.fail_to_pass[:FAILED_LISTED]})
    runner_files = test_runner_files(patch)
    if runner_files:  # the patch's code could decide its own verdict: shown, counted, left to the reader
        details["touches_test_runner"] = runner_files
    if out.detail:
        details["ending"] = out.detail
    if out.notes:
        details["notes"] = out.notes
    resolved = out.exit_code == 0
    skipped_f2p = [t for t in inst.fail_to_pass if out.tests.get(t) == "skipped"]
    if out.selection == "all":  # not pytest: no junit report, and its log need not name tests at all
        missing = []
    if resolved and (failed or missing or skipped_f2p):
        # exit 0 from a run whose own report shows a requested test failed, missing or a FAIL_TO_PASS test skipped:
        # not resolved (the patch's code runs inside that process and can choose its status; SWE-bench counts
        # each of these as a failure too)
        details["disagreement"] = details["reason"] = "the tests exited 0 but " + ", ".join(part for part in (
            f"{len(failed)} requested test(s) failed" if failed else "",
            f"{len(missing)} requested test(s) did not report" if missing else "",
            f"{len(skipped_f2p)} FAIL_TO_PASS test(s) were skipped" if skipped_f2p else "") if part)
        return Verdict(Status.FAIL, 0.0, details)
    if resolved:
        return Verdict(Status.PASS, 1.0, details)
    if requested and all(out.tests.get(t) == "passed" for t in requested):
        details["disagreement"] = f"every requested test passed but the tests exited {out.exit_code}"
    details["reason"] = f"the tests exited {out.exit_code}"
    return Verdict(Status.FAIL, 0.0, details)


TASK = SweBenchLive(HERE)
