"""The `harness` command. Every option can also be set by the environment variable shown in --help."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import click

from . import __version__
from . import gate as gating
from .gate import EXIT_CODES, EXIT_INCONCLUSIVE, EXIT_PASS, EXIT_REGRESSION, METRIC_HELP
from .models import ModelError, make_adapter
from .registry import all_tasks, get_task
from .metrics import paired_comparison
from .report import as_json, as_table, per_sample_scores, summarize
from .distributed.settings import ExecutorError
from .runner import RunConfig, RunConflict, Runner
from .cli_options import opt, pairs as _pairs
from .selection import check_selection, window_options
from .store import Store, StoreError
from .task import LoadOptions, TaskError, load_template
from .types import GenParams

EXIT_INTERRUPTED = 130
EXIT_INCOMPLETE = 3


class HarnessError(click.ClickException):
    """One clear line, with a hint, and exit code 1."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))

def _store(ctx: click.Context) -> Store:
    try:
        return Store(ctx.obj["store"])
    except StoreError as exc:
        raise HarnessError(str(exc), "pass --store with a writable path") from exc

@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@opt("--store", env="HARNESS_STORE", type=click.Path(dir_okay=False, path_type=Path),
     default=Path(".harness/store.sqlite"), help="SQLite file holding runs, responses and verdicts.")
@click.version_option(__version__, prog_name="harness")
@click.pass_context
def main(ctx: click.Context, store: Path) -> None:
    """Evaluate code LLMs on benchmarks: load, prompt, sandbox, grade, report.

    \b
    Typical use:
      harness list
      harness run --task tmbench --model openai:gpt-4o --limit 20
      harness report --format json
    Running the same `harness run` again resumes it: finished samples are skipped and
    responses and verdicts already computed are reused.
    """
    ctx.ensure_object(dict)
    ctx.obj["store"] = store

@main.command("list")
@opt("--task", "-t", "task_ref", env="HARNESS_TASK", help="Describe this one task instead (as `harness describe`).")
def list_cmd(task_ref) -> None:
    """List the tasks: built-in folders and installed plug-ins, with their splits and sizes."""
    if task_ref:
        click.echo(_describe(task_ref))
        return
    rows = []
    for task in all_tasks():
        size = task.size()
        rows.append((task.name, ", ".join(task.splits), "?" if size is None else str(size), task.description))
    header = ("task", "splits", "samples", "description")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header[:3])]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])

def _describe(task_ref: str) -> str:
    try:
        task = get_task(task_ref)
    except TaskError as exc:
        raise HarnessError(str(exc)) from exc
    size = task.size()
    lines = [f"{task.name}: {task.description}", f"  folder:   {task.folder}",
             f"  splits:   {', '.join(task.splits)} (default {task.default_split})",
             f"  samples:  {'?' if size is None else size}", f"  version:  {task.version} (code {task.code_hash[:12]})"]
    if task.metadata_keys:
        lines.append(f"  metadata: {', '.join(task.metadata_keys)} (stored per sample; metrics broken down by each)")
    if task.cluster_key:
        lines.append(f"  clusters: {task.cluster_key} (the gate resamples whole clusters)")
    for name, size in task.subsets.items():
        from .gate.stats import mde_mcnemar

        mde = mde_mcnemar(size, 0.2, 0.05)
        lines.append(f"  subset:   --subset {name}: {size} samples, stratified; a gate at alpha 0.05 detects a drop of "
                     f"{100 * mde:.0f} points of pass@1 with power 0.8 (for 20% discordant pairs)")
    if task.grader_image:
        lines.append(f"  grades in the sandbox image {task.grader_image}")
    if task.uses_judge:
        lines.append("  grades with a judge model: --judge-model BACKEND:NAME")
    lines.append("  options (-T KEY=VALUE):" if task.options else "  options:  none")
    lines += [f"    {o.describe()}" for o in task.options]
    why = task.unavailable()
    if why:
        lines.append(f"  cannot run here: {why}")
    return "\n".join(lines)


