"""Reading spec documents: safe YAML only, every error at once, each at ``file:line:column``.

PyYAML composes the node tree (no Python objects are ever built from tags); this module turns
nodes into plain values itself, refusing what a spec never needs and an attacker would use:
aliases and anchors (billion laughs), duplicate keys, custom tags, nesting deeper than
``MAX_DEPTH`` and files over ``MAX_BYTES``. Then the JSON Schema validates each document, and
every error's path is mapped back to the line and column it came from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import fastjsonschema
import jsonschema
import yaml
from yaml.constructor import SafeConstructor

from . import API_VERSION, KIND
from .schema import build_schema

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 32
TAG = "tag:yaml.org,2002:"

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """``("spec", "goals", 2, "target")`` → ``spec.goals[2].target``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


@dataclass(frozen=True, order=True)
class SpecError:
    source: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.path}: {self.message}"

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "path": self.path, "message": self.message}


class SpecErrors(Exception):
    """One or more errors in spec documents; nothing was written."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = sorted(set(errors))
        super().__init__("\n".join(map(str, self.errors)))


@dataclass
class Document:
    """One loaded document, with where each of its values stands in the source."""

    data: dict
    source: str = "<spec>"
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path) -> tuple[int, int]:
        """The line and column of ``path``, or of its nearest ancestor present in the source."""
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    def error(self, path: Path, message: str) -> SpecError:
        return SpecError(self.source, *self.locate(path), format_path(path), message)

    @property
    def slug(self) -> str:
        return str(self.data.get("metadata", {}).get("slug", ""))


# --- YAML to nodes ----------------------------------------------------------------------------


class YAMLRefused(yaml.MarkedYAMLError):
    pass


class Composer(yaml.SafeLoader):
    """Composes nodes only, refusing aliases, anchors and deep nesting as it goes."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YAMLRefused(problem="aliases (*name) are not allowed in a spec", problem_mark=event.start_mark)
        if getattr(event, "anchor", None):
            raise YAMLRefused(problem="anchors (&name) are not allowed in a spec", problem_mark=event.start_mark)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YAMLRefused(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def compose(text: str, source: str) -> list[yaml.Node]:
    """The documents' node trees: through libyaml when the text is plain, else the checking composer.

    libyaml composes about seven times faster, but it cannot refuse as it goes; so its event
    stream is read first (also in C) and only text with no alias, anchor or deep nesting takes
    that road. Anything else, and any syntax error, goes to ``Composer``, which says what and where.
    """
    if FAST_YAML and is_plain(text):
        try:
            return list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            pass  # the checking composer below reports it with its line and column
    return compose_checked(text, source)


FAST_YAML = getattr(yaml, "__with_libyaml__", False)


def is_plain(text: str) -> bool:
    """No alias, no anchor, no nesting deeper than ``MAX_DEPTH``: what ``Composer`` would accept."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                return False
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH - 1:
                    return False
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    return True


def compose_checked(text: str, source: str) -> list[yaml.Node]:
    loader = Composer(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
        return nodes
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = ": ".join(filter(None, [exc.context, exc.problem])) or "not valid YAML"
        raise SpecErrors([SpecError(source, mark.line + 1, mark.column + 1, "(document)", message)]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise SpecErrors([SpecError(source, line, 1, "(document)", f"not valid YAML: {exc.reason}")]) from None
    finally:
        loader.dispose()


# --- Nodes to values --------------------------------------------------------------------------


class Builder:
    """Plain values from nodes: mappings with string keys, lists, strings, numbers, booleans, null."""

    scalars = SafeConstructor()

    def __init__(self, document: Document) -> None:
        self.document = document
        self.errors: list[SpecError] = []

    def value(self, node: yaml.Node, path: Path):
        self.document.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in (TAG + "map", TAG + "seq"):
            self.fail(node, path, f"the tag {node.tag!r} is not allowed in a spec")
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        result = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != TAG + "str":
                self.fail(key_node, path, "keys must be plain text")
                continue
            key = key_node.value
            if key in result:
                line = self.document.marks[(*path, key)][0]
                self.fail(key_node, (*path, key), f"duplicate key {key!r} (first given on line {line})")
                continue
            result[key] = self.value(value_node, (*path, key))
        return result

    def scalar(self, node: yaml.ScalarNode, path: Path):
        kind = node.tag.removeprefix(TAG)
        if kind == "str":
            return node.value
        if kind == "timestamp":
            return node.value  # dates stay text; the importer parses them with the model field
        if kind in ("null", "bool", "int"):
            return getattr(self.scalars, f"construct_yaml_{kind}")(node)
        if kind == "float":
            return self.number(node, path)
        self.fail(node, path, f"the tag {node.tag!r} is not allowed in a spec")
        return None

    def number(self, node: yaml.ScalarNode, path: Path):
        try:
            number = Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.fail(node, path, f"{node.value!r} is not a plain finite number")
        return number

    def fail(self, node: yaml.Node, path: Path, message: str) -> None:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        self.errors.append(SpecError(self.document.source, line, column, format_path(path), message))


# --- Schema -----------------------------------------------------------------------------------

TYPE_NAMES = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys to values",
    "null": "nothing",
}


def expected(types) -> str:
    types = [types] if isinstance(types, str) else [name for name in types if name != "null"]
    return "expected " + " or ".join(TYPE_NAMES[name] for name in types)


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(build_schema(), format_checker=jsonschema.FormatChecker())


@functools.cache
def fast_check() -> Callable[[dict], object]:
    """The same schema compiled by fastjsonschema: about ten times faster, so a valid document passes quickly.

    Only a document it refuses goes on to ``validator``, whose errors are the ones reported. It
    knows drafts up to 7, and the schema uses nothing newer; "date" is checked as jsonschema does.
    """
    schema = {key: value for key, value in build_schema().items() if key != "$schema"}
    checker = jsonschema.FormatChecker()
    return fastjsonschema.compile(schema, formats={"date": lambda value: checker.conforms(value, "date")})


def schema_errors(document: Document) -> list[SpecError]:
    try:
        fast_check()(document.data)
        return []
    except fastjsonschema.JsonSchemaException:
        pass  # the full validator below says what is wrong, every error at once
    errors = []
    for error in validator().iter_errors(document.data):
        errors += describe(document, error)
    return errors


def describe(document: Document, error: jsonschema.ValidationError) -> list[SpecError]:
    """Schema errors in our words, each at the path it concerns."""
    path = tuple(error.absolute_path)
    kind, value = error.validator, error.validator_value
    if kind == "required":
        return [document.error((*path, key), "required") for key in value if key not in error.instance]
    if kind == "additionalProperties":
        known = error.schema.get("properties", {})
        return [document.error((*path, key), "unknown field") for key in error.instance if key not in known]
    messages = {
        "type": lambda: expected(value),
        "enum": lambda: "expected one of: " + ", ".join(repr(choice) for choice in value if choice is not None),
        "maxLength": lambda: f"at most {value} characters",
        "minLength": lambda: "must not be empty",
        "minimum": lambda: f"must be at least {value}",
        "format": lambda: "expected a date, YYYY-MM-DD",
        "pattern": lambda: f"does not match {value}",
        "oneOf": lambda: "give exactly one of: " + ", ".join(option["required"][0] for option in value),
    }
    message = messages[kind]() if kind in messages else error.message
    return [document.error(path, message)]


def header_errors(document: Document) -> list[SpecError]:
    """Unknown apiVersion or kind: the rest of the document cannot be read against our schema."""
    data = document.data
    if not isinstance(data, dict):
        return [document.error((), "a spec is a mapping with apiVersion, kind, metadata and spec")]
    errors = []
    if data.get("apiVersion") != API_VERSION:
        given = data.get("apiVersion")
        errors.append(document.error(("apiVersion",), f"unknown apiVersion {given!r}; expected {API_VERSION}"))
    if data.get("kind") != KIND:
        errors.append(document.error(("kind",), f"unknown kind {data.get('kind')!r}; expected {KIND}"))
    return errors


# --- Entry points -----------------------------------------------------------------------------


def decode(content: bytes | str, source: str) -> str:
    if len(content) > MAX_BYTES:
        raise SpecErrors([SpecError(source, 1, 1, "(document)", f"larger than {MAX_BYTES // (1024 * 1024)} MB")])
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise SpecErrors([SpecError(source, line, 1, "(document)", "not UTF-8 text")]) from None


def load(content: bytes | str, source: str = "<spec>") -> list[Document]:
    """Every document in ``content``, validated; raises ``SpecErrors`` with all errors found."""
    nodes = compose(decode(content, source), source)
    if not nodes:
        raise SpecErrors([SpecError(source, 1, 1, "(document)", "no spec document found")])
    documents, errors = [], []
    for node in nodes:
        document = Document(data={}, source=source)
        builder = Builder(document)
        document.data = builder.value(node, ())
        errors += builder.errors or header_errors(document) or schema_errors(document)
        documents.append(document)
    if errors:
        raise SpecErrors(errors)
    return documents


def read_back(text: str) -> dict:
    """A document Lodestar wrote itself, read as ``load`` reads one but without its checks (it passes them)."""
    [node] = compose(text, "<export>")
    return Builder(Document(data={})).value(node, ())


def load_file(path) -> list[Document]:
    with open(path, "rb") as handle:
        content = handle.read(MAX_BYTES + 1)
    return load(content, str(path))
