"""Read and write contract files.

``load_contract`` checks a file completely before anything uses it: YAML syntax, the file's shape
(``load_model`` over the dataclasses of ``_file``), then meaning. Any problem raises
:class:`DataFileError` naming the file and the key path, e.g. ``contracts/fal-ai/flux-pro.yaml:
input.fields.num_images.default: default 9 is above the maximum 4``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from jsonschema import Draft202012Validator

from harness._data import dump_yaml, key_path, load_model, load_yaml
from harness._errors import DataFileError
from harness._json import Json
from harness.contracts import _semantics as _sem
from harness.contracts._file import (
    CONSTRAINT_KEYS,
    ConstraintsFile,
    ContractFile,
    FieldFile,
    MediaFile,
    ObjectFile,
    SemanticsFile,
)
from harness.contracts._frozen import freeze, thaw
from harness.contracts._model import (
    Contract,
    Example,
    FieldSpec,
    MediaSemantics,
    ObjectSpec,
    PageRef,
    Provenance,
    Scenario,
    Semantics,
    Streaming,
    app_root_of,
)
from harness.contracts._schema import field_schema, object_schema
from harness.contracts._types import ANY, SCALARS, ListOf, MapOf, Ref, Scalar, TypeExpr, Union, fits, options_of
from harness.contracts._validate import _convert, validate_input

__all__ = [
    "contract_to_data",
    "contract_warnings",
    "dump_contract",
    "load_contract",
    "parse_contract",
    "scenario_payload",
]

#: where a value sits in the file, as the parts of its key path
At = tuple[str | int, ...]


def load_contract(path: str | Path) -> Contract:
    """The contract in a YAML file, checked completely; any problem is a one-line DataFileError."""
    path = Path(path)
    return parse_contract(load_yaml(path), path)


def parse_contract(data: object, source: str | Path = "<contract>") -> Contract:
    """Build a contract from already-parsed data, checking shape and meaning."""
    return _Builder(load_model(ContractFile, data, source), source).build()


class _Builder:
    """The contract a file of the right shape holds, checked for meaning as it is built."""

    def __init__(self, file: ContractFile, source: str | Path) -> None:
        self.file = file
        self.source = source
        self.type_names = set(file.types)
        self.defaults: list[tuple[FieldSpec, At]] = []

    def fail(self, at: Sequence[str | int], problem: str) -> DataFileError:
        return DataFileError(self.source, key_path(at), problem)

    def build(self) -> Contract:
        d = self.file
        types = {name: self.object(name, spec, ("types", name)) for name, spec in d.types.items()}
        prov = d.provenance
        streaming = d.streaming
        contract = Contract(
            endpoint=d.endpoint,
            input=self.object(d.input.name or "Input", d.input, ("input",)),
            output=self.object(d.output.name or "Output", d.output, ("output",)),
            types=types,
            contract_version=d.contract_version,
            title=d.title,
            description=d.description,
            app_root_override=d.app_root if d.app_root != app_root_of(d.endpoint) else None,
            provenance=Provenance(pages=tuple(PageRef(p.seed, p.client_package, p.note) for p in prov.pages),
                                  notes=prov.notes),
            semantics=self.semantics(d.semantics),
            examples=tuple(Example(name=e.name, seed=e.seed, input=e.input, output=e.output,
                                   output_omits=e.output_omits, note=e.note) for e in d.examples),
            scenarios=tuple(Scenario(name=name, input=s.input, description=s.description, files=freeze(dict(s.files)),
                                     expect_status=s.expect_status) for name, s in d.scenarios.items()),
            streaming=(Streaming(events=streaming.events, field=streaming.field, flag=streaming.flag,
                                 count=streaming.count) if streaming is not None else None),
            realtime=d.realtime,
            format_version=d.format_version,
            source=self.source if isinstance(self.source, Path) else None,
        )
        defs: dict[str, Json] = {name: object_schema(spec) for name, spec in types.items()}
        for f, where in self.defaults:
            self.check_default(f, where, defs)
        self.check_semantics(contract)
        self.check_examples_and_scenarios(contract)
        return contract

    # -- objects and fields ------------------------------------------------------------------

    def object(self, name: str, spec: ObjectFile, where: At) -> ObjectSpec:
        additional = spec.additional
        if not isinstance(additional, bool):
            self.check_refs(additional, (*where, "additional"))
        return ObjectSpec(
            name=name,
            fields=tuple(self.field(fname, fspec, (*where, "fields", fname)) for fname, fspec in spec.fields.items()),
            required=spec.required,
            description=spec.description,
            title=spec.title,
            additional=additional,
        )

    def check_refs(self, expr: TypeExpr, where: At) -> None:
        for name in sorted(_ref_names(expr)):
            if name not in self.type_names:
                known = ", ".join([*SCALARS, ANY, "list<T>", "map<T>", *sorted(self.type_names)])
                raise self.fail(where, f"unknown type {name!r} (known: {known})")

    def field(self, name: str, spec: FieldFile, where: At) -> FieldSpec:
        ftype = spec.type
        self.check_refs(ftype, (*where, "type"))
        result = self.constraints(name, ftype, spec, where)
        if spec.file is not None:
            strings = "string" in result.scalar_kinds() or any(
                isinstance(o, ListOf) and "string" in {i.name for i in options_of(o.item) if isinstance(i, Scalar)}
                for o in result.options)
            if not strings:
                raise self.fail((*where, "file"), f"file fields take a URL string or a list of them, the type is "
                                                  f"{ftype}")
        for key in spec.sources:
            if key != "type" and not spec.sets(key):
                raise self.fail((*where, "sources", key), f"names {key!r}, which this field does not set")
        if result.has_default:
            self.defaults.append((result, where))
        return result

    def constraints(self, name: str, ftype: TypeExpr, spec: ConstraintsFile, where: At) -> FieldSpec:
        """A field (or a list item, or a union branch) of type ``ftype`` with the constraints ``spec`` sets."""
        options = options_of(ftype)
        scalars = {o.name for o in options if isinstance(o, Scalar)}
        has_list = any(isinstance(o, ListOf) for o in options)
        enum = spec.enum
        if spec.branches is not None:
            if len(options) < 2:
                raise self.fail((*where, "branches"), f"branches need a union type, the type is {ftype}")
            shared = sorted(k for k in (*CONSTRAINT_KEYS, "enum", "items", "pattern") if spec.sets(k))
            if shared:
                raise self.fail((*where, shared[0]), "with branches, every constraint sits on its branch")
            if len(spec.branches) != len(options):
                raise self.fail((*where, "branches"), f"{len(spec.branches)} branches for the {len(options)} "
                                                      f"options of {ftype}")
        if enum is not None:
            if not scalars - {ANY}:
                raise self.fail((*where, "enum"), f"an enum needs a scalar type, the type is {ftype}")
            if len(set(map(repr, enum))) != len(enum):
                raise self.fail((*where, "enum"), "enum values repeat")
            stray = [v for v in enum if not any(fits(s, v) for s in scalars)]
            if stray:
                raise self.fail((*where, "enum"), f"enum value {stray[0]!r} has none of the types "
                                                  f"{' or '.join(sorted(scalars))}")
        for key in ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"):
            if spec.sets(key) and not scalars & {"integer", "float"}:
                raise self.fail((*where, key), f"{key} needs an integer or float type, the type is {ftype}")
        for key in ("min_length", "max_length", "pattern", "format"):
            if spec.sets(key) and "string" not in scalars:
                raise self.fail((*where, key), f"{key} needs a string type, the type is {ftype}")
        if spec.pattern is not None:
            try:
                re.compile(spec.pattern)
            except re.error as exc:
                raise self.fail((*where, "pattern"), f"not a regular expression: {exc}") from None
        for key in ("min_items", "max_items"):
            if spec.sets(key) and not has_list:
                raise self.fail((*where, key), f"{key} needs a list type, the type is {ftype}")
        for low, high in (("minimum", "maximum"), ("exclusive_minimum", "maximum"), ("minimum", "exclusive_maximum"),
                          ("exclusive_minimum", "exclusive_maximum"), ("min_length", "max_length"),
                          ("min_items", "max_items")):
            low_value, high_value = getattr(spec, low), getattr(spec, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                raise self.fail((*where, low), f"{low} {low_value} is above {high} {high_value}: no value fits")
        items = None
        if spec.items is not None:
            holders = [o for o in options if isinstance(o, ListOf | MapOf)]
            if len(holders) != 1:
                raise self.fail((*where, "items"), f"items constrain the one list or map of the type, the type is "
                                                   f"{ftype}")
            holder = holders[0]
            item_type = holder.item if isinstance(holder, ListOf) else holder.value
            items = self.constraints("[]", item_type, spec.items, (*where, "items"))
        branches = None
        if spec.branches is not None:
            branches = tuple(self.constraints(name, option, b, (*where, "branches", i))
                             for i, (option, b) in enumerate(zip(options, spec.branches, strict=True)))
        return FieldSpec(
            name=name,
            type=ftype,
            description=spec.description,
            title=spec.title,
            default=spec.default,
            enum=enum,
            enum_name=spec.enum_name,
            minimum=spec.minimum,
            maximum=spec.maximum,
            exclusive_minimum=spec.exclusive_minimum,
            exclusive_maximum=spec.exclusive_maximum,
            min_length=spec.min_length,
            max_length=spec.max_length,
            min_items=spec.min_items,
            max_items=spec.max_items,
            nullable=spec.nullable,
            file=spec.file,
            pattern=spec.pattern,
            format=spec.format,
            deprecated=spec.deprecated,
            items=items,
            branches=branches,
            inferred=spec.inferred,
            sources=freeze(dict(spec.sources)),
        )

    def check_default(self, f: FieldSpec, where: At, defs: Mapping[str, Json]) -> None:
        value = f.default
        if value is None and f.nullable:
            return
        if f.enum is not None and not isinstance(value, dict | list) and value not in f.enum:
            raise self.fail((*where, "default"), f"default {value!r} is not in the enum {list(f.enum)}")
        if integer_with_float_default(f):
            return  # fal publishes these; contract_warnings() says so
        # Type, bounds, lengths and nested objects through the field's own schema.
        schema = {"$defs": defs, **field_schema(f)}
        for error in Draft202012Validator(schema).iter_errors(value):
            problems = _convert(error, tuple(error.absolute_path))
            if problems:
                raise self.fail((*where, "default"), f"default {value!r}: {problems[0].message}")

    # -- the rest ----------------------------------------------------------------------------

    def semantics(self, raw: SemanticsFile) -> Semantics:
        return Semantics(
            images=self.media(raw.images.field, "image", raw.images) if raw.images is not None else None,
            media=freeze({name: self.media(name, m.kind, m) for name, m in raw.media.items()}),
            text=raw.text,
            seed=raw.seed,
            nsfw_flags=raw.nsfw_flags,
            echo=freeze(dict(raw.echo)),
            sync_mode=raw.sync_mode,
        )

    def media(self, field_name: str, kind: str, raw: MediaFile) -> MediaSemantics:
        size, presets, fmt = raw.default_size, raw.presets, raw.default_format
        return MediaSemantics(
            field=field_name,
            kind=kind,
            count=raw.count,
            size=raw.size,
            format=raw.format,
            default_size=(size.width, size.height) if size else None,
            default_format=fmt.lower() if fmt else None,
            # (width, height) tuples, as fal's own presets are and as the checks compare sizes
            presets=freeze({k: (v.width, v.height) for k, v in presets.items()}) if presets else None,
            aspect_ratio=raw.aspect_ratio,
            resolution=raw.resolution,
            width=raw.width,
            height=raw.height,
            duration=raw.duration,
            default_duration=raw.default_duration,
            frames=raw.frames,
            fps=raw.fps,
            default_fps=raw.default_fps,
            sample_rate=raw.sample_rate,
            default_sample_rate=raw.default_sample_rate,
            content_type=raw.content_type,
        )

    def check_semantics(self, c: Contract) -> None:
        s = c.semantics
        ins, outs = set(c.input.field_names), set(c.output.field_names)

        def need(names: set[str], name: str | None, where: At, side: str) -> None:
            if name is not None and name not in names:
                raise self.fail(where, f"{name!r} is not an {side} field")

        for m in s.all_media():
            where: At = ("semantics", "images") if m is s.images else ("semantics", "media", m.field)
            at_field: At = (*where, "field") if m is s.images else where
            need(outs, m.field, at_field, "output")
            if not self.holds_objects(c.output.field(m.field)):
                raise self.fail(at_field,
                                f"{m.field!r} is {c.output.field(m.field).type}, not a file object or a list of them")
            for key in ("count", "size", "format", "aspect_ratio", "resolution", "width", "height", "duration",
                        "frames", "fps", "sample_rate"):
                name = getattr(m, key)
                need(ins, name, (*where, key), "input")
                if name is not None:
                    problem = _sem.field_problem(m.kind, key, c.input.field(name), m)
                    if problem:
                        raise self.fail((*where, key), f"{name!r} {problem}")
        for i, name in enumerate(s.text):
            need(outs, name, ("semantics", "text", i), "output")
            if "string" not in c.output.field(name).scalar_kinds():
                raise self.fail(("semantics", "text", i), f"{name!r} is {c.output.field(name).type}, not a string")
        need(ins, s.seed, ("semantics", "seed"), "input")
        need(outs, s.seed, ("semantics", "seed"), "output")
        need(outs, s.nsfw_flags, ("semantics", "nsfw_flags"), "output")
        for out_name, in_name in s.echo.items():
            need(outs, out_name, ("semantics", "echo", out_name), "output")
            need(ins, in_name, ("semantics", "echo", out_name), "input")
        need(ins, s.sync_mode, ("semantics", "sync_mode"), "input")
        if s.sync_mode is not None and "boolean" not in c.input.field(s.sync_mode).scalar_kinds():
            raise self.fail(("semantics", "sync_mode"), f"{s.sync_mode!r} must be a boolean input field")
        st = c.streaming
        if st is not None:
            if st.events == "partial":
                for key, kind in (("field", "string"), ("flag", "boolean")):
                    name = getattr(st, key)
                    if name is None:
                        raise self.fail(("streaming",), f"partial events need streaming.{key} (a {kind} output "
                                                        "field)")
                    need(outs, name, ("streaming", key), "output")
                    if kind not in c.output.field(name).scalar_kinds():
                        raise self.fail(("streaming", key), f"{name!r} must be a {kind} output field")
            else:
                for key in ("field", "flag"):
                    if getattr(st, key) is not None:
                        raise self.fail(("streaming", key), "only partial events name output fields")

    def holds_objects(self, f: FieldSpec) -> bool:
        options = [o.item if isinstance(o, ListOf) else o for o in f.options]
        return any(isinstance(i, Ref) for o in options for i in options_of(o))

    def check_examples_and_scenarios(self, c: Contract) -> None:
        required_out = set(c.output.required)
        for i, ex in enumerate(c.examples):
            for j, name in enumerate(ex.output_omits):
                if name not in required_out:
                    raise self.fail(("examples", i, "output_omits", j), f"{name!r} is not a required output field")
        file_fields = set(c.file_fields())
        for s in c.scenarios:
            where: At = ("scenarios", s.name)
            for name in s.files:
                if name not in file_fields:
                    raise self.fail((*where, "files", name), f"{name!r} is not a file input field")
            if s.expect_status < 400:
                problems = validate_input(c, scenario_payload(s))
                if problems:
                    p = problems[0]
                    raise self.fail((*where, "input", *p.loc), f"{p.message} [{p.rule}]")


def _ref_names(t: TypeExpr) -> set[str]:
    if isinstance(t, Ref):
        return {t.name}
    if isinstance(t, ListOf):
        return _ref_names(t.item)
    if isinstance(t, MapOf):
        return _ref_names(t.value)
    if isinstance(t, Union):
        return set().union(*(_ref_names(o) for o in t.options))
    return set()


def scenario_payload(s: Scenario) -> dict[str, Json]:
    """A scenario's input as the model sees it, with a stand-in URL for each fixture file."""
    def url(name: str) -> str:
        return "https://fixture.invalid/" + name

    files = {k: url(v) if isinstance(v, str) else [url(n) for n in v] for k, v in s.files.items()}
    return {**s.input, **files}


