"""Docker sandboxes for untrusted code: a warm pool of runner containers, one container per instance,
recipe-hashed images, exit-code grading and instruction counts.

    from harness.sandbox import WarmPool, RunLimits, ensure_image, grade_by_exit_code
    image = ensure_image("python")
    with WarmPool(image.tag, size=2, image_id=image.id) as pool:
        verdict = grade_by_exit_code(pool, ["python3", "check.py"], files={"check.py": src})
"""

from .engine import docker_client, engine_available, remove_containers
from .errors import EngineUnavailable, ImageBuildError, InfraError, RunnerLost, SandboxError
from .grading import Sandbox, SandboxFailed, grade_by_exit_code, infra_verdict, run_checked, verdict_from_result
from .images import ImageInfo, ensure_image, list_images, prune_images
from .instance import InstanceSandbox, run_in_fresh_container
from .limits import ContainerLimits, RunLimits
from .pool import WarmPool
from .result import CountMethod, Ending, InstructionCount, RunResult

__all__ = [
    "ContainerLimits", "CountMethod", "Ending", "EngineUnavailable", "ImageBuildError", "ImageInfo",
    "InfraError", "InstanceSandbox", "InstructionCount", "RunLimits", "RunResult", "RunnerLost", "Sandbox",
    "SandboxError", "SandboxFailed", "WarmPool", "docker_client", "engine_available", "ensure_image", "grade_by_exit_code",
    "infra_verdict", "list_images", "prune_images", "remove_containers", "run_checked", "run_in_fresh_container",
    "verdict_from_result",
]
