"""Grading one patch in an instance's image: apply it, apply the test patch, run the tests, read the exit code.

`run_instance(image, inst, patch, tests=..., timeout_s=...)` starts one fresh hardened container of the image
(harness/sandbox/instance.py: no network, capabilities dropped, no-new-privileges, pids/memory/CPU limits; the
image's own user and a writable root, since its tests write to /testbed), and removes it at the end whatever
happens. In it, each step its own `docker exec`, so that each exit code is the step's own:

1. the model's patch, copied in as a file, is applied with the first of `git apply --verbose`,
   `git apply --verbose --reject`, `patch --batch --fuzz=5 -p1 -u -i` that succeeds, the tree reset between
   tries (`git checkout -- .`, and the files the failed try created removed). An empty patch is applied by doing
   nothing; a patch that names a path outside the repository or in .git is refused before any try;
2. the files the test patch touches are reset to HEAD (a model's edits to them are undone; files it created
   there are removed) and the test patch is applied (`git apply`). When that fails, the data is at fault if the
   test patch does not apply to base_commit either, else the model's patch is (it is in the test patch's way);
3. the instance's test command runs on exactly the requested tests: its pytest command gets the node ids
   appended (its own positional paths dropped where the command is a plain word list), `-p no:cacheprovider`,
   `-rA`, and a junit XML report written outside /testbed. Its exit code comes from the exec itself (no file
   the tests write stands in for it), under a deadline kept from the host: past it the container is killed.

Per-test results come from the junit XML (size-capped, refused if it declares a DTD, parsed on the host) and,
for what it lacks, the `-rA` summary lines of the log. No parser code of a dataset's is ever run.
"""

from __future__ import annotations

import re
import shlex
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.sandbox import ContainerLimits, InfraError, InstanceSandbox, RunLimits
from harness.sandbox.result import Ending, RunResult

from .data import Instance
from .patches import all_touched, inside_repo

TESTBED = "/testbed"
WORK = "/tmp/harness"  # our files: the patches, the scripts, the junit report (outside the repository)
JUNIT = f"{WORK}/junit.xml"
DEFAULT_LIMITS = ContainerLimits(memory_mb=4096, cpus=2.0, pids=1024, tmpfs_mb=512, shm_mb=256)
STEP_TIMEOUT_S = 120.0  # each git/patch step
JUNIT_CAP = 16 << 20
LOG_CAP = 4 << 20
TAIL_CHARS = 4000
FILE_SIZE_LIMIT_KB = 1 << 20  # `ulimit -f` for the tests: no single file over 1 GiB
APPLY_METHODS = (
    ("git apply", ["git", "apply", "--verbose", f"{WORK}/model.patch"]),
    ("git apply --reject", ["git", "apply", "--verbose", "--reject", f"{WORK}/model.patch"]),
    # -u: read it as a unified diff only, as `touched_files` does (a context diff's names would escape the check
    # of its paths, and patch would write into .git)
    ("patch --fuzz=5", ["patch", "--batch", "--fuzz=5", "-p1", "-u", "-i", f"{WORK}/model.patch"]),
)
# git refuses a repository owned by another user: the image's user may not own /testbed (published images)
GIT_ENV = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*",
           "HOME": "/tmp", "LC_ALL": "C.UTF-8"}

SNAPSHOT_UNTRACKED = f"git ls-files -oz > {WORK}/untracked.before"
RESET_TREE = (f"git checkout -q -- . && git ls-files -oz | sort -z | comm -z -13 "
              f"<(sort -z {WORK}/untracked.before) - | xargs -0 -r rm -f --")
RESET_TEST_FILES = (f"while IFS= read -r -d '' f; do if git cat-file -e \"HEAD:$f\" 2>/dev/null; "
                    f"then git checkout -q HEAD -- \"$f\" || exit 1; else rm -rf -- \"$f\" || exit 1; fi; "
                    f"done < {WORK}/test_files")
APPLY_TEST_PATCH = ["git", "apply", "--verbose", f"{WORK}/test.patch"]
# the test patch against the index, which holds base_commit's files still (the model's patch changed the tree only)
TEST_PATCH_FITS_BASE = ["git", "apply", "--check", "--cached", f"{WORK}/test.patch"]