def integer_with_float_default(f: FieldSpec) -> bool:
    """An integer field whose default is a fraction (``steps: integer, default: 2.5``): fal's own
    published data holds such fields, so they load, with a warning."""
    return (isinstance(f.default, float) and not f.default.is_integer() and "integer" in f.scalar_kinds()
            and "float" not in f.scalar_kinds())


def contract_warnings(c: Contract) -> list[tuple[str, str]]:
    """What loads but deserves a look, as (key path, problem) pairs."""
    out: list[tuple[str, str]] = []
    for where, spec in (("input", c.input), ("output", c.output), *((f"types.{n}", t) for n, t in c.types.items())):
        for f in spec.fields:
            if integer_with_float_default(f):
                out.append((f"{where}.fields.{f.name}.default",
                            f"the integer field has the fractional default {f.default!r}; kept as published"))
    return out




# -- writing ---------------------------------------------------------------------------------


def contract_to_data(c: Contract) -> dict[str, Json]:
    """The contract as plain data in file order; ``parse_contract(contract_to_data(c)) == c``."""
    return thaw(_contract_data(c))


def _contract_data(c: Contract) -> dict[str, Json]:
    out: dict[str, Json] = {"format_version": c.format_version, "endpoint": c.endpoint,
                           "contract_version": c.contract_version}
    _put(out, "title", c.title)
    _put(out, "description", c.description)
    _put(out, "app_root", c.app_root_override)
    prov: dict[str, Json] = {}
    if c.provenance.pages:
        prov["pages"] = [
            {k: v for k, v in (("seed", p.seed), ("client_package", p.client_package), ("note", p.note))
             if v is not None}
            for p in c.provenance.pages
        ]
    if c.provenance.notes:
        prov["notes"] = list(c.provenance.notes)
    if prov:
        out["provenance"] = prov
    out["input"] = _object_data(c.input, named=True)
    out["output"] = _object_data(c.output, named=True)
    if c.types:
        out["types"] = {name: _object_data(spec, named=False) for name, spec in c.types.items()}
    sem = _semantics_data(c.semantics)
    if sem:
        out["semantics"] = sem
    if c.examples:
        out["examples"] = [_example_data(e) for e in c.examples]
    if c.scenarios:
        out["scenarios"] = {s.name: _scenario_data(s) for s in c.scenarios}
    if c.streaming is not None:
        stream: dict[str, Json] = {"events": c.streaming.events}
        _put(stream, "field", c.streaming.field)
        _put(stream, "flag", c.streaming.flag)
        if c.streaming.count != 4:
            stream["count"] = c.streaming.count
        out["streaming"] = stream
    if c.realtime:
        out["realtime"] = True
    return out