@main.command()
@click.argument("task_ref", metavar="TASK")
def describe(task_ref) -> None:
    """Describe TASK: splits, size, metadata, sandbox image, judge, and the options -T accepts."""
    click.echo(_describe(task_ref))


def _gen_params(temperature, top_p, max_tokens, stop, seed, model_arg) -> GenParams:
    return GenParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=tuple(stop), seed=seed,
                     extra=tuple(sorted(_pairs(model_arg, "--model-arg").items())))


def execute_run(store: Store, task_ref: str, model: str, params: GenParams, options: LoadOptions,
                samples: int = 1, prompt_template: Path | None = None, run_name: str | None = None,
                fresh: bool = False, base_url: str | None = None, concurrency: int | None = None,
                grade_workers: int = 2, progress: bool = True, task_args: dict[str, str] | None = None,
                judge_model: str | None = None, judge_params: GenParams | None = None,
                judge_base_url: str | None = None, executor: str = "local", address: str | None = None,
                executor_args: dict[str, str] | None = None) -> tuple[Runner, object]:
    ray = _ray_executor(executor, address, executor_args)
    task = get_task(task_ref)
    check_selection(task, options)
    options.args = task.parse_args(task_args or {})
    why = task.unavailable() if ray is None else None  # on a cluster each sandbox node checks for itself
    if why:
        raise TaskError(f"task {task.name!r} cannot run here: {why}")
    if judge_model and not task.uses_judge:
        raise TaskError(f"task {task.name!r} does not grade with a judge model; drop --judge-model")
    template_path = prompt_template or task.template_path()
    template, template_sha = load_template(template_path)
    if ray is not None and model.partition(":")[0] in ("hf", "vllm"):  # a local model: in a generation actor
        adapter = ray.generation_adapter(model, params)
    else:
        adapter = make_adapter(model, params, task, base_url=base_url, concurrency=concurrency)
    judge_params = judge_params or GenParams()
    judge = make_adapter(judge_model, judge_params, task, base_url=judge_base_url) if judge_model else None
    cfg = RunConfig(task=task, adapter=adapter, params=params, options=options, template=template,
                    template_sha256=template_sha, template_path=str(template_path), samples_per_problem=samples,
                    run_name=run_name, fresh=fresh, grade_workers=grade_workers, progress=progress, judge=judge,
                    judge_params=judge_params, executor=ray)
    runner = Runner(cfg, store)
    ref = task_ref if not Path(task_ref).is_dir() else str(Path(task_ref).resolve())
    runner.record["task_ref"] = ref
    return runner, runner.run()

def _ray_executor(executor: str, address: str | None, pairs: dict[str, str] | None):
    """The Ray executor for `--executor ray` (None for local); --address and --executor-arg need it."""
    if executor != "ray":
        if address or pairs:
            raise TaskError("--address and --executor-arg are settings of --executor ray")
        return None
    from .distributed import make_executor

    return make_executor(address, pairs, log=lambda msg: click.echo(msg, err=True))

@main.command()
@opt("--task", "-t", "task_ref", env="HARNESS_TASK", required=True,
     help="Task name (see `harness list`), an installed plug-in, or a task folder's path.")
@opt("--model", "-m", env="HARNESS_MODEL", required=True,
     help="BACKEND:NAME: openai:<model>, anthropic:<model>, hf:<hub id or folder> (transformers), "
     "vllm:<hub id or folder> (GPU), replay:<file.jsonl>, or oracle.")
@opt("--limit", env="HARNESS_LIMIT", type=click.IntRange(min=1), help="Evaluate only the first N samples.")
@opt("--samples", "-n", env="HARNESS_SAMPLES", type=click.IntRange(min=1), default=1,
     help="Attempts per sample (for pass@k).")
@opt("--split", env="HARNESS_SPLIT", help="Task split or variant (default: the task's own).")
@opt("--subset", env="HARNESS_SUBSET", help="A named small subset of the task (`harness describe TASK` lists them "
     "with the drop each can detect): deterministic, keeping the benchmark's mix; for pull-request gates.")