class LiveContainers:
    """The containers of the grades in progress (a run's, a validation's): `close_all()` removes them when the
    run ends before they do (Ctrl-C), so that no container outlives its run."""

    def __init__(self) -> None:
        self._boxes: set[InstanceSandbox] = set()
        self._lock = threading.Lock()
        self._closed = False

    def add(self, box: InstanceSandbox) -> None:
        """Track `box`; once `close_all()` has run, remove it at once instead (its container was being made while
        the run ended) and raise InfraError."""
        with self._lock:
            if not self._closed:
                self._boxes.add(box)
                return
        box.close()
        raise InfraError("the instance's container was removed as it started (the run ended)")

    def discard(self, box: InstanceSandbox) -> None:
        with self._lock:
            self._boxes.discard(box)

    def close_all(self) -> int:
        with self._lock:
            boxes, self._boxes, self._closed = list(self._boxes), set(), True
        for box in boxes:
            box.close()
        return len(boxes)


@dataclass
class Outcome:
    applied: bool  # the model patch applied (an empty patch counts as applied: nothing to do)
    apply_method: str | None  # "git apply", "git apply --reject", "patch --fuzz=5", or None
    exit_code: int | None  # the test command's exit code, from the docker exec itself (None: not run, timed out)
    timed_out: bool
    tests: dict[str, str]  # node id -> "passed" | "failed" | "error" | "skipped" (junit XML, else the -rA log)
    log_tail: str
    phases: dict[str, float]  # seconds: start, apply, test, teardown
    test_patch_applied: bool = True  # False: the data's test patch does not apply (not the model's fault)
    selection: str = "ids"  # "ids": exactly the requested tests ran; "all": the command's own (no pytest in it)
    results_from: str = ""  # "junit", "log", "junit+log" or "" (no per-test results)
    image_id: str = ""
    detail: str = ""  # how the test run ended, where it did not simply exit (memory killed, a crash)
    apply_log: str = ""  # the apply steps' output tail, where the patch or the test patch did not apply
    notes: list[str] = field(default_factory=list)


def run_instance(image: str, inst: Instance, patch: str, *, tests: Sequence[str] | None, timeout_s: float,
                 limits: ContainerLimits | None = None, live: LiveContainers | None = None) -> Outcome:
    """Grade `patch` on `inst` in a fresh container of `image`. `tests=None` runs the whole test command (to
    derive the lists); otherwise exactly those node ids. Raises InfraError where Docker or the image fails, or
    where the container was removed from outside (`live.close_all()`: the run ended while this one graded)."""
    phases: dict[str, float] = {}
    t0 = time.monotonic()
    wanted = list(dict.fromkeys(tests)) if tests is not None else None
    script, selection = test_script(inst.test_cmds, wanted)
    _require_local(image)  # never pulled here (the docker SDK's run would): Images.ensure pulls or builds
    box = InstanceSandbox(image, limits or DEFAULT_LIMITS, user=None, read_only=False, work_dir=TESTBED,
                          kind="swe-instance")
    if live is not None:
        live.add(box)
    try:
        box.put_files({"harness/model.patch": patch, "harness/test.patch": inst.test_patch,
                       "harness/test_files": "".join(p + "\0" for p in all_touched(inst.test_patch)),
                       "harness/tests.txt": "".join(t + "\n" for t in pytest_args_of(wanted or ())),
                       "harness/run_tests.sh": script}, dest="/tmp")
        phases["start"] = time.monotonic() - t0
        t1 = time.monotonic()
        applied, method, apply_log = _apply_model_patch(box, patch)
        out = Outcome(applied=applied, apply_method=method, exit_code=None, timed_out=False, tests={},
                      log_tail="", phases=phases, selection=selection, image_id=box.image_id)
        if not applied:
            out.apply_log = apply_log
            phases["apply"] = time.monotonic() - t1
            return out
        reset = _step(box, RESET_TEST_FILES)
        if reset.exit_code != 0:  # the patch left the test files in a state git cannot restore (a symlink...)
            out.applied, out.apply_method = False, None
            out.apply_log = "the files of the test patch could not be reset after the patch:\n" + _tail(
                reset.stdout + reset.stderr)
            phases["apply"] = time.monotonic() - t1
            return out
        test_patch = _step(box, APPLY_TEST_PATCH)
        phases["apply"] = time.monotonic() - t1
        if test_patch.exit_code != 0:
            out.apply_log = _tail(test_patch.stdout + test_patch.stderr)
            if _step(box, TEST_PATCH_FITS_BASE).exit_code == 0:  # the model's patch is in its way: the model's
                out.applied, out.apply_method = False, None
                out.apply_log = "the test patch does not apply over the patch (it does to base_commit):\n" + \
                    out.apply_log
            else:  # it does not apply to base_commit either: the data's
                out.test_patch_applied = False
            return out
        t2 = time.monotonic()
        run = box.run(["bash", f"{WORK}/run_tests.sh"], env=GIT_ENV, workdir=TESTBED,
                      limits=RunLimits(timeout_s=timeout_s, output_cap_bytes=LOG_CAP))
        phases["test"] = time.monotonic() - t2
        log = run.stdout + run.stderr
        out.log_tail = _tail(log)
        if run.ending is not Ending.TIMED_OUT and box.dead:
            raise InfraError("the instance's container was removed while its tests ran (the run ended)")
        if run.ending is Ending.TIMED_OUT:
            out.timed_out = True
            out.detail = f"the tests ran past the deadline of {timeout_s:g} s; the container was killed"
            return out
        out.exit_code = run.exit_code
        out.detail = run.detail
        t3 = time.monotonic()
        junit = _read_junit(box, out)
        out.tests, out.results_from = test_results(junit, log, wanted)
        phases["collect"] = time.monotonic() - t3
        return out
    finally:
        t4 = time.monotonic()
        box.close()
        if live is not None:
            live.discard(box)
        phases["teardown"] = phases.pop("collect", 0.0) + time.monotonic() - t4


