"""`harness site --out DIR`: build the static leaderboard site from the store (registered on the `harness` group)."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_options import opt
from ..store import default_path
from .build import DEFAULT_TITLE, SiteOptions, build_site
from .store_view import SiteError


def _primary(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        task, sep, metric = pair.partition("=")
        if not sep or not task or not metric:
            raise click.BadParameter(f"{pair!r}: expected TASK=METRIC, e.g. coffe=efficient@1", param_hint="--primary")
        out[task] = metric
    return out


@click.command("site")
@opt("--out", "-o", env="HARNESS_SITE_OUT", required=True, type=click.Path(file_okay=False, path_type=Path),
     help="Folder to build the site in (new, empty, or an earlier build: only what changed is written).")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The store to read (default: harness's --store, which is $HARNESS_STORE or .harness/store.sqlite).")
@opt("--models", "models_file", env="HARNESS_SITE_MODELS", type=click.Path(dir_okay=False, path_type=Path),
     help='JSON facts about models, keyed by model spec: {"openai:gpt-4o": {"label": "GPT-4o", "organisation": '
          '"OpenAI", "training_cutoff": "2023-10"}} (for names and the contamination view).')
@opt("--primary", env="HARNESS_SITE_PRIMARY", multiple=True, metavar="TASK=METRIC",
     help="Rank TASK's benchmarks by METRIC (repeatable; default: the task's first metric with an interval).")
@opt("--title", env="HARNESS_SITE_TITLE", default=DEFAULT_TITLE, show_default=True, help="The site's title.")
@opt("--rebuild", env="HARNESS_SITE_REBUILD", is_flag=True, help="Write every page, even those that did not change.")
@click.pass_context
def site(ctx: click.Context, out: Path, store: Path | None, models_file: Path | None, primary: tuple[str, ...],
         title: str, rebuild: bool) -> None:
    """Build a static leaderboard site from the store: an overview of every model on every benchmark with 95%
    intervals and ties, a page per benchmark, model, run and sample, and every table as CSV and JSON.

    The site opens from disk (no server) and can be copied to any static host. It reads only the store, never a
    task's code; running the command again writes only the pages that changed."""
    parent = (ctx.find_root().obj or {}) if ctx.parent is not None else {}
    store = store or parent.get("store") or default_path()  # default_path reads HARNESS_STORE
    options = SiteOptions(store=Path(store), out=out, models_file=models_file, primary=_primary(primary),
                          title=title, rebuild=rebuild)
    try:
        report = build_site(options)
    except SiteError as exc:
        raise click.ClickException(str(exc)) from exc
    stats = report.output
    click.echo(f"site: {report.index}")
    click.echo(f"  {report.runs} runs, {report.sample_pages:,} sample pages ({report.sample_pages_rendered:,} "
               f"rendered); {stats.files:,} files ({stats.written:,} written, {stats.unchanged:,} unchanged, "
               f"{stats.removed:,} removed), {stats.bytes / 1e6:.2f} MB, overview {report.overview_bytes / 1e3:.1f} "
               f"KB, in {report.seconds:.1f} s")
    for line in report.left_out:
        click.echo(f"note: not shown: {line}", err=True)
