"""What Argo Rollouts does with an AnalysisTemplate's web metric, played in Python from its source
(argoproj/argo-rollouts): args resolved once (`utils/template`, `utils/analysis/factory.go`),
the request as the web provider sends it (`metricproviders/webmetric/webmetric.go`), and the
conditions evaluated as expr-lang does on the JSON received (`utils/evaluate/evaluate.go`).

Only the part of expr-lang the README's and Kayenta-style conditions use: `result` and its
members (a missing key is nil), `nil`, `true`, `false`, numbers, quoted strings, `== != < <= > >=`,
`&& || !` and parentheses. As in expr-lang, an order comparison of anything but two numbers or
two strings (`nil >= 80`) is an error, and so is a condition that is not a boolean.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR = "Successful", "Failed", "Inconclusive", "Error"
TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|'([^']*)'|\"([^\"]*)\"|([A-Za-z_]\w*)|(==|!=|>=|<=|&&|\|\||[<>!().]))")


class ExprError(Exception):
    """What expr-lang fails with: Argo marks the measurement Error."""


@dataclass(frozen=True)
class Measurement:
    phase: str
    value: Any = None  # the JSON received (or the body's text when it is not JSON)
    status: int | None = None


def resolve_args(template: dict[str, Any], given: list[dict[str, Any]], hash_value: str, secrets: dict) -> dict:
    """The template's args, those of the Rollout put over them (MergeArgs), each a string:
    `podTemplateHashValue` is the canary's hash, `secretKeyRef` read from `secrets`."""
    args = {arg["name"]: dict(arg) for arg in template["spec"].get("args", [])}
    for arg in given:
        args[arg["name"]].update({key: arg[key] for key in ("value", "valueFrom") if key in arg})
    resolved = {}
    for name, arg in args.items():
        source = arg.get("valueFrom", {})
        if "value" in arg:
            resolved[name] = arg["value"]
        elif source.get("podTemplateHashValue") == "Latest":
            resolved[name] = hash_value
        elif "secretKeyRef" in source:
            reference = source["secretKeyRef"]
            resolved[name] = secrets[reference["name"]][reference["key"]]
        else:
            raise AssertionError(f"args.{name} was not resolved")  # Argo refuses to start the run
    return resolved


def resolve_metric(metric: dict[str, Any], args: dict[str, str]) -> dict[str, Any]:
    """The metric with `{{args.name}}` replaced (ResolveQuotedArgs: in its JSON, each value
    escaped as a Go string; the tag's spaces trimmed)."""

    def value_of(found: re.Match[str]) -> str:
        tag = found[1].strip()
        assert tag.startswith("args."), tag
        return json.dumps(args[tag.removeprefix("args.")])[1:-1]

    return json.loads(re.sub(r"\{\{(.*?)\}\}", value_of, json.dumps(metric)))


def measure(metric: dict[str, Any]) -> Measurement:
    """One measurement of the resolved metric: the request as Go's client sends it, a non-2xx
    answer an Error, the JSON (`jsonPath` `{$}`: all of it) judged by both conditions."""
    web = metric["provider"]["web"]
    request = urllib.request.Request(web["url"], method=web.get("method", "GET"))  # noqa: S310 - the test's server
    request.add_header("User-Agent", "Go-http-client/1.1")
    for header in web.get("headers", []):
        request.add_header(header["key"], header["value"])
    try:
        with urllib.request.urlopen(request, timeout=web.get("timeoutSeconds", 10)) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        return Measurement(ERROR, status=error.code)
    if not 200 <= status < 300:
        return Measurement(ERROR, status=status)
    try:
        result: Any = json.loads(body)
    except ValueError:
        result = body.decode()
    return Measurement(evaluate_result(result, metric), result, status)


def evaluate_result(result: Any, metric: dict[str, Any]) -> str:
    """EvaluateResult: both conditions set and neither true is Inconclusive; one alone decides both ways."""
    success, failure = metric.get("successCondition", ""), metric.get("failureCondition", "")
    try:
        succeeded = condition(success, result) if success else False
        failed = condition(failure, result) if failure else False
    except ExprError:
        return ERROR
    if not success and not failure:
        return SUCCESSFUL
    if success and not failure:
        failed = not succeeded
    if failure and not success:
        succeeded = not failed
    if failed:
        return FAILED
    return SUCCESSFUL if succeeded else INCONCLUSIVE