@opt("--data", env="HARNESS_DATA", help="Local data file or folder, or hf:<repo id>[@revision].")
@opt("--prompt-template", env="HARNESS_PROMPT_TEMPLATE", type=click.Path(exists=True, dir_okay=False, path_type=Path),
     help="A Jinja template to use instead of the task's own prompt.jinja.")
@opt("--run-name", env="HARNESS_RUN_NAME", help="Name of the run (default: derived from the configuration).")
@opt("--fresh", env="HARNESS_FRESH", is_flag=True, help="Ignore cached responses and verdicts; redo everything.")
@opt("--base-url", env="HARNESS_BASE_URL", help="OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp, Ollama).")
@opt("--temperature", env="HARNESS_TEMPERATURE", type=float, default=0.0, help="Sampling temperature.")
@opt("--top-p", env="HARNESS_TOP_P", type=float, help="Nucleus sampling.")
@opt("--max-tokens", env="HARNESS_MAX_TOKENS", type=click.IntRange(min=1), help="Token budget per response.")
@opt("--stop", env="HARNESS_STOP", multiple=True, help="Stop sequence (repeatable).")
@opt("--seed", env="HARNESS_SEED", type=int, help="Sampling seed, where the backend supports one.")
@opt("--model-arg", env="HARNESS_MODEL_ARG", multiple=True, help="Backend-specific KEY=VALUE (repeatable), "
     "e.g. api=completions for openai.")
@opt("--concurrency", env="HARNESS_CONCURRENCY", type=click.IntRange(min=1),
     help="Most model requests in flight (API backends adapt below it on rate limits).")
@opt("--grade-workers", env="HARNESS_GRADE_WORKERS", type=click.IntRange(min=1), default=2,
     help="Samples graded in parallel (and the size of each sandbox pool).")
@opt("--executor", env="HARNESS_EXECUTOR", type=click.Choice(["local", "ray"]), default="local",
     help="Where samples are graded: in this process, or on a Ray cluster's sandbox nodes (pip install "
     "'harness[ray]'; the store stays here).")
@opt("--address", env="HARNESS_RAY_ADDRESS", help="The Ray cluster (HEAD:6379, or ray://HEAD:10001 from outside it); "
     "default RAY_ADDRESS, else a one-node Ray on this machine.")
@opt("--executor-arg", env="HARNESS_EXECUTOR_ARG", multiple=True, help="Ray executor KEY=VALUE (repeatable): "
     "slots, in_flight (per node), gpus (local models' actor; 0: CPU), namespace, resource, connect_timeout, "
     "start_timeout, idle_close (seconds).")
@opt("--task-arg", "-T", env="HARNESS_TASK_ARG", multiple=True,
     help="Task option KEY=VALUE (repeatable); `harness describe TASK` lists a task's options.")
@opt("--judge-model", env="HARNESS_JUDGE_MODEL",
     help="BACKEND:NAME of the model that grades, for tasks that use a judge (same backends as --model; greedy).")
@opt("--judge-base-url", env="HARNESS_JUDGE_BASE_URL", help="OpenAI-compatible endpoint of the judge model.")
@opt("--judge-model-arg", env="HARNESS_JUDGE_MODEL_ARG", multiple=True,
     help="Backend-specific KEY=VALUE for the judge (repeatable), e.g. timeout=300.")
