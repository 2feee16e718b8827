"""Apps depend one way: teams, then contacts, then routing, then notifications, then
Smart Plans, then property alerts (listings), then the API. A lower app never imports a
higher one (it announces what happened instead), and its migrations never depend on one."""

import ast
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["teams", "contacts", "routing", "notifications", "plans", "listings", "api"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _modules(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if "tests" in parts or "migrations" in parts:
            continue
        yield path


@pytest.mark.parametrize("app", ORDER)
def test_an_app_imports_no_app_above_it(app):
    above = set(ORDER[ORDER.index(app) + 1 :])
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & above)
        for path in _modules(app)
        if _imports(path) & above
    }
    assert wrong == {}


@pytest.mark.parametrize(
    "app", ["teams", "contacts", "routing", "notifications", "plans", "listings"]
)
def test_migrations_depend_on_no_app_above(app, db):
    above = set(ORDER[ORDER.index(app) + 1 :])
    loader = MigrationLoader(None, ignore_no_migrations=True)
    wrong = [
        (name, dependency)
        for (label, name), migration in loader.disk_migrations.items()
        if label == app
        for dependency in migration.dependencies
        if dependency[0] in above
    ]
    assert wrong == []
