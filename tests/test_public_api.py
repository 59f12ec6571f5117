"""The public API page: every listed name resolves, the docstring's example runs, and the heavy
parts load only when asked for."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import harness


def test_every_public_name_resolves() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name


def _public_pages() -> list[str]:
    return ["harness", *(f"harness.{m.name}" for m in pkgutil.iter_modules(harness.__path__)
                         if m.ispkg and not m.name.startswith("_"))]


def _undocumented(page: str) -> list[str]:
    module = importlib.import_module(page)
    missing = []
    for name in module.__all__:
        value = getattr(module, name)  # lazily loaded names load here
        if not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        doc = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
        if inspect.isclass(value) and doc and doc.startswith(f"{value.__name__}("):
            doc = None  # the signature a dataclass writes in place of a missing docstring
        if not (doc or "").strip():
            missing.append(f"{page}.{name}")
    return missing


def test_every_exported_class_and_function_of_every_public_page_has_a_docstring() -> None:
    pages = _public_pages()
    assert {"harness", "harness.client", "harness.contracts", "harness.emulator"} <= set(pages)
    missing = [name for page in pages for name in _undocumented(page)]
    assert not missing, f"exported without a docstring: {', '.join(missing)}"


def test_importing_harness_leaves_the_emulator_unloaded() -> None:
    code = "import sys, harness; print('starlette' in sys.modules, 'harness.emulator' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_docstring_example_runs(fal_emulator: harness.Emulator) -> None:
    contract = harness.get_contract("fal-ai/flux-pro", "contracts")
    with harness.QueueClient(harness.emulator_target(fal_emulator)) as client:
        obs = client.lifecycle(contract.endpoint, {"prompt": "a lighthouse"})
        harness.assert_checks(harness.run_checks(obs, contract), obs)
    assert obs.ok


def test_the_front_doors_import_only_public_names_of_other_packages() -> None:
    """The CLI and the pytest plugin are thin over the library: what they take from elsewhere in the
    harness comes from a public page (``harness``, ``harness.client``...), never a private module."""
    import ast
    from pathlib import Path

    root = Path(harness.__file__).parent
    doors = [*sorted((root / "cli").glob("*.py")), root / "pytest_plugin.py"]
    private = []
    for path in doors:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness."):
                parts = node.module.split(".")
                if any(p.startswith("_") for p in parts[1:]) and parts[1] != "cli":
                    private.append(f"{path.name}:{node.lineno} from {node.module}")
    assert doors and private == []
