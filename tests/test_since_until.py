"""`harness run --since/--until`: a created-at window over the samples, through the real CLI and store."""

from __future__ import annotations

import sqlite3

from harness.selection import check_window, in_window
from harness.types import Sample

from .conftest import REPO, write_jsonl

ECHO = str(REPO / "tests" / "fixtures" / "echo_task")

ROWS = [  # (id, created_at): dates, datetimes with and without a zone, an offset
    ("dec31", "2024-12-31T23:59:59Z"),
    ("jan01", "2025-01-01T00:00:00Z"),
    ("jan15", "2025-01-15"),
    ("jan31-late", "2025-01-31T23:59:59"),  # no zone: UTC
    ("feb01-paris", "2025-02-01T00:30:00+01:00"),  # 2025-01-31T23:30Z
    ("feb01", "2025-02-01T00:00:00Z"),
    ("mar10", "2025-03-10T12:00:00Z"),
]


def dated(tmp_path, rows=ROWS):
    return write_jsonl(tmp_path / "dated.jsonl",
                       [{"id": i, "x": n, "expected": 2 * n, "created_at": at} for n, (i, at) in enumerate(rows)])


def graded(cli, run: str) -> set[str]:
    conn = sqlite3.connect(cli.store)
    return {r[0] for r in conn.execute("SELECT sample_id FROM results WHERE run = ?", (run,))}


def run(cli, data, *args, ok=True):
    return cli("run", "--task", ECHO, "--model", "oracle", "--data", str(data), *args, ok=ok)


def test_a_window_keeps_exactly_the_samples_created_in_it_both_ends_inclusive(cli, tmp_path):
    data = dated(tmp_path)
    run(cli, data, "--since", "2025-01-01", "--until", "2025-01-31")
    rep = cli.report()
    assert graded(cli, rep["run"]) == {"jan01", "jan15", "jan31-late", "feb01-paris"}
    assert rep["counts"]["pass"] == 4
    assert rep["record"]["task"]["window"] == {"since": "2025-01-01", "until": "2025-01-31"}


def test_datetime_bounds_are_instants_and_each_side_may_be_open(cli, tmp_path):
    data = dated(tmp_path)
    run(cli, data, "--since", "2025-01-31T23:30:00Z", "--run-name", "late")
    assert graded(cli, "late") == {"jan31-late", "feb01-paris", "feb01", "mar10"}
    run(cli, data, "--until", "2025-01-01T00:59:59+01:00", "--run-name", "early")  # dec31's very instant
    assert graded(cli, "early") == {"dec31"}


def test_two_windows_are_two_runs_and_one_window_written_two_ways_is_one(cli, tmp_path):
    data = dated(tmp_path)
    run(cli, data, "--since", "2025-01-01T00:00:00Z", "--until", "2025-01-31")
    first = cli.report()["run"]
    again = run(cli, data, "--since", "2025-01-01T01:00:00+01:00", "--until", "2025-01-31")
    assert cli.report()["run"] == first and "4 attempts were already done" in again.stderr
    run(cli, data, "--since", "2025-02-01")
    second = cli.report()["run"]
    assert second != first and graded(cli, second) == {"feb01", "mar10"}
    run(cli, data)
    unwindowed = cli.report()
    assert unwindowed["run"] not in (first, second) and unwindowed["record"]["task"]["window"] is None
    assert graded(cli, unwindowed["run"]) == {i for i, _ in ROWS}


def test_the_subset_is_chosen_inside_the_window_and_limit_comes_last(cli, tmp_path):
    rows = [(f"s{i:02d}", f"2025-0{1 + i % 3}-10") for i in range(30)]  # ten samples in each of three months
    data = dated(tmp_path, rows)
    run(cli, data, "--since", "2025-02-01", "--until", "2025-02-28", "--subset", "pr", "--run-name", "sub")
    feb = {i for i, at in rows if at.startswith("2025-02")}
    assert graded(cli, "sub") == feb  # the echo task's pr subset is 10: all of February, nothing else
    run(cli, data, "--since", "2025-02-01", "--limit", "3", "--run-name", "lim")
    assert graded(cli, "lim") == {"s01", "s02", "s04"}  # the first three in the data's order from February on


def test_a_sample_without_created_at_under_a_window_is_an_error_naming_the_task(cli, tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "x": 1, "expected": 2, "created_at": "2025-01-02"},
                                             {"id": "b", "x": 2, "expected": 4}])
    result = run(cli, data, "--since", "2025-01-01", ok=False)
    assert result.exit_code == 1
    assert "task echo has no created_at (sample 'b')" in result.output
    run(cli, data)  # without a window the same data runs
    assert cli.report()["counts"]["pass"] == 2


def test_a_bad_date_or_an_empty_window_is_one_clear_line(cli, tmp_path):
    data = dated(tmp_path)
    bad = run(cli, data, "--since", "last tuesday", ok=False)
    assert bad.exit_code == 2 and "--since" in bad.output and "'last tuesday' is not an ISO 8601 date" in bad.output
    backwards = run(cli, data, "--since", "2025-03-01", "--until", "2025-02-01", ok=False)
    assert backwards.exit_code == 1 and "--since 2025-03-01 is after --until 2025-02-01" in backwards.output
    empty = run(cli, data, "--since", "2026-01-01", ok=False)
    assert empty.exit_code == 1 and "has no samples created 2026-01-01 to now" in empty.output
    garbled = dated(tmp_path, [("x", "sometime in 2025")])
    result = run(cli, garbled, "--until", "2025-12-31", ok=False)
    assert result.exit_code == 1 and "sample 'x': created_at 'sometime in 2025' is not an ISO 8601" in result.output


def test_the_window_comes_from_the_environment_too(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_SINCE", "2025-03-01")
    run(cli, dated(tmp_path), "--run-name", "env")
    assert graded(cli, "env") == {"mar10"}


def test_window_bounds_by_hand():
    assert check_window("2025-01-01T00:00:00+01:00", "2025-01-31") == ("2024-12-31T23:00:00+00:00", "2025-01-31")
    samples = [Sample(i, {}, metadata={"created_at": at}) for i, at in ROWS]
    assert [s.id for s in in_window(samples, "2025-02-01", "2025-02-01", "t")] == ["feb01"]
    assert [s.id for s in in_window(samples, None, "2024-12-31", "t")] == ["dec31"]