@window_options
@click.pass_context
def run(ctx, task_ref, model, limit, samples, split, subset, data, prompt_template, run_name, fresh, base_url,
        temperature, top_p, max_tokens, stop, seed, model_arg, concurrency, grade_workers, task_arg,
        judge_model, judge_base_url, judge_model_arg, since, until, executor, address, executor_arg) -> None:
    """Evaluate MODEL on TASK and store every response and verdict as it is produced.

    Run the same command again to resume: finished samples are skipped, responses already
    generated are reused. The metrics table is printed at the end (see also `harness report`).
    """
    store = _store(ctx)
    params = _gen_params(temperature, top_p, max_tokens, stop, seed, model_arg)
    options = LoadOptions(split=split, data=data, limit=limit, subset=subset, since=since, until=until)
    try:
        runner, summary = execute_run(store, task_ref, model, params, options, samples, prompt_template, run_name,
                                      fresh, base_url, concurrency, grade_workers,
                                      task_args=_pairs(task_arg, "--task-arg"), judge_model=judge_model,
                                      judge_base_url=judge_base_url,
                                      judge_params=GenParams(extra=tuple(sorted(_pairs(judge_model_arg,
                                                                                       "--judge-model-arg").items()))),
                                      executor=executor, address=address,
                                      executor_args=_pairs(executor_arg, "--executor-arg"))
    except RunConflict as exc:
        raise HarnessError(str(exc)) from exc
    except (TaskError, ModelError, ExecutorError) as exc:
        raise HarnessError(str(exc)) from exc
    except KeyboardInterrupt:  # before the run started (loading a model, waiting for another process)
        click.echo("\nInterrupted before any sample ran; nothing was lost.", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    if summary.interrupted:
        click.echo(f"\nInterrupted. Finished samples are saved in {store.path}.\n"
                   f"Resume with the same command (run {summary.run}).", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    click.echo(as_table([summarize(store, store.get_run(summary.run), runner.cfg.task)]))
    _coverage_warnings(ctx, runner, summary)
    if summary.skipped:
        click.echo(f"({summary.skipped} attempts were already done and were skipped)", err=True)
    infra = summary.counts.get("infra", 0)
    if infra:
        click.echo(f"{infra} attempts hit infrastructure failures (not counted against the model); "
                   f"run the same command again to retry them.", err=True)
        ctx.exit(EXIT_INCOMPLETE)

def _coverage_warnings(ctx: click.Context, runner: Runner, summary) -> None:
    """Inputs that can only score zero say so: predictions that match no sample (an error), or only some."""
    missing = summary.facts.get("missing", 0)
    new = sum(summary.counts.values())
    if not missing:
        return
    adapter = runner.cfg.adapter
    by_prompt = getattr(adapter, "by_prompt", False)  # a COFFE file: keyed by whole prompts, not ids
    theirs = next(iter(getattr(adapter, "predictions", {}) or {}), None)
    if theirs and by_prompt:
        start = " ".join(theirs.split())
        start = start if len(start) <= 60 else start[:57] + "..."
        example = f" (its prompts begin like {start!r}; the task's first sample is {summary.first_sample_id!r})"
    else:
        example = (f" (the file has ids like {theirs!r}, the task {summary.first_sample_id!r})"
                   if theirs and summary.first_sample_id else "")
    if missing == new:
        hint = ("a COFFE file is matched by the exact prompt the model was sent: check --split, --data and "
                "--prompt-template" if by_prompt else "check the ids, and --task/--split/--data")
        raise HarnessError(f"{adapter.spec}: none of the {new} attempts has a prediction in the file{example}",
                           f"{hint}; the run is stored, its score is zero")
    click.echo(f"warning: {missing} of {new} attempts had no prediction in {adapter.spec} (graded as empty "
               f"responses)", err=True)


def _find_run(store: Store, name: str | None):
    run = store.get_run(name) if name else store.latest_run()
    if run is None:
        if name:
            known = ", ".join(r.name for r in store.list_runs()[:10]) or "none"
            raise HarnessError(f"no run named {name!r} in {store.path}", f"runs: {known}")
        raise HarnessError(f"no runs in {store.path}", "start one with `harness run --task T --model M`")
    return run

@main.command()
@click.argument("run_names", metavar="[RUN]...", nargs=-1)
@opt("--format", "fmt", env="HARNESS_FORMAT", type=click.Choice(["table", "json", "markdown"]), default="table",
     help="Output format. JSON has run, task, model, metrics, intervals, counts, coverage and record.")
@opt("--recompute", env="HARNESS_RECOMPUTE", is_flag=True,
     help="Recompute the metrics from the stored verdicts with the task's current code (the stored ones stay).")
@click.pass_context
def report(ctx, run_names, fmt, recompute) -> None:
    """Print the metrics of RUN (default: the latest run), with 95% confidence intervals.

    The metrics are the ones saved when the run ended, so the report needs no task code; a run that is not
    complete says so, and how many samples its metrics cover."""
    store = _store(ctx)
    runs = [_find_run(store, n) for n in run_names] or [_find_run(store, None)]
    try:
        summaries = [summarize(store, r, recompute=recompute) for r in runs]
    except TaskError as exc:
        raise HarnessError(str(exc)) from exc
    if fmt == "json":
        click.echo(as_json(summaries[0]) if len(summaries) == 1 else json.dumps(summaries, indent=2, default=str))
    else:
        click.echo(as_table(summaries, markdown=fmt == "markdown"))

@main.command()
@click.argument("run_name", metavar="RUN")
@click.argument("sample_id")
@opt("--format", "fmt", env="HARNESS_FORMAT", type=click.Choice(["text", "json"]), default="text",
     help="Output format.")
@click.pass_context
def show(ctx, run_name, sample_id, fmt) -> None:
    """Show one sample of a run: prompt, response, extracted answer, verdict and its details."""
    store = _store(ctx)
    run = _find_run(store, run_name)
    attempts = store.sample_detail(run.name, sample_id)
    if not attempts:
        raise HarnessError(f"run {run.name!r} has no sample {sample_id!r}")
    if fmt == "json":
        click.echo(json.dumps({"run": run.name, "sample": sample_id, "attempts": attempts}, indent=2,
                              ensure_ascii=False))
        return
    for a in attempts:
        click.secho(f"== sample {sample_id}, attempt {a['index']}: {a['status'].upper()}", bold=True)
        for msg in a["prompt"]:
            click.secho(f"-- prompt ({msg['role']})", fg="cyan")
            click.echo(msg["content"].rstrip())
        facts = list(a["response_facts"])
        if a["usage"].get("finish_reason"):
            facts.append(f"finish reason: {a['usage']['finish_reason']}")
        click.secho("-- response" + (f" ({', '.join(facts)})" if facts else ""), fg="cyan")
        if a["details"].get("withdrawn"):
            click.echo(f"(withdrawn from the metrics by the model adapter: {a['details']['withdrawn']})")
        elif "none" in facts:
            click.echo("(no response was stored: the model gave none; see the verdict's reason)")
        elif "missing" in facts:
            click.echo("(no prediction for this sample in the replay file)")
        elif "empty" in facts:
            click.echo("(the model's response was empty)")
        else:
            click.echo(a["response"].rstrip())
        click.secho("-- answer", fg="cyan")
        click.echo(a["answer"] or "(none)")
        click.secho("-- verdict", fg="cyan")
        click.echo(json.dumps({"status": a["status"], "score": a["score"], **a["details"]}, indent=2,
                              ensure_ascii=False))

@main.command()
@click.argument("run_a", metavar="BASELINE")
@click.argument("run_b", metavar="CANDIDATE")
@opt("--format", "fmt", env="HARNESS_FORMAT", type=click.Choice(["text", "json"]), default="text",
     help="Output format.")
@click.pass_context
def compare(ctx, run_a, run_b, fmt) -> None:
    """Paired comparison of two runs on the samples both graded: the candidate's pass rate minus the
    baseline's, its 95% interval and p-value, and how many samples got better or worse."""
    store = _store(ctx)
    a, b = _find_run(store, run_a), _find_run(store, run_b)
    try:
        cmp = paired_comparison(per_sample_scores(store, a.name), per_sample_scores(store, b.name))
    except ValueError as exc:
        raise HarnessError(f"cannot compare {a.name} and {b.name}: {exc}",
                           "compare runs of the same task and split") from exc
    result = {"baseline": a.name, "candidate": b.name, "samples": cmp.n, "baseline_pass_rate": cmp.mean_a,
              "candidate_pass_rate": cmp.mean_b, "difference": cmp.difference, "interval": list(cmp.interval),
              "p_value": cmp.p_value, "better": cmp.better, "worse": cmp.worse}
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{cmp.n} shared samples: baseline {cmp.mean_a:.4f}, candidate {cmp.mean_b:.4f}\n"
               f"difference {cmp.difference:+.4f} [{cmp.interval[0]:+.4f}, {cmp.interval[1]:+.4f}] "
               f"(95%), p = {cmp.p_value:.4g}; {cmp.better} better, {cmp.worse} worse")


GATE_HELP = f"""Is CANDIDATE credibly worse than BASELINE? Runs of the same task are paired by sample id
    (several attempts of a sample are averaged first); a binary metric is tested with McNemar's mid-p, anything
    else (and clustered samples) with a paired sign-flip permutation test, one-sided, with a fixed seed; several
    metrics or tasks are Holm-corrected. Samples in only one run are listed, infra attempts left out and counted.

    \b
    Exit codes:
      {EXIT_PASS}  pass: no credible drop, and a drop of --min-effect would have been found (or the candidate is
         credibly better: the same test the other way at --alpha)
      {EXIT_REGRESSION}  regression: a credible drop (Holm-adjusted p <= --alpha)
      {EXIT_INCONCLUSIVE}  inconclusive: the run could not detect a drop of --min-effect (the minimum detectable
         effect is printed), or infra attempts exceed --max-infra
      1  the gate cannot be made (a missing run, a bad file, a baseline of another task version, code or data)

    \b
    Example:
      harness export tmbench-default-oracle-1a2b3c4d -o baseline.json
      harness gate --baseline baseline.json --candidate RUN --metric pass@1 --metric score
    """


@main.command(help=GATE_HELP, short_help="Is CANDIDATE credibly worse than BASELINE? Exit 0 pass, 4 regression, "
              "5 inconclusive.")
@opt("--baseline", "-b", "baselines", env="HARNESS_GATE_BASELINE", multiple=True, required=True,
     help="A stored run or an exported baseline file (`harness export`); repeat, or export several runs into "
     "one file, to gate several tasks at once.")
@opt("--candidate", "-c", "candidates", env="HARNESS_GATE_CANDIDATE", multiple=True, required=True,
     help="The run to judge (a stored run, or a file); repeatable, paired with the baseline of its task and split.")
@opt("--metric", "metrics", env="HARNESS_GATE_METRIC", multiple=True,
     help=f"Per-sample metric: {METRIC_HELP} (repeatable; Holm-corrected).")
@opt("--alpha", env="HARNESS_GATE_ALPHA", type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
     default=0.05, help="Family-wise false-alarm rate of the one-sided tests.")
@opt("--min-effect", env="HARNESS_GATE_MIN_EFFECT", type=click.FloatRange(0, min_open=True), default=0.05,
     help="The drop you need to catch, in the metric's units (0.05: five points of pass@1); a run too small to "
     "detect it is inconclusive.")
@opt("--cluster", env="HARNESS_GATE_CLUSTER",
     help="Sample metadata key whose values are clusters (a program, a repository): the tests resample whole "
     "clusters. The task must store it (metadata_keys).")
@opt("--max-infra", env="HARNESS_GATE_MAX_INFRA", type=click.FloatRange(0, 1), default=0.05,
     help="Share of either run's attempts that may be infra failures before the gate is inconclusive.")
@opt("--format", "fmt", env="HARNESS_GATE_FORMAT", type=click.Choice(["text", "markdown", "json"]),
     default="text", help="What to print.")
@opt("--summary", env="GITHUB_STEP_SUMMARY", type=click.Path(dir_okay=False, path_type=Path),
     help="Append the Markdown summary to this file (GitHub Actions' step summary when it sets the variable).")
@opt("--junit", env="HARNESS_GATE_JUNIT", type=click.Path(dir_okay=False, path_type=Path),
     help="Write a JUnit XML report here (one test case per task and metric).")
@click.pass_context
def gate(ctx, baselines, candidates, metrics, alpha, min_effect, cluster, max_infra, fmt, summary, junit) -> None:
    from .gate import output

    store = _store(ctx)
    try:
        base_runs = [r for ref in baselines for r in gating.load(ref, store)]
        cand_runs = [r for ref in candidates for r in gating.load(ref, store)]
        settings = gating.Settings(alpha=alpha, min_effect=min_effect, max_infra=max_infra, cluster_key=cluster)
        result = gating.gate(base_runs, cand_runs, list(metrics), settings)
    except gating.GateError as exc:
        raise HarnessError(f"gate: {exc}") from exc
    code = EXIT_CODES[result.outcome]
    text = {"text": output.as_text, "markdown": output.as_markdown, "json": output.as_json}[fmt](result, code)
    click.echo(text.rstrip("\n"))
    for path, text, mode in ((summary, output.as_markdown, "a"), (junit, output.as_junit, "w")):
        if path:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, mode, encoding="utf-8") as f:
                    f.write(text(result, code) + ("\n" if mode == "a" else ""))
            except OSError as exc:
                raise HarnessError(f"gate: cannot write {path}: {exc.strerror}") from exc
    ctx.exit(code)


