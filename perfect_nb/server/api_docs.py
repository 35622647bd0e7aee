"""``/docs``: the API described on one page, built from its OpenAPI schema, with no script.

Swagger UI and ReDoc load their code from a CDN, which an offline server cannot
reach, so the page is plain HTML made here: each route with its method, path,
summary, parameters and body fields. The machine-readable schema is at
``/api/openapi.json``.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter()

STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h2{margin-top:1.6em;border-bottom:1px solid #ddd}code{background:#f4f4f4;padding:0 .25em}
.m{display:inline-block;width:4.5em;font-weight:600}.get{color:#2563eb}.post{color:#16a34a}.delete{color:#dc2626}
td{padding:.1em .8em .1em 0;vertical-align:top}.muted{color:#666}"""


def _schema_fields(schema: dict, components: dict) -> list[tuple[str, str, bool]]:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    return [(name, _type(spec, components), name in required) for name, spec in schema.get("properties", {}).items()]


def _type(spec: dict, components: dict) -> str:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in spec:
        return " | ".join(_type(s, components) for s in spec["anyOf"])
    if spec.get("type") == "array":
        return f"list[{_type(spec.get('items', {}), components)}]"
    return spec.get("type", "any")


def _route(method: str, path: str, op: dict, components: dict) -> str:
    rows = [(p["name"], f"{p['in']}, {_type(p.get('schema', {}), components)}", p.get("required", False)) for p in op.get("parameters", [])]
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body:
        rows += [(name, f"body, {kind}", req) for name, kind, req in _schema_fields(body, components)]
    table = "".join(f"<tr><td><code>{html.escape(n)}</code></td><td class=muted>{html.escape(k)}</td><td>{'required' if r else ''}</td></tr>" for n, k, r in rows)
    summary = html.escape(op.get("summary", ""))
    doc = html.escape((op.get("description") or "").strip().split("\n\n")[0])
    return (f"<p><span class='m {method}'>{method.upper()}</span><code>{html.escape(path)}</code> {summary}</p>"
            + (f"<p class=muted>{doc}</p>" if doc else "") + (f"<table>{table}</table>" if table else ""))


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    schema: dict[str, Any] = request.app.openapi()
    components = schema.get("components", {}).get("schemas", {})
    groups: dict[str, list[str]] = {}
    for path, methods in schema["paths"].items():
        group = path.split("/")[2] if path.count("/") >= 2 else path
        for method, op in methods.items():
            groups.setdefault(group, []).append(_route(method, path, op, components))
    sections = "".join(f"<h2>{html.escape(g)}</h2>{''.join(items)}" for g, items in groups.items())
    title = html.escape(f"{schema['info']['title']} {schema['info']['version']}")
    return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>{title} API</title><style>{STYLE}</style>"
                        f"<h1>{title}: the API</h1><p>JSON under <code>/api</code>; errors are <code>{html.escape(json.dumps({'detail': '...'}))}</code> "
                        f"that say what to do. Machine-readable: <a href='/api/openapi.json'>/api/openapi.json</a>.</p>{sections}")
