"""The static leaderboard site, built from the store alone (`harness site --out DIR`): see harness.site.build."""

from .build import BuildReport, SiteOptions, build_site
from .store_view import SiteError

__all__ = ["BuildReport", "SiteError", "SiteOptions", "build_site"]
