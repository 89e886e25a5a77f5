"""What pyproject.toml cannot declare: the migrations' place in the package, GraphiQL's assets.

- The alembic migrations live at the repository's top level (``migrations/``) and ship inside
  the package as ``router.migrations``, so an installed wheel can migrate its database.
- GraphiQL's browser bundles are fetched from the npm registry, pinned and checked, into
  ``router/static/graphiql`` before the package is built (see build_support/graphiql_assets.py).
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from build_support import graphiql_assets  # noqa: E402


class BuildPy(build_py):
    """Fetch GraphiQL's assets into the source tree, then build as usual (editable too)."""

    def run(self) -> None:
        """Fetch the assets when their pins changed, then copy the package."""
        if graphiql_assets.fetch(ROOT / "router" / "static" / "graphiql"):
            print("fetched GraphiQL's assets from the npm registry")
        super().run()


class RouterDistribution(Distribution):
    """pyproject.toml's packages, plus the top-level ``migrations/`` as ``router.migrations``.

    Added after pyproject.toml is read (its package list would replace one given to setup()).
    """

    def parse_config_files(self, *args: object, **kwargs: object) -> None:
        """Read pyproject.toml, then map the migrations into the package."""
        super().parse_config_files(*args, **kwargs)  # type: ignore[arg-type]
        extra = ["router.migrations", "router.migrations.versions"]
        self.packages = [*(self.packages or []), *extra]
        self.package_dir = {**(self.package_dir or {}), "router.migrations": "migrations"}


setup(distclass=RouterDistribution, cmdclass={"build_py": BuildPy})
