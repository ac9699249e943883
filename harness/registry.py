"""Finding tasks: built-in folders, a folder the user names (`--task ./my_bench`), installed plug-ins.

Task folders are imported as packages under the private name `harness_tasks.<folder>` so that
`tasks` never becomes a top-level import name (a user's own `tasks.py` must not shadow it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from importlib.metadata import entry_points
from pathlib import Path

from .keys import code_hash
from .paths import builtin_dir
from .task import Task, TaskError

PLUGIN_GROUP = "harness.tasks"
_PARENT = "harness_tasks"


def builtin_tasks_dir() -> Path:
    try:
        return builtin_dir("tasks")
    except FileNotFoundError as exc:
        raise TaskError(str(exc)) from exc


def load_task_folder(folder: Path) -> Task:
    folder = Path(folder).resolve()
    init = folder / "__init__.py"
    if not init.is_file():
        raise TaskError(f"{folder} is not a task folder: it has no __init__.py defining TASK")
    if _PARENT not in sys.modules:
        parent = types.ModuleType(_PARENT)
        parent.__path__ = []
        sys.modules[_PARENT] = parent
    # the module is named after the folder and its code: a task edited while this process runs is loaded anew
    modname = f"{_PARENT}.{folder.name}_{hashlib.sha1(f'{folder}:{code_hash(folder)}'.encode()).hexdigest()[:12]}"
    module = sys.modules.get(modname)
    if module is None:
        spec = importlib.util.spec_from_file_location(modname, init, submodule_search_locations=[str(folder)])
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        try:
            spec.loader.exec_module(module)
        except TaskError:
            del sys.modules[modname]
            raise
        except TypeError as exc:
            del sys.modules[modname]
            if "abstract" in str(exc):  # a Task subclass that lacks a required method
                raise TaskError(f"{init}: {exc} (see harness/task.py for the Task contract)") from None
            raise TaskError(f"cannot load the task in {folder}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            del sys.modules[modname]
            raise TaskError(f"cannot load the task in {folder}: {type(exc).__name__}: {exc}") from exc
    task = getattr(module, "TASK", None)
    if not isinstance(task, Task):
        raise TaskError(f"{init} must define TASK, an instance of harness.task.Task")
    check_task_name(task)
    return task


def builtin_names() -> list[str]:
    root = builtin_tasks_dir()
    return sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file())


def plugin_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=PLUGIN_GROUP))


def get_task(ref: str) -> Task:
    """A task by built-in name, by plug-in name, or by folder path (anything containing a slash or a dot)."""
    if ref not in builtin_names() and ref.replace("-", "_") in builtin_names():
        ref = ref.replace("-", "_")  # a built-in task named with dashes (swebench-live) lives in a folder with _
    if ref in builtin_names():
        if ref in plugin_names():
            raise TaskError(f"an installed plug-in is named {ref!r} like a built-in task; rename the plug-in's "
                            f"entry point (group {PLUGIN_GROUP})")
        return load_task_folder(builtin_tasks_dir() / ref)
    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name == ref:
            obj = ep.load()
            if isinstance(obj, Task):
                return obj
            if isinstance(obj, type) and issubclass(obj, Task):
                return obj(Path(sys.modules[obj.__module__].__file__).parent)
            raise TaskError(f"plug-in {ref!r} ({ep.value}) is not a harness Task")
    path = Path(ref)
    if path.is_dir():
        task = load_task_folder(path)
        _refuse_clash(task)
        return task
    known = ", ".join(builtin_names() + plugin_names())
    raise TaskError(f"unknown task {ref!r}; known tasks: {known} (or give a task folder's path)")


def _refuse_clash(task: Task) -> None:
    """A folder's task may not take the name of a built-in task or a plug-in: runs and reports go by name."""
    clash = task.name in builtin_names() and (builtin_tasks_dir() / task.name).resolve() != task.folder.resolve()
    clash = clash or task.name in plugin_names() and get_task(task.name).folder.resolve() != task.folder.resolve()
    if clash:
        raise TaskError(f"the task in {task.folder} is named {task.name!r}, which another task (built in or "
                        f"installed) already has; give it a name of its own")


def check_task_name(task: Task) -> None:
    name = task.name
    if not isinstance(name, str) or not name.strip() or name != name.strip() or any(c in name for c in "/\\ "):
        raise TaskError(f"the task in {task.folder} has no usable name ({name!r}): set `name` on its Task class "
                        f"to a short identifier without spaces or slashes (it names runs and keys verdicts)")


def all_tasks() -> list[Task]:
    return [get_task(name) for name in builtin_names() + plugin_names()]
