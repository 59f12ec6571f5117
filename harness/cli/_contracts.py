"""``fal-harness contracts``: list, show and validate contract files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness import DataFileError, HarnessError
from harness.cli._app import check_output, cli

if TYPE_CHECKING:
    from harness.contracts import Contract, FieldSpec

_DIR_OPTION = click.option(
    "--contracts-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of contract files (default: $FAL_HARNESS_CONTRACTS, ./contracts, or the bundled ones).",
)


@cli.group()
def contracts() -> None:
    """Inspect and check endpoint contracts."""


@contracts.command("list")
@_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_(contracts_dir: Path | None, as_json: bool) -> None:
    """List every endpoint that has a contract."""
    from rich.console import Console
    from rich.table import Table

    from harness.contracts import load_contracts

    found = load_contracts(contracts_dir)
    if as_json:
        rows = [
            {
                "endpoint": c.endpoint,
                "app_root": c.app_root,
                "version": c.contract_version,
                "input_fields": len(c.input.fields),
                "output_fields": len(c.output.fields),
                "scenarios": [s.name for s in c.scenarios],
                "file": str(c.source) if c.source else None,
            }
            for c in found.values()
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(box=None, header_style="bold")
    for column in ("endpoint", "version", "input", "output", "scenarios", "file"):
        table.add_column(column)
    for c in found.values():
        table.add_row(c.endpoint, str(c.contract_version), str(len(c.input.fields)), str(len(c.output.fields)),
                      ", ".join(s.name for s in c.scenarios), str(c.source or ""))
    Console(width=200).print(table)


@contracts.command()
@click.argument("endpoint")
@_DIR_OPTION
@click.option("--format", "fmt", type=click.Choice(["summary", "yaml", "json", "input-schema", "output-schema"]),
              default="summary", show_default=True, help="What to print.")
def show(endpoint: str, contracts_dir: Path | None, fmt: str) -> None:
    """Show one endpoint's contract."""
    from harness.contracts import contract_to_data, dump_contract, get_contract, input_schema, output_schema

    c = get_contract(endpoint, contracts_dir)
    if fmt == "yaml":
        click.echo(dump_contract(c), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(contract_to_data(c), indent=2))
    elif fmt == "input-schema":
        click.echo(json.dumps(input_schema(c), indent=2))
    elif fmt == "output-schema":
        click.echo(json.dumps(output_schema(c), indent=2))
    else:
        _summary(c)


def _summary(c: Contract) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    console.print(f"[bold]{c.endpoint}[/bold]  {c.title or ''}  (contract v{c.contract_version}, "
                  f"app root {c.app_root})")
    if c.source:
        console.print(f"file: {c.source}")
    for label, spec in (("input", c.input), ("output", c.output), *c.types.items()):
        table = Table(title=f"{label} ({spec.name})", title_justify="left", box=None, header_style="bold")
        for column in ("field", "type", "req", "default", "constraints", "notes"):
            table.add_column(column, overflow="fold")
        for f in spec.fields:
            constraints = _constraints(f)
            notes = []
            if f.file:
                notes.append(f"file:{f.file}")
            if f.deprecated:
                notes.append("deprecated")
            if f.inferred:
                notes.append("inferred")
            if f.sources:
                notes.append("sourced")
            table.add_row(f.name, str(f.type), "yes" if f.name in spec.required else "",
                          json.dumps(f.default) if f.has_default else "", "; ".join(constraints), " ".join(notes))
        console.print(table)
    if c.scenarios:
        console.print("scenarios: " + ", ".join(s.name for s in c.scenarios))


_BOUNDS = ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "min_length", "max_length", "min_items",
           "max_items", "pattern", "format")


def _constraints(f: FieldSpec) -> list[str]:
    """Every constraint a field states, in words a table cell holds (its items' and branches' too)."""
    out = []
    if f.enum is not None:
        out.append("enum " + ", ".join(map(str, f.enum)))
    out += [f"{key} {getattr(f, key)}" for key in _BOUNDS if getattr(f, key) is not None]
    if f.nullable:
        out.append("nullable")
    if f.items is not None:
        inner = _constraints(f.items)
        if inner:
            out.append(f"items: {', '.join(inner)}")
    for i, branch in enumerate(f.branches or ()):
        inner = _constraints(branch)
        out.append(f"branch {i + 1} ({branch.type}): {', '.join(inner) or 'any value'}")
    return out


@contracts.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--contracts-dir", "contracts_dir_option", type=click.Path(path_type=Path), default=None,
              help="Folder to check when no PATHS are given.")
def validate(paths: tuple[Path, ...], contracts_dir_option: Path | None) -> int:
    """Check contract files: their shape, their meaning, and that each page example validates.

    With no PATHS, checks every file in the contracts folder. Prints one line per file; exits 1
    if any file is bad (a finding), 2 if a path does not exist (a usage mistake).
    """
    from harness.contracts import contract_warnings, contracts_dir, load_contract

    files: list[Path] = []
    for p in paths or (contracts_dir(contracts_dir_option),):
        if not p.exists():
            raise DataFileError(p, "", "no such file or folder")
        if p.is_dir():
            files.extend(sorted([*p.rglob("*.yaml"), *p.rglob("*.yml")]))
        else:
            files.append(p)
    if not files:
        raise DataFileError(paths[0] if paths else "contracts", "", "no contract files found")
    bad = 0
    for path in files:
        try:
            contract = load_contract(path)
            _check_examples(contract, path)
        except HarnessError as exc:
            bad += 1
            click.echo(f"fal-harness: error: {exc}", err=True)
        else:
            click.echo(f"ok  {path}  ({contract.endpoint}, {len(contract.scenarios)} scenarios)")
            for where, problem in contract_warnings(contract):
                click.echo(f"fal-harness: warning: {path}: {where}: {problem}", err=True)
    if len(files) > 1:
        click.echo(f"{len(files) - bad} of {len(files)} contract files are valid")
    return 1 if bad else 0