@main.command("export", short_help="Export runs as a baseline file for `harness gate`.")
@click.argument("run_names", metavar="RUN...", nargs=-1, required=True)
@opt("--out", "-o", env="HARNESS_EXPORT_OUT", type=click.Path(dir_okay=False, path_type=Path),
     help="Write the baseline file here (default: standard output).")
@click.pass_context
def export_cmd(ctx, run_names, out) -> None:
    """Export RUN... (one per task and split) as a baseline file for `harness gate --baseline FILE`: per-sample
    verdicts, pinned by task version, code, data, options and prompt. Small and stable: commit it."""
    from . import export

    store = _store(ctx)
    try:
        runs = [gating.from_store(store, name) for name in run_names]
        if out:
            export.write(out, runs)
        else:
            click.echo(export.dumps(runs).rstrip("\n"))
    except gating.GateError as exc:
        raise HarnessError(f"export: {exc}") from exc
    for r in runs:
        infra = r.attempt_counts().get("infra", 0)
        if r.status != "complete" or infra:
            click.echo(f"warning: run {r.name} is {r.status}" + (f", with {infra} infra attempts" if infra else "")
                       + ": a baseline should be a complete run (run its command again to finish it)", err=True)
    if out:
        click.echo(f"wrote {out} ({', '.join(f'{r.pin.label}: {len(r.samples)} samples' for r in runs)})", err=True)