def condition(text: str, result: Any) -> bool:
    """A condition's value; `ExprError` when expr-lang fails it, or it is not a boolean."""
    value = _Parser(text, result).parse()
    if not isinstance(value, bool):
        raise ExprError(f"expected bool, but got {type(value).__name__}")
    return value


Thunk = Callable[[], Any]


class _Parser:
    """Reads the whole condition into thunks first, then evaluates: `&&` and `||` evaluate their
    right side only when needed, as expr-lang does (`x != nil && x >= 80` never compares nil)."""

    def __init__(self, text: str, result: Any) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.result = result

    def parse(self) -> Any:
        thunk = self.either()
        if self.position != len(self.tokens):
            raise ExprError(f"unexpected {self.tokens[self.position]}")
        return thunk()

    def take(self, operator: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == ("op", operator):
            self.position += 1
            return True
        return False

    def either(self) -> Thunk:
        thunk = self.both()
        while self.take("||"):
            thunk = _either(thunk, self.both())
        return thunk

    def both(self) -> Thunk:
        thunk = self.comparison()
        while self.take("&&"):
            thunk = _both(thunk, self.comparison())
        return thunk

    def comparison(self) -> Thunk:
        left = self.unary()
        for operator in ("==", "!=", ">=", "<=", ">", "<"):
            if self.take(operator):
                right = self.unary()
                return lambda: _compare(operator, left(), right())
        return left

    def unary(self) -> Thunk:
        if self.take("!"):
            operand = self.unary()
            return lambda: not _boolean(operand())
        return self.member()

    def member(self) -> Thunk:
        thunk = self.atom()
        while self.take("."):
            _kind, name = self.tokens[self.position]
            self.position += 1
            thunk = _member(thunk, name)
        return thunk

    def atom(self) -> Thunk:
        if self.take("("):
            thunk = self.either()
            if not self.take(")"):
                raise ExprError("unclosed (")
            return thunk
        if self.position >= len(self.tokens):
            raise ExprError("unexpected end")
        kind, value = self.tokens[self.position]
        self.position += 1
        if kind in ("number", "string"):
            return lambda: value
        names = {"nil": None, "true": True, "false": False, "result": self.result}
        if kind == "name" and value in names:
            return lambda: names[value]
        raise ExprError(f"unknown name {value}")


def _either(left: Thunk, right: Thunk) -> Thunk:
    return lambda: _boolean(left()) or _boolean(right())  # expr-lang stops at the first true


def _both(left: Thunk, right: Thunk) -> Thunk:
    return lambda: _boolean(left()) and _boolean(right())  # and at the first false


def _member(inner: Thunk, name: str) -> Thunk:
    return lambda: _fetch(inner(), name)


def _fetch(value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        raise ExprError(f"cannot fetch {name} from {type(value).__name__}")
    return value.get(name)  # a missing key is nil


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while text[position:].strip():
        found = TOKEN.match(text, position)
        if found is None:
            raise ExprError(f"cannot read {text[position:]!r}")
        number, single, double, name, operator = found.groups()
        if number is not None:
            tokens.append(("number", float(number) if "." in number else int(number)))
        elif single is not None or double is not None:
            tokens.append(("string", single if single is not None else double))
        elif name is not None:
            tokens.append(("name", name))
        else:
            tokens.append(("op", operator))
        position = found.end()
    return tokens


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(operator: str, left: Any, right: Any) -> bool:
    if operator in ("==", "!="):
        same = left == right if (_is_number(left) and _is_number(right)) or type(left) is type(right) else False
        return same if operator == "==" else not same
    if not ((_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))):
        raise ExprError(f"invalid operation: {left!r} {operator} {right!r}")
    return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[operator]


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"invalid operation on {type(value).__name__}: expected bool")
    return value