def _check_examples(c: Contract, path: Path) -> None:
    from harness.contracts import validate_input, validate_output

    for i, ex in enumerate(c.examples):
        if ex.input is not None:
            for v in validate_input(c, ex.input)[:1]:
                raise DataFileError(path, f"examples[{i}].input{v.path[1:]}", f"{v.message} [{v.rule}]")
        if ex.output is not None:
            for v in validate_output(c, ex.output, allow_missing=ex.output_omits)[:1]:
                raise DataFileError(path, f"examples[{i}].output{v.path[1:]}", f"{v.message} [{v.rule}]")


_OUTPUT_OPTION = click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                              help="Write to this file instead of stdout.")


@contracts.command("export-openapi")
@click.argument("endpoints", metavar="ENDPOINT...", nargs=-1, required=True)
@_DIR_OPTION
@_OUTPUT_OPTION
@click.option("--into", "into", type=click.Path(path_type=Path), default=None,
              help="Folder to write each document to, as <endpoint id>.json (needed for several endpoints).")
def export_openapi_command(endpoints: tuple[str, ...], contracts_dir: Path | None, output: Path | None,
                           into: Path | None) -> None:
    """Write endpoints' contracts as fal's queue OpenAPI documents (JSON): one to stdout or -o,
    several --into a folder, all in one run.

    What OpenAPI cannot say is kept under x-fal-harness-* keys, so import-openapi reads the
    document back to the same contract.
    """
    from harness.contracts import export_openapi, get_contract

    if len(endpoints) > 1 and into is None:
        raise click.UsageError(f"{len(endpoints)} endpoints to export: name a folder with --into")
    if into is not None and output is not None:
        raise click.UsageError("choose -o (one file) or --into (a folder)")
    check_output(output)
    check_output(into / "x" if into is not None else None)
    chosen = [get_contract(endpoint, contracts_dir) for endpoint in dict.fromkeys(endpoints)]  # all found first
    for contract in chosen:
        text = json.dumps(export_openapi(contract), indent=2, ensure_ascii=False) + "\n"
        target = into / f"{contract.endpoint}.json" if into is not None else output
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        _write_text(text, target)
        if into is not None:
            click.echo(f"ok  {target}")


@contracts.command("import-openapi")
@click.argument("sources", metavar="FILE_URL_OR_FOLDER...", nargs=-1, required=True)
@click.option("--endpoint", default=None,
              help="Endpoint id to import when the document has several POST paths, or to name "
                   "an app's own document (one source only).")
@_OUTPUT_OPTION
@click.option("--into", "into", type=click.Path(path_type=Path), default=None,
              help="Contracts folder to write each imported document to, as <endpoint id>.yaml "
                   "(needed for several sources or a folder).")
def import_openapi_command(sources: tuple[str, ...], endpoint: str | None, output: Path | None,
                           into: Path | None) -> int:
    """Build contracts from OpenAPI documents (fal's queue OpenAPI, or an app's FastAPI one) and
    write them as contract files (YAML), with the semantics and scenarios inferred from them.

    Each source is a file, an http(s) URL or a folder (every .json, .yaml and .yml under it). One
    document goes to stdout or -o; several go --into a contracts folder. A document that cannot be
    imported is one line naming it and the JSON pointer of the problem; the others are still
    written, and the command exits 2.
    """
    from harness import redact_url
    from harness.contracts import dump_contract, import_openapi, load_openapi

    check_output(output)
    check_output(into / "x" if into is not None else None)
    documents: list[str] = []
    for source in sources:
        folder = Path(source)
        if "://" not in source and folder.is_dir():
            found = sorted(str(f) for pattern in ("*.json", "*.yaml", "*.yml") for f in folder.rglob(pattern))
            if not found:
                raise DataFileError(folder, "", "no OpenAPI documents (.json, .yaml, .yml) in this folder")
            documents += found
        else:
            documents.append(source)
    if len(documents) > 1 and into is None:
        raise click.UsageError(f"{len(documents)} documents to import: name a contracts folder with --into")
    if len(documents) > 1 and (endpoint is not None or output is not None):
        raise click.UsageError("--endpoint and -o apply to one document; use --into for several")
    if into is not None and output is not None:
        raise click.UsageError("choose -o (one file) or --into (a contracts folder)")
    bad = 0
    for source in documents:
        warnings: list[str] = []
        shown = redact_url(source)
        try:
            contract = import_openapi(load_openapi(source), endpoint=endpoint, source=shown, warnings=warnings)
        except HarnessError as exc:
            if len(documents) == 1:
                raise
            bad += 1
            click.echo(f"fal-harness: error: {exc}", err=True)
            continue
        for line in warnings:
            click.echo(f"fal-harness: warning: {shown}: {line}", err=True)
        header = f"# Contract for {contract.endpoint}, imported from {shown}.\n"
        target = into / f"{contract.endpoint}.yaml" if into is not None else output
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        _write_text(header + dump_contract(contract), target)
        if into is not None:
            click.echo(f"ok  {target}  ({len(contract.scenarios)} scenarios)")
    if len(documents) > 1:
        click.echo(f"imported {len(documents) - bad} of {len(documents)} documents into {into}")
    return 2 if bad else 0


def _write_text(text: str, output: Path | None) -> None:
    from harness import write_scrubbed

    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_scrubbed(output, text)
    except OSError as exc:
        raise DataFileError(output, "", f"cannot write file: {exc.strerror or exc}") from None
