"""What pyproject.toml cannot declare: the migrations' place in the package, GraphiQL's assets.

- The alembic migrations live at the repository's top level (``migrations/``) and ship inside
  the package as ``router.migrations``, so an installed wheel can migrate its database.
- GraphiQL's browser bundles are fetched from the npm registry, pinned and checked, into
  ``router/static/graphiql`` before the package is built (see build_support/graphiql_assets.py).
"""

import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

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


setup(
    packages=[
        *find_packages(include=["router*", "sgc_client*"]),
        "router.migrations",
        "router.migrations.versions",
    ],
    package_dir={"router.migrations": "migrations"},
    cmdclass={"build_py": BuildPy},
)