@main.command()
@click.argument("task_ref", metavar="TASK")
@click.option("--param", "-p", multiple=True, help="Generator parameter KEY=VALUE (repeatable).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
def generate(task_ref, param, out) -> None:
    """Generate new instances of a task that has a generator (e.g. tmbench: m, alphabet, rule_min_length,
    rule_max_length, init_min_length, init_max_length, steps, count, seed). With --out FILE.jsonl the
    instances are written one per line (streamed when loaded back with --data)."""
    try:
        task = get_task(task_ref)
        if not hasattr(task, "generate"):
            raise HarnessError(f"task {task.name!r} has no instance generator")
        params = dict(p.split("=", 1) for p in param if "=" in p)
        if len(params) != len(param):
            raise click.BadParameter("expected KEY=VALUE", param_hint="--param")
        text = task.generate(jsonl=bool(out and out.suffix == ".jsonl"), **params)
    except TaskError as exc:
        raise HarnessError(str(exc)) from exc
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text)

@main.group()
def images() -> None:
    """Sandbox images: built from the recipes in sandboxes/ (offline from Debian packages when no registry
    answers), tagged with a hash of their recipe and rebuilt only when it changes."""


def _sandbox_call(fn, *args):
    from .sandbox import SandboxError

    try:
        return fn(*args)
    except SandboxError as exc:
        raise HarnessError(str(exc)) from exc


