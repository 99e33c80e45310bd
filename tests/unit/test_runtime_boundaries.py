"""The runtime knows no service and no demo; a service knows no other service; the demo knows
only the published API.

Read from the source with ``ast``: an ``import``, a ``from ... import``, or a module name given
as a string to ``importlib.import_module`` / ``__import__`` counts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, with its line: absolute names, relative ones resolved."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from services import intake` imports services.intake
                yield node.lineno, f"{module}.{alias.name}" if module else alias.name
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield node.lineno, first.value
                elif isinstance(first, ast.JoinedStr):  # f"services.{name}.main"
                    head = first.values[0] if first.values else None
                    if isinstance(head, ast.Constant) and isinstance(head.value, str):
                        yield node.lineno, head.value


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def offences(folder: str, forbidden: list[str], root: Path = ROOT) -> list[str]:
    found = []
    files = sorted((root / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}"
    for path in files:
        for line, module in imported_modules(path, root):
            if any(is_within(module, f) for f in forbidden):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def test_the_runtime_imports_no_service_and_not_the_demo() -> None:
    assert offences("polku", ["services", "demo"]) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = [f"services.{other}" for other in SERVICES if other != service]
    assert offences(f"services/{service}", [*others, "demo"]) == []


def test_the_demo_imports_no_service_and_of_the_runtime_only_the_client() -> None:
    assert offences("demo", ["services"]) == []
    # Of the runtime: the client, and the progress bar the demo shows on the terminal.
    allowed = ("polku.client", "polku.progress")
    beyond = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "demo").rglob("*.py"))
        for line, module in imported_modules(path)
        if is_within(module, "polku") and module != "polku" and not any(is_within(module, a) for a in allowed)
    ]
    assert beyond == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The parser sees every way of importing a service (so the tests above can pass honestly)."""
    (tmp_path / "polku").mkdir()
    source = (
        "import services.intake.main\n"
        "from services.casefile import application\n"
        "from services import reporting\n"
        "import importlib\n"
        "importlib.import_module('services.intake.main')\n"
        "importlib.import_module(f'services.{name}.main')\n"
        "from demo.main import run\n"
        "import demo\n"
        "from contracts import services_of_the_contracts\n"
        "import demonstration, servicesish\n"
    )
    (tmp_path / "polku" / "probe.py").write_text(source)
    found = offences("polku", ["services", "demo"], root=tmp_path)
    assert {int(f.split(":")[1].split()[0]) for f in found} == {1, 2, 3, 5, 6, 7, 8}