# ---------------------------------------------------------------------------------------------- steps
def _step(box: InstanceSandbox, command: str | list[str], *, applies_the_patch: bool = False) -> RunResult:
    """One git/patch step, within STEP_TIMEOUT_S. Past it the container is gone and the step is ours (InfraError),
    unless it applies the model's patch: then the patch's size or shape is to blame, and the result says so."""
    argv = ["bash", "-c", command] if isinstance(command, str) else command
    res = box.run(argv, env=GIT_ENV, workdir=TESTBED, limits=RunLimits(timeout_s=STEP_TIMEOUT_S,
                                                                        output_cap_bytes=256 << 10))
    if box.dead and res.ending is not Ending.TIMED_OUT:
        raise InfraError("the instance's container was removed while it was being prepared (the run ended)")
    if res.ending is Ending.TIMED_OUT and not applies_the_patch:
        raise InfraError(f"{' '.join(argv)[:80]} did not finish within {STEP_TIMEOUT_S:g} s in {image_ref(box)}")
    return res


def _require_local(image: str) -> None:
    import docker.errors

    from harness.sandbox import docker_client

    try:
        docker_client().images.get(image)
    except docker.errors.ImageNotFound:
        raise InfraError(f"image {image!r} is not on this machine (pull or build it first)") from None
    except docker.errors.APIError as exc:
        raise InfraError(f"docker could not look up image {image!r}: {exc}") from exc


def image_ref(box: InstanceSandbox) -> str:
    return box.image_id[:19]


def _apply_model_patch(box: InstanceSandbox, patch: str) -> tuple[bool, str | None, str]:
    """(applied, method, log tail of the tries)."""
    if not patch.strip():
        return True, None, ""
    outside = [p for p in all_touched(patch) if not inside_repo(p)]
    if outside:  # `patch` would follow some of them (.git/config, ../): refused before any try
        return False, None, f"refused: the patch touches paths outside the repository or in .git: {outside[:5]}"
    log = []
    for n, (name, argv) in enumerate(APPLY_METHODS):
        res = _step(box, argv, applies_the_patch=True)
        if res.exit_code == 0:
            return True, name, ""
        if res.ending is Ending.TIMED_OUT:  # the container went with it: no other try
            log.append(f"$ {name}: still running after {STEP_TIMEOUT_S:g} s")
            return False, None, _tail("\n".join(log))
        log.append(f"$ {name}: exit {res.exit_code}\n{_tail(res.stdout + res.stderr, 1500)}")
        if n == 0:  # plain `git apply` changes nothing when it fails: the tree is still as the image has it
            _step(box, SNAPSHOT_UNTRACKED)
            continue
        reset = _step(box, RESET_TREE)
        if reset.exit_code != 0:
            raise InfraError(f"could not reset /testbed after a failed `{name}`: {_tail(reset.stderr, 300)}")
    return False, None, _tail("\n".join(log))


def _read_junit(box: InstanceSandbox, out: Outcome) -> str:
    res = box.run(["head", "-c", str(JUNIT_CAP + 1), JUNIT], env=GIT_ENV, workdir="/",
                  limits=RunLimits(timeout_s=60, output_cap_bytes=JUNIT_CAP + 1))
    if res.exit_code != 0 or res.ending is Ending.TIMED_OUT:
        return ""
    if len(res.stdout.encode("utf-8", "replace")) > JUNIT_CAP or res.stdout_truncated:
        out.notes.append(f"the junit report is over {JUNIT_CAP >> 20} MiB: not read")
        return ""
    return res.stdout


