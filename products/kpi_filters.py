"""KPI row filters: a small, safe condition language parsed into a tree and rendered as parameterised SQL.

A KPI's `filter` is user text such as `status = 'completed' AND total_spend > 0`. It is never pasted into SQL:
`parse` turns it into a tree of the node types below, and `to_sql` renders the tree with the caller's callbacks,
which quote every column name and bind every literal as a parameter. `evaluate` applies the same tree to a Python
row with SQL's three-valued logic; the tests use it as the ground truth for what the databases keep.

Grammar (keywords are case-insensitive):

    expr       := or_expr
    or_expr    := and_expr ( OR and_expr )*
    and_expr   := not_expr ( AND not_expr )*
    not_expr   := NOT not_expr | atom
    atom       := '(' expr ')' | comparison
    comparison := column op literal
                | column [NOT] IN '(' literal (',' literal)* ')'
                | column IS [NOT] NULL
                | column [NOT] BETWEEN literal AND literal
    op         := = | != | <> | < | <= | > | >=
    column     := [A-Za-z_][A-Za-z0-9_]*  |  "any text" ("" escapes ")
    literal    := 'text' ('' escapes ') | integer | decimal | TRUE | FALSE
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NoReturn

from django.core.exceptions import ValidationError

MAX_LENGTH = 500  # KPI.filter's max_length
MAX_COMPARISONS = 50
MAX_DEPTH = 20
# Integers must fit a 64-bit column: SQLite's driver refuses larger ones, the other databases would widen them.
INT_RANGE = range(-(2**63), 2**63)

KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "TRUE", "FALSE"}
# Both spellings of "not equal" become the standard one.
OPERATORS = {"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
COMPARE = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# [0-9], not \d: \d also matches other scripts' digits, which int() would quietly accept.
TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<number>-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<column>"(?:[^"]|"")*")
    | (?P<string>'(?:[^']|'')*')
    | (?P<op><=|>=|<>|!=|=|<|>)
    | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
# What may not touch the end of a number: "1abc", "1.5.3" and "2e" are typos, not a number and a word.
NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]")

Literal = str | int | float | bool


class FilterError(ValueError):
    """A filter that does not parse; the message names the character (counted from 1) where it goes wrong."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"at character {position}: {problem}")
        self.position = position
        self.problem = problem


@dataclass(frozen=True)
class Compare:
    column: str
    op: str  # one of COMPARE's keys; != is stored as <>
    value: Literal


@dataclass(frozen=True)
class InList:
    column: str
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    column: str
    negated: bool = False


@dataclass(frozen=True)
class Between:
    column: str
    low: Literal
    high: Literal
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Compare | InList | IsNull | Between | And | Or | Not


# Parsing


@dataclass(frozen=True)
class Token:
    kind: str  # number, word, column, string, op, punct or end
    text: str
    position: int  # counted from 1

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the filter"
        text = self.text if len(self.text) <= 30 else self.text[:27] + "..."
        return text if self.kind == "string" else f"'{text}'"


def tokens(text: str) -> Iterator[Token]:
    """The filter's tokens, spaces left out, then an end token. Made lazily, so the first problem is the one named."""
    index = 0
    while index < len(text):
        match = TOKEN.match(text, index)
        if match is None:
            problem = "unclosed quote" if text[index] in "'\"" else f"unexpected character {text[index]!r}"
            raise FilterError(index + 1, problem)
        if match.lastgroup == "number" and NUMBER_TAIL.match(text, match.end()):
            raise FilterError(index + 1, "malformed number")
        if match.lastgroup != "space":
            yield Token(match.lastgroup, match.group(), index + 1)
        index = match.end()
    yield Token("end", "", len(text) + 1)


