"""Plain functions behind `harness images build|list|prune` and `harness sandbox cleanup`."""

from __future__ import annotations

from .engine import remove_containers
from .images import ImageInfo, ImageRow, ensure_image, list_images, prune_images, recipe_names


def build_images(names: list[str] | None = None) -> list[ImageInfo]:
    """Build (if their recipe changed) the images of the given recipes, all of sandboxes/ by default."""
    return [ensure_image(n) for n in (names or recipe_names())]


def image_rows() -> list[ImageRow]:
    """Rows for `harness images list`: tag, id, recipe, recipe_hash, size_mb, created, current."""
    return list_images()


def prune(all_images: bool = False) -> list[str]:
    """`harness images prune`: remove images of outdated recipes (every harness image with all_images)."""
    return prune_images(keep_current=not all_images)


def cleanup(all_containers: bool = False) -> int:
    """`harness sandbox cleanup`: remove sandbox containers left by killed harness runs (every sandbox
    container, including running ones, with all_containers).  Returns how many were removed."""
    return remove_containers(only_stale=not all_containers)


__all__ = ["build_images", "image_rows", "prune", "cleanup", "list_images", "prune_images"]