def _tail(text: str, n: int = TAIL_CHARS) -> str:
    return text if len(text) <= n else "..." + text[-n:]


# ------------------------------------------------------------------------------------------ test command
_PYTEST_WORD = re.compile(r"^(py\.test|pytest)$")
_SHELL_SYNTAX = re.compile(r"[;&|<>()`$\\\n*?]")
# pytest options (and common plugins') whose value is the next word when written without `=`
_VALUE_OPTIONS = frozenset({
    "-k", "-m", "-p", "-c", "-o", "-W", "-n", "--maxfail", "--tb", "--rootdir", "--basetemp", "--deselect",
    "--ignore", "--ignore-glob", "--confcutdir", "--junitxml", "--junit-xml", "--junit-prefix", "--durations",
    "--timeout", "--cov", "--cov-report", "--cov-config", "--dist", "--numprocesses", "--log-level",
    "--log-file", "--capture", "--import-mode", "--override-ini", "--reruns", "--randomly-seed", "--color",
    "--show-capture", "--pythonwarnings", "--tx", "--django-settings-module", "--ds", "--ds-settings"})
HARNESS_PYTEST_ARGS = f"-p no:cacheprovider -rA -o junit_family=xunit1 --junitxml={JUNIT}"


def test_script(test_cmds: Sequence[str], tests: Sequence[str] | None) -> tuple[str, str]:
    """The bash script that runs the instance's test command, and how the tests are selected ("ids" or "all").
    Its exit status is the test command's (commands after it still run). The node ids are read from a file
    into an array, so no id is ever parsed by the shell."""
    cmds = list(test_cmds)
    at = next((i for i in range(len(cmds) - 1, -1, -1) if _pytest_index(cmds[i]) is not None), None)
    lines = ["cd /testbed", f"ulimit -f {FILE_SIZE_LIMIT_KB}",
             f"mapfile -t HARNESS_TESTS < {WORK}/tests.txt"]
    if at is None:
        lines += [*cmds[:-1], cmds[-1] if cmds else "false", "rc=$?"]
        return "\n".join(lines + ["exit $rc", ""]), "all"
    if tests is not None:
        cmd = _given(_without_positionals(cmds[at]), f'{HARNESS_PYTEST_ARGS} "${{HARNESS_TESTS[@]}}"')
    else:
        cmd = _given(cmds[at], HARNESS_PYTEST_ARGS)
    # pipefail: `pytest ... | tee log` has pytest's status, not tee's
    lines += [*cmds[:at], "set -o pipefail", cmd, "rc=$?", "set +o pipefail", *cmds[at + 1:], "exit $rc", ""]
    return "\n".join(lines), "ids" if tests is not None else "all"


_PYTEST_IN_SHELL = re.compile(r"(?:^|(?<=[\s;&|(]))(?:[^\s;&|()'\"]*/)?(?:py\.test|pytest)(?=$|[\s;&|)])")
_CONTROL = re.compile(r"[;&|\n]")


def _given(cmd: str, args: str) -> str:
    """`cmd` with `args` given to its pytest: at the end, or, where a pipe or another command follows pytest's
    (`pytest -x | tee log`, `pytest; echo done`), right after the word pytest."""
    found = list(_PYTEST_IN_SHELL.finditer(cmd))
    last = found[-1] if found else None
    if last is not None and _CONTROL.search(cmd, last.end()):
        return f"{cmd[:last.end()]} {args}{cmd[last.end():]}"
    return f"{cmd} {args}"


def _pytest_index(cmd: str) -> int | None:
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = cmd.split()
    return next((i for i, w in enumerate(words) if _PYTEST_WORD.match(w.rsplit("/", 1)[-1])), None)


def _without_positionals(cmd: str) -> str:
    """The command without the test paths given after pytest (ours replace them), where it is a plain list of
    words; a command with shell syntax is left as it is (its paths then run too)."""
    if _SHELL_SYNTAX.search(cmd):
        return cmd
    words = shlex.split(cmd)
    at = _pytest_index(cmd)
    assert at is not None
    kept = words[:at + 1]
    rest = words[at + 1:]
    i = 0
    while i < len(rest):
        w = rest[i]
        if w.startswith("-"):
            kept.append(w)
            if w in _VALUE_OPTIONS and i + 1 < len(rest):
                kept.append(rest[i + 1])
                i += 1
        i += 1
    return shlex.join(kept)