@images.command("build")
@click.argument("names", nargs=-1)
def images_build(names) -> None:
    """Build the images of NAMES (default: every recipe) where their recipe changed."""
    from .sandbox.cli_support import build_images

    for info in _sandbox_call(build_images, list(names) or None):
        state = f"built in {info.build_s:.0f} s" if info.built_now else "up to date"
        click.echo(f"{info.tag}  {info.id[:19]}  {state}")


@images.command("list")
def images_list() -> None:
    """List the harness's images and whether each matches its current recipe."""
    from .sandbox.cli_support import image_rows

    rows = _sandbox_call(image_rows)
    if not rows:
        click.echo("no harness images; `harness images build` makes them")
    for r in rows:
        click.echo(f"{r.tag}  {r.id[:19]}  {r.size_mb:.0f} MB  {'current' if r.current else 'outdated'}")


@images.command("prune")
@click.option("--all", "all_images", is_flag=True, help="Remove every harness image, current ones too.")
def images_prune(all_images) -> None:
    """Remove images of outdated recipes. SWE-bench-Live instance images stay (the task's disk budget,
    `-T disk_budget_gb`, removes the least recently used); --all removes them too."""
    from .sandbox.cli_support import prune

    removed = _sandbox_call(prune, all_images)
    click.echo("\n".join(removed) if removed else "nothing to remove")