def dump_contract(c: Contract) -> str:
    """The contract as YAML text in file order (what :func:`load_contract` reads back)."""
    return dump_yaml(contract_to_data(c))


def _put(d: dict[str, Json], key: str, value: Json) -> None:
    if value is not None and value != () and value != {}:
        d[key] = value


def _object_data(spec: ObjectSpec, *, named: bool) -> dict[str, Json]:
    out: dict[str, Json] = {}
    if named:
        out["name"] = spec.name
    _put(out, "title", spec.title)
    _put(out, "description", spec.description)
    if spec.required:
        out["required"] = list(spec.required)
    if spec.additional is not True:
        out["additional"] = spec.additional if spec.additional is False else str(spec.additional)
    out["fields"] = {f.name: _field_data(f) for f in spec.fields}
    return out


def _field_data(f: FieldSpec) -> dict[str, Json]:
    out: dict[str, Json] = {"type": str(f.type)}
    out.update(_constraint_data(f))
    return out


def _constraint_data(f: FieldSpec) -> dict[str, Json]:
    out: dict[str, Json] = {}
    _put(out, "title", f.title)
    _put(out, "description", f.description)
    if f.has_default:
        out["default"] = f.default
    if f.enum is not None:
        out["enum"] = list(f.enum)
    _put(out, "enum_name", f.enum_name)
    for key in CONSTRAINT_KEYS:
        _put(out, key, getattr(f, key))
    _put(out, "pattern", f.pattern)
    _put(out, "format", f.format)
    if f.nullable:
        out["nullable"] = True
    if f.deprecated:
        out["deprecated"] = True
    _put(out, "file", f.file)
    if f.items is not None:
        out["items"] = _constraint_data(f.items)
    if f.branches is not None:
        out["branches"] = [_constraint_data(b) for b in f.branches]
    _put(out, "inferred", f.inferred)
    if f.sources:
        out["sources"] = dict(f.sources)
    return out