class Parser:
    """Recursive descent over the grammar in the module docstring, one token of lookahead."""

    def __init__(self, text: str) -> None:
        self.stream = tokens(text)
        self.token = next(self.stream)
        self.comparisons = 0

    def advance(self) -> Token:
        token, self.token = self.token, next(self.stream)
        return token

    def at(self, punct: str) -> bool:
        return self.token.kind == "punct" and self.token.text == punct

    def take_word(self, word: str) -> bool:
        if self.token.is_word(word):
            self.advance()
            return True
        return False

    def expect(self, kind: str, text: str, wanted: str) -> None:
        if self.token.kind != kind or self.token.text.upper() != text:
            self.fail(f"expected {wanted}, found {self.token.describe()}")
        self.advance()

    def fail(self, problem: str, token: Token | None = None) -> NoReturn:
        raise FilterError((token or self.token).position, problem)

    def parse(self) -> Node:
        node = self.or_expr(0)
        if self.token.kind != "end":
            self.fail(f"unexpected {self.token.describe()} after a complete condition; join conditions with AND or OR")
        return node

    def or_expr(self, depth: int) -> Node:
        items = [self.and_expr(depth)]
        while self.take_word("OR"):
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, depth: int) -> Node:
        items = [self.not_expr(depth)]
        while self.take_word("AND"):
            items.append(self.not_expr(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self, depth: int) -> Node:
        if self.token.is_word("NOT"):
            self.check_depth(depth)
            self.advance()
            return Not(self.not_expr(depth + 1))
        return self.atom(depth)

    def atom(self, depth: int) -> Node:
        if self.at("("):
            self.check_depth(depth)
            self.advance()
            node = self.or_expr(depth + 1)
            self.expect("punct", ")", "')' to close the bracket")
            return node
        return self.comparison()

    def check_depth(self, depth: int) -> None:
        # Brackets and NOTs both nest; the limit keeps the tree (and every walk over it) shallow.
        if depth >= MAX_DEPTH:
            self.fail(f"the filter nests more than {MAX_DEPTH} levels deep")

    def comparison(self) -> Node:
        start = self.token
        column = self.column()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            self.fail(f"the filter has more than {MAX_COMPARISONS} comparisons", start)
        if self.token.kind == "op":
            written = self.advance().text
            return Compare(column, OPERATORS[written], self.literal(f"after '{written}'"))
        if self.take_word("IS"):
            negated = self.take_word("NOT")
            self.expect("word", "NULL", "NULL after 'IS NOT'" if negated else "NULL or NOT NULL after 'IS'")
            return IsNull(column, negated)
        negated = self.take_word("NOT")
        if self.take_word("IN"):
            return InList(column, self.value_list(), negated)
        if self.take_word("BETWEEN"):
            low = self.literal("after 'BETWEEN'")
            self.expect("word", "AND", "AND between the two values of BETWEEN")
            return Between(column, low, self.literal("after 'AND'"), negated)
        if negated:
            self.fail(f"expected IN or BETWEEN after 'NOT', found {self.token.describe()}")
        return self.fail(
            f"expected an operator (=, <>, <, IN, IS, BETWEEN...) after {start.describe()}, "
            f"found {self.token.describe()}"
        )

    def column(self) -> str:
        token = self.token
        if token.kind == "column":
            if token.text == '""':
                self.fail("a quoted column name cannot be empty")
            name = token.text[1:-1].replace('""', '"')
        elif token.kind == "word" and token.text.upper() not in KEYWORDS:
            name = token.text
        else:
            self.fail(f"expected a column name, found {token.describe()}")
        self.advance()
        if self.at("("):
            self.fail(f"function calls are not allowed: {token.describe()} is followed by '('")
        return name

    def value_list(self) -> tuple[Literal, ...]:
        self.expect("punct", "(", "'(' to open the list after IN")
        values = [self.literal("after '('")]
        while self.at(","):
            self.advance()
            values.append(self.literal("after ','"))
        self.expect("punct", ")", "',' or ')' in the list after IN")
        return tuple(values)

    def literal(self, where: str) -> Literal:
        token = self.token
        if token.kind == "string":
            value = token.text[1:-1].replace("''", "'")
        elif token.kind == "number":
            value = self.number(token)
        elif token.is_word("TRUE", "FALSE"):
            value = token.text.upper() == "TRUE"
        elif token.is_word("NULL"):
            self.fail("nothing equals NULL; use IS NULL or IS NOT NULL")
        elif token.kind == "column" or (token.kind == "word" and token.text.upper() not in KEYWORDS):
            self.fail(f"expected a value {where}, found {token.describe()} (a column cannot be compared to a column)")
        else:
            self.fail(f"expected a value {where}, found {token.describe()}")
        self.advance()
        return value

    def number(self, token: Token) -> int | float:
        if any(mark in token.text for mark in ".eE"):
            value = float(token.text)
            if not math.isfinite(value):
                self.fail(f"the number {token.describe()} is too large")
            return value
        value = int(token.text)
        if value not in INT_RANGE:
            self.fail(f"the number {token.describe()} does not fit in 64 bits")
        return value


def parse(text: str) -> Node | None:
    """The filter's tree, or None for a blank filter. Raises FilterError for anything outside the grammar."""
    if len(text) > MAX_LENGTH:
        raise FilterError(
            MAX_LENGTH + 1, f"the filter is {len(text)} characters long; at most {MAX_LENGTH} are allowed"
        )
    if "\x00" in text:
        raise FilterError(text.index("\x00") + 1, "NUL characters are not allowed")
    if not text.strip():
        return None
    return Parser(text).parse()


def validate(text: str, known_columns: set[str] | None) -> None:
    """Raise ValidationError on `filter` for a filter that does not parse or names a column outside known_columns."""
    try:
        node = parse(text)
    except FilterError as error:
        raise ValidationError({"filter": str(error)}) from error
    unknown = sorted(columns_of(node) - known_columns) if known_columns else []
    if len(unknown) == 1:
        raise ValidationError({"filter": f"The filter names a column the output does not have: {unknown[0]!r}."})
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise ValidationError({"filter": f"The filter names columns the output does not have: {names}."})


# Using the tree


def columns_of(node: Node | None) -> set[str]:
    """Every column the filter names."""
    match node:
        case None:
            return set()
        case And(items) | Or(items):
            return set().union(*(columns_of(item) for item in items))
        case Not(item):
            return columns_of(item)
        case _:
            return {node.column}


def to_sql(node: Node | None, quote: Callable[[str], str], bind: Callable[[object], str]) -> str:
    """The filter as a fully bracketed SQL condition; "" for no filter.

    Column names go through quote() and values through bind(), which returns a placeholder; bind() is called in
    the order the placeholders appear, so positional parameters line up.
    """
    match node:
        case None:
            return ""
        case Compare(column, op, value):
            return f"({quote(column)} {op} {bind(value)})"
        case InList(column, values, negated):
            placeholders = ", ".join(bind(value) for value in values)
            return f"({quote(column)} {'NOT IN' if negated else 'IN'} ({placeholders}))"
        case IsNull(column, negated):
            return f"({quote(column)} {'IS NOT NULL' if negated else 'IS NULL'})"
        case Between(column, low, high, negated):
            return f"({quote(column)} {'NOT BETWEEN' if negated else 'BETWEEN'} {bind(low)} AND {bind(high)})"
        case And(items):
            return "(" + " AND ".join(to_sql(item, quote, bind) for item in items) + ")"
        case Or(items):
            return "(" + " OR ".join(to_sql(item, quote, bind) for item in items) + ")"
        case Not(item):
            return f"(NOT {to_sql(item, quote, bind)})"
    raise TypeError(f"not a filter node: {node!r}")


def evaluate(node: Node | None, row: dict) -> bool:
    """Whether the row is kept: the filter is TRUE for it (not FALSE, not unknown). No filter keeps every row."""
    return node is None or truth(node, row) is True


def truth(node: Node, row: dict) -> bool | None:
    """The filter's SQL truth value on the row: True, False or None for unknown."""
    match node:
        case And(items):
            values = [truth(item, row) for item in items]
            return False if False in values else None if None in values else True
        case Or(items):
            values = [truth(item, row) for item in items]
            return True if True in values else None if None in values else False
        case Not(item):
            value = truth(item, row)
            return None if value is None else not value
        case IsNull(column, negated):
            return (row[column] is None) != negated
    value = row[node.column]
    if value is None:
        return None  # any comparison with NULL is unknown
    match node:
        case Compare(_, op, literal):
            return COMPARE[op](*comparable(value, literal))
        case InList(_, values, negated):
            return any(operator.eq(*comparable(value, literal)) for literal in values) != negated
        case Between(_, low, high, negated):
            inside = operator.ge(*comparable(value, low)) and operator.le(*comparable(value, high))
            return inside != negated
    raise TypeError(f"not a filter node: {node!r}")


def comparable(value: object, literal: Literal) -> tuple[object, object]:
    """The row's value and the literal, made comparable the way the databases compare them.

    A date meets ISO text (order_date >= '2024-01-01') as a date, as the databases cast the text; a Decimal meets
    a float as a float, as PostgreSQL compares numeric with double precision. Text never meets a number: TypeError.
    """
    if isinstance(value, date) and isinstance(literal, str):
        try:
            return value, type(value).fromisoformat(literal)
        except ValueError as error:
            raise TypeError(f"cannot compare the date {value!r} with {literal!r}") from error
    if isinstance(value, str) != isinstance(literal, str):
        raise TypeError(f"cannot compare {value!r} with {literal!r}: text with a number")
    if isinstance(value, Decimal) and isinstance(literal, float):
        return float(value), literal
    return value, literal
