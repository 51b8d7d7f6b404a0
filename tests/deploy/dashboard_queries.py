"""The PromQL a Grafana dashboard runs, and the metric names that PromQL reads.

Deliberately a small lexer rather than a PromQL parser: strings, label
matchers, range/subquery brackets and grouping clauses are cut out, and what
is left that looks like an identifier and is not called like a function or
used as a keyword is a metric name. `promtool check rules` (see
dashboard_test.py) checks that every expression really parses.
"""

import json
import re

# Grafana's built-in interval variables and what they become outside Grafana.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "__range_s": "3600",
}

_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr):
    """The metric names a PromQL expression selects, as written (a histogram's
    `_bucket`/`_sum`/`_count` series keep their suffix; see family_of())."""
    names = set()
    # __name__="x" inside a matcher names a metric too.
    for matcher in _NAME_MATCHER.findall(expr):
        names.add(matcher[1:-1])
    text = _VARIABLE.sub(" ", expr)
    text = _STRING.sub('""', text)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    for identifier, call in _IDENTIFIER.findall(text):
        if call or identifier in _KEYWORDS:
            continue
        names.add(identifier)
    return names


def parse_exposition(text):
    """(types, samples) of a Prometheus text exposition: {family: type} from
    the `# TYPE` lines and the set of sample names that have values."""
    types, samples = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(None, 3)
            types[family] = kind.strip()
        elif line and not line.startswith("#"):
            samples.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return types, samples


def family_of(name, types):
    """The metric family a series name belongs to: `x_bucket`, `x_sum` and
    `x_count` belong to `x` only if `x` is a histogram (or summary, for the
    last two); `quantd_jobs_count` of a counter family stays as it is."""
    for suffix in _HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and (
                types.get(base) == "histogram"
                or (types.get(base) == "summary" and suffix != "_bucket")):
            return base
    return name


def template_query_expr(query):
    """The PromQL inside a Grafana Prometheus variable query, or None.
    label_values(SELECTOR, LABEL) -> SELECTOR; query_result(EXPR) -> EXPR."""
    if isinstance(query, dict):
        query = query.get("query", "")
    query = query.strip()
    match = re.fullmatch(r"label_values\((.*),\s*\w+\s*\)", query, re.S)
    if match:
        return match.group(1)
    match = re.fullmatch(r"query_result\((.*)\)", query, re.S)
    if match:
        return match.group(1)
    return None  # label_values(label), label_names(), metrics(regex)


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def iter_panels(dashboard):
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(dashboard):
    """[(where, expr)] for every panel target and every query variable."""
    queries = []
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            queries.append((f"panel {panel.get('id')} '{panel.get('title')}' "
                            f"target {target.get('refId')}", target.get("expr", "")))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            expr = template_query_expr(variable.get("query", ""))
            if expr:
                queries.append((f"variable ${variable['name']}", expr))
    return queries


def substitute_variables(expr, values):
    """expr with Grafana variables replaced: `values` for the dashboard's own
    ($model -> '.*'), GRAFANA_BUILTINS for the interval ones."""
    all_values = {**GRAFANA_BUILTINS, **values}

    def replace(match):
        name = match.group(0).strip("${}[]").split(":")[0]
        if name not in all_values:
            raise KeyError(f"undefined Grafana variable {match.group(0)} in {expr!r}")
        return all_values[name]

    return _VARIABLE.sub(replace, expr)


def used_variables(text):
    return {m.strip("${}[]").split(":")[0] for m in _VARIABLE.findall(text)}