# ------------------------------------------------------------------------------------------ test results
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S.*?)(?: - .*)?$", re.M)
_SUMMARY_STATUS = {"PASSED": "passed", "XPASS": "passed", "FAILED": "failed", "ERROR": "error", "XFAIL": "skipped"}


def cut_short(nodeid: str) -> bool:
    """A parametrized node id cut at a space, as SWE-bench's log parser leaves them in its lists (it splits the
    `-rA` lines at whitespace: `t.py::test_x[a b]` is listed as `t.py::test_x[a`); pytest cannot find it."""
    return "[" in nodeid and not nodeid.endswith("]")


def pytest_args_of(tests: Sequence[str]) -> list[str]:
    """The node ids given to pytest for the requested tests: a cut-short id selects its whole test function (all
    its parameters), which pytest can find; its result is read by prefix (`test_results`)."""
    return list(dict.fromkeys(t.partition("[")[0] if cut_short(t) else t for t in tests))


def test_results(junit: str, log: str, wanted: Sequence[str] | None) -> tuple[dict[str, str], str]:
    """Node id -> status, and where they came from. With `wanted`, only those ids (a requested test found in
    neither source is missing, not in the result); without, every test either source names."""
    by_key = parse_junit(junit)
    from_log = parse_summary(log)
    out: dict[str, str] = {}
    used = set()
    if wanted is not None:
        for nodeid in wanted:
            key = junit_key(nodeid)
            if cut_short(nodeid):  # the worst of the tests it is a prefix of, as SWE-bench v5 matches them
                in_junit = [st for (cls, name), (st, _) in by_key.items() if cls == key[0] and name.startswith(key[1])]
                in_log = [st for n, st in from_log.items() if n.startswith(nodeid)]
                for source, found in (("junit", in_junit), ("log", in_log)):
                    if found:
                        out[nodeid] = max(found, key=_RANK.__getitem__)
                        used.add(source)
                        break
            elif key in by_key:
                out[nodeid] = by_key[key][0]
                used.add("junit")
            elif nodeid in from_log:
                out[nodeid] = from_log[nodeid]
                used.add("log")
    else:
        log_ids = {junit_key(nodeid): nodeid for nodeid in from_log}
        for key, (status, file) in by_key.items():
            out[log_ids.get(key) or _nodeid_of(key, file)] = status
            used.add("junit")
        for nodeid, status in from_log.items():
            if junit_key(nodeid) not in by_key:
                out[nodeid] = status
                used.add("log")
    return out, "+".join(s for s in ("junit", "log") if s in used)


def parse_summary(log: str) -> dict[str, str]:
    """pytest's `-rA` short summary: `PASSED tests/x.py::test_a`, `FAILED tests/x.py::test_b - AssertionError`."""
    out = {}
    for status, nodeid in _SUMMARY.findall(log):
        if "::" in nodeid or nodeid.endswith(".py"):
            out[nodeid.strip()] = _SUMMARY_STATUS[status]
    return out


def parse_junit(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(classname, name) -> (status, file) of each testcase; {} for no report, a DTD, or XML that does not parse."""
    if not text.strip() or "<!DOCTYPE" in text or "<!ENTITY" in text:
        return {}
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return {}
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if "error" in tags:
            status = "error"
        elif "failure" in tags:
            status = "failed"
        elif "skipped" in tags:
            status = "skipped"
        else:
            status = "passed"
        key = (case.get("classname", ""), case.get("name", ""))
        prior = out.get(key)
        # a test that errors in teardown after passing is reported twice by pytest: the worse wins
        if prior is None or _RANK[status] > _RANK[prior[0]]:
            out[key] = (status, case.get("file", ""))
    return out


_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}


def junit_key(nodeid: str) -> tuple[str, str]:
    """The (classname, name) pytest's junit report gives a node id: `tests/a.py::TestX::test_y[p]` ->
    ("tests.a.TestX", "test_y[p]")."""
    head, bracket, params = nodeid.partition("[")
    parts = head.split("::")
    path, classes, name = parts[0], parts[1:-1], parts[-1] + bracket + params
    module = path[:-3] if path.endswith(".py") else path
    return ".".join([module.replace("/", "."), *classes]), name


def _nodeid_of(key: tuple[str, str], file: str) -> str:
    """A junit testcase's node id, built from its file attribute (junit_family=xunit1)."""
    classname, name = key
    module = file[:-3].replace("/", ".") if file.endswith(".py") else ""
    if module and (classname == module or classname.startswith(module + ".")):
        classes = [c for c in classname[len(module):].split(".") if c]
        return "::".join([file, *classes, name])
    return f"{classname}::{name}"