@main.group()
def sandbox() -> None:
    """Sandbox containers."""


@sandbox.command("cleanup")
@click.option("--all", "all_containers", is_flag=True, help="Also remove running sandbox containers.")
def sandbox_cleanup(all_containers) -> None:
    """Remove sandbox containers left behind by harness runs that were killed."""
    from .sandbox.cli_support import cleanup

    click.echo(f"removed {_sandbox_call(cleanup, all_containers)} container(s)")



@main.command()
@click.pass_context
def smoke(ctx) -> None:
    """Evaluate every built-in task on a few samples with the embedded models (the oracle, and each task's
    recorded example predictions) and print the results. Needs no network and no API key."""
    store = _store(ctx)
    tables, missing = [], []
    for task in all_tasks():
        options = task.smoke_options()
        if options is None:
            continue
        why = task.unavailable()
        if why:
            missing.append(f"{task.name}: not run: {why}")
            continue
        fixture = task.folder / "fixtures" / "smoke_predictions.jsonl"
        models = ["oracle"] + ([f"replay:{fixture}"] if fixture.is_file() else [])
        summaries = []
        for model in models:
            runner, summary = execute_run(store, str(task.folder), model, GenParams(), options, progress=False)
            summaries.append(summarize(store, store.get_run(summary.run), task))
        tables.append(f"{task.name}: {task.description}\n{as_table(summaries)}")
    click.echo("\n\n".join(tables))
    for line in missing:
        click.echo(line, err=True)
    click.echo("\n" + gate_demo(store))


def gate_demo(store: Store) -> str:
    """`harness gate` on two real TMBench runs: the oracle (baseline) against a damaged oracle (candidate), whose
    every third answer lost its last step. The gate must call it a regression, on pass@1 (McNemar) and on the
    share of steps right (sign-flip permutation)."""
    from .gate import output

    task = get_task("tmbench")
    options = task.smoke_options()
    path = store.path.parent / "smoke" / "tmbench-damaged-oracle.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, sample in enumerate(itertools.islice(task.samples(options), options.limit)):
        text = task.reference_response(sample)
        if i % 3 == 0:
            cut = text.rfind("### Step")
            text = text[:cut] if cut > 0 else ""
        rows.append(json.dumps({"id": sample.id, "response": text}, ensure_ascii=False) + "\n")
    path.write_text("".join(rows), encoding="utf-8")
    names = []
    for model in ("oracle", f"replay:{path}"):
        _, summary = execute_run(store, str(task.folder), model, GenParams(), options, progress=False)
        names.append(summary.run)
    result = gating.gate([gating.from_store(store, names[0])], [gating.from_store(store, names[1])],
                         ["pass@1", "score"], gating.Settings())
    return ("gate demo (tmbench): the oracle as baseline, a damaged oracle as candidate (every third answer lost its "
            "last step); `harness gate` should call it a regression:\n"
            + output.as_text(result, EXIT_CODES[result.outcome]))

from .site.command import site  # noqa: E402  (the site builder's command: harness site --out DIR)

main.add_command(site)
from .validate import validate  # noqa: E402  (harness validate: check a task's references)
main.add_command(validate)
from .plan import plan  # noqa: E402  (harness plan: what a run will pull or build, and its disk)
main.add_command(plan)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
