"""The layout rules, checked on the source: no import circles, and a core (``labflow/``) free of frameworks."""

from __future__ import annotations

from labflow.settings import PROJECT_ROOT
from tests.import_graph import PACKAGES, circles, import_graph, imported_names, module_files

# What the core may not import: the frameworks and the layers built on top of it.
FORBIDDEN_IN_CORE = ("dagster", "dagster_aws", "dagster_graphql", "dagster_webserver", "dagster_postgres", "fastapi",
                     "starlette", "uvicorn", "gradio", "api", "ui", "resources", "lab_assets", "sensors", "cli")


def test_no_import_circles():
    graph = import_graph(PROJECT_ROOT)
    assert len(graph) > 150 and "lab_assets.definitions" in graph  # the checker sees the whole project
    assert circles(graph) == []


def test_the_checker_finds_a_circle_hidden_in_a_function(tmp_path):
    for package, body in {"labflow": "", "ui": ""}.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    (tmp_path / "ui" / "app.py").write_text("from ui.tab import build\n")
    (tmp_path / "ui" / "tab.py").write_text("def build():\n    from ui.app import default\n")
    assert circles(import_graph(tmp_path)) == [["ui.app", "ui.tab"]]


def test_the_core_imports_no_framework_and_no_outer_layer():
    offenders = []
    for name, path in module_files(PROJECT_ROOT).items():
        if name.split(".")[0] != "labflow":
            continue
        for imported in imported_names(name, path):
            if imported.split(".")[0] in FORBIDDEN_IN_CORE:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)} imports {imported}")
    assert offenders == []


def test_the_readme_layout_names_every_package_and_core_module():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):readme.index("## Tests")]
    missing = [f"{package}/" for package in PACKAGES if f"`{package}/`" not in layout]
    core = PROJECT_ROOT / "labflow"
    for folder in sorted(p for p in core.iterdir() if (p / "__init__.py").exists()):
        if f"labflow/{folder.name}/" not in layout:
            missing.append(f"labflow/{folder.name}/")
    domains = ("ingest", "store", "processing", "review", "ops", "demo")
    for path in [*core.glob("*.py"), *(p for d in domains for p in (core / d).glob("*.py"))]:
        if path.stem != "__init__" and f"`{path.stem}`" not in layout:
            missing.append(str(path.relative_to(PROJECT_ROOT)))
    assert missing == []