_MEDIA_KEYS = ("count", "size", "aspect_ratio", "resolution", "width", "height", "format", "duration", "frames",
               "fps", "sample_rate")


def _media_data(m: MediaSemantics, *, with_kind: bool) -> dict[str, Json]:
    out: dict[str, Json] = {"kind": m.kind} if with_kind else {"field": m.field}
    for key in _MEDIA_KEYS:
        _put(out, key, getattr(m, key))
    if m.default_size:
        out["default_size"] = {"width": m.default_size[0], "height": m.default_size[1]}
    for key in ("default_format", "default_duration", "default_fps", "default_sample_rate", "content_type"):
        _put(out, key, getattr(m, key))
    if m.presets:
        out["presets"] = {k: {"width": w, "height": h} for k, (w, h) in m.presets.items()}
    return out


def _semantics_data(s: Semantics) -> dict[str, Json]:
    out: dict[str, Json] = {}
    if s.images:
        out["images"] = _media_data(s.images, with_kind=False)
    if s.media:
        out["media"] = {name: _media_data(m, with_kind=True) for name, m in s.media.items()}
    if s.text:
        out["text"] = list(s.text)
    _put(out, "seed", s.seed)
    _put(out, "nsfw_flags", s.nsfw_flags)
    if s.echo:
        out["echo"] = dict(s.echo)
    _put(out, "sync_mode", s.sync_mode)
    return out


def _example_data(e: Example) -> dict[str, Json]:
    out: dict[str, Json] = {"name": e.name}
    _put(out, "seed", e.seed)
    if e.input is not None:
        out["input"] = dict(e.input)
    if e.output is not None:
        out["output"] = dict(e.output)
    if e.output_omits:
        out["output_omits"] = list(e.output_omits)
    _put(out, "note", e.note)
    return out


def _scenario_data(s: Scenario) -> dict[str, Json]:
    out: dict[str, Json] = {}
    _put(out, "description", s.description)
    out["input"] = dict(s.input)
    if s.files:
        out["files"] = dict(s.files)
    if s.expect_status != 200:
        out["expect_status"] = s.expect_status
    return out
