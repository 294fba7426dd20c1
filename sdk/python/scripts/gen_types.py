"""Generates src/interp/_types.py from Interp's OpenAPI document.

    python scripts/gen_types.py openapi.json > src/interp/_types.py

The SDK's event and resource types come from the document the server
serves, so they never drift from it: the tests regenerate this file from a
running server's /openapi.json and fail if it differs from the one
checked in.
"""

from __future__ import annotations

import json
import keyword
import sys

# The schemas the SDK exposes, besides every event of a task's stream.
RESOURCES = ["SessionInfo", "FileInfo", "FileWritten", "Usage", "InterruptResult"]


def py_type(s: dict) -> str:
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[1]
    t = s.get("type")
    if isinstance(t, list):
        t = next(x for x in t if x != "null")
    if "enum" in s:
        return "Literal[" + ", ".join(json.dumps(v) for v in s["enum"]) + "]"
    if t == "string":
        return "str"
    if t == "integer":
        return "int"
    if t == "number":
        return "float"
    if t == "boolean":
        return "bool"
    if t == "array":
        return "List[" + py_type(s.get("items", {})) + "]"
    if t == "object" and "properties" not in s:
        return "Dict[str, Any]"
    return "Any"


def converter(s: dict, expr: str) -> str:
    """The expression that turns the JSON value expr into the field's type."""
    if "$ref" in s:
        return f"{py_type(s)}.from_dict({expr})"
    if s.get("type") == "array" and "$ref" in s.get("items", {}):
        return f"[{py_type(s['items'])}.from_dict(x) for x in {expr}]"
    return expr


def dataclass(name: str, s: dict) -> str:
    props = s.get("properties", {})
    req = s.get("required", [])
    doc = s.get("description") or name
    lines = ["@dataclass(frozen=True)", f"class {name}:", f'    """{doc}"""', ""]
    order = [p for p in props if p in req] + [p for p in props if p not in req]
    conv = []
    for p in order:
        ps = props[p]
        attr = p + "_" if keyword.iskeyword(p) else p
        t = py_type(ps)
        if p in req:
            lines.append(f"    {attr}: {t}")
            conv.append(f"            {attr}={converter(ps, f'd[{p!r}]')},")
        else:
            lines.append(f"    {attr}: Optional[{t}] = None")
            c = converter(ps, f"d[{p!r}]")
            if c == f"d[{p!r}]":
                conv.append(f"            {attr}=d.get({p!r}),")
            else:
                conv.append(f"            {attr}={c} if d.get({p!r}) is not None else None,")
        if ps.get("description"):
            lines.append(f'    """{ps["description"]}"""')
    lines += [
        "",
        "    @classmethod",
        f"    def from_dict(cls, d: Dict[str, Any]) -> {name}:",
        f'        """A {name} from its JSON; fields it does not know are ignored."""',
        "        return cls(",
        *conv,
        "        )",
    ]
    return "\n".join(lines)


def union(name: str, s: dict) -> tuple[str, dict]:
    mapping = {k: v.rsplit("/", 1)[1] for k, v in s["discriminator"]["mapping"].items()}
    members = ", ".join(dict.fromkeys(mapping.values()))
    return f'{name} = Union[{members}]\n"""{s.get("description", name)}"""', mapping


def main() -> None:
    doc = json.load(open(sys.argv[1]))
    schemas = doc["components"]["schemas"]
    out = [
        '"""Types generated from Interp\'s OpenAPI document by scripts/gen_types.py: do not edit."""',
        "",
        "from __future__ import annotations",
        "",
        "from dataclasses import dataclass",
        "from typing import Any, Dict, List, Literal, Optional, Union",
        "",
    ]
    exec_union, exec_map = union("ExecutionEvent", schemas["ExecutionEvent"])
    task_union, task_map = union("TaskEvent", schemas["TaskEvent"])
    names = list(dict.fromkeys(list(task_map.values()) + RESOURCES))
    # Referenced schemas first.
    for n in list(names):
        for p in schemas[n].get("properties", {}).values():
            r = p.get("$ref") or p.get("items", {}).get("$ref")
            if r and r.rsplit("/", 1)[1] not in names:
                names.insert(0, r.rsplit("/", 1)[1])
    for n in names:
        out += ["", dataclass(n, schemas[n]), ""]
    out += ["", exec_union, "", task_union, ""]
    out += ["", "EVENT_TYPES: Dict[str, Any] = {"]
    out += [f"    {k!r}: {v}," for k, v in task_map.items()]
    out += ["}", '"""Each event type\'s class, by the type field."""', ""]
    print("\n".join(out).rstrip() + "\n", end="")


if __name__ == "__main__":
    main()
