// Interp's API viewer: renders the server's own /openapi.json with no
// other request, so that /docs works offline. Everything is built with
// DOM nodes and textContent: nothing of the document becomes HTML.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];

function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return n;
}

// inline renders `code`, **bold** and [links](url) of a line of markdown.
function inline(text) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(el("code", {}, m[1]));
    else if (m[2] !== undefined) out.push(el("strong", {}, m[2]));
    else if (/^(https?:|\/|#)/.test(m[4])) out.push(el("a", { href: m[4] }, m[3]));
    else out.push(m[3]);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

// markdown renders paragraphs, "- " lists and fenced code.
function markdown(text) {
  const box = el("div", { class: "md" });
  if (!text) return box;
  const blocks = text.replace(/\r/g, "").split(/\n\s*\n/);
  for (const b of blocks) {
    if (b.startsWith("```")) {
      box.append(el("pre", {}, b.replace(/^```\w*\n?/, "").replace(/\n?```\s*$/, "")));
    } else if (/^\s*[-*] /.test(b)) {
      const ul = el("ul");
      for (const item of b.split(/\n\s*[-*] /)) ul.append(el("li", {}, inline(item.replace(/^\s*[-*] /, ""))));
      box.append(ul);
    } else {
      box.append(el("p", {}, inline(b)));
    }
  }
  return box;
}

function refName(ref) {
  return ref.split("/").pop();
}

function resolve(doc, s) {
  let seen = 0;
  while (s && s.$ref && seen++ < 32) {
    const path = s.$ref.replace(/^#\//, "").split("/");
    s = path.reduce((o, k) => (o ? o[k] : undefined), doc);
  }
  return s || {};
}

function typeOf(doc, s) {
  if (!s) return "";
  if (s.$ref) return refName(s.$ref);
  let t = Array.isArray(s.type) ? s.type.filter((x) => x !== "null").join(" | ") : s.type || "";
  if (t === "array" && s.items) t = `${typeOf(doc, s.items)}[]`;
  if (s.format) t += ` (${s.format})`;
  if (!t && (s.oneOf || s.anyOf)) t = (s.oneOf || s.anyOf).map((x) => typeOf(doc, x)).join(" | ");
  if (Array.isArray(s.type) && s.type.includes("null")) t += ", nullable";
  return t || "any";
}

// schema renders a schema's properties, nested schemas folded.
function schema(doc, s, depth) {
  const box = el("div", { class: "schema" });
  const named = s && s.$ref ? refName(s.$ref) : "";
  s = resolve(doc, s);
  if (s.description && depth === 0) box.append(el("div", { class: "desc" }, inline(s.description)));
  if (s.type === "array" || (Array.isArray(s.type) && s.type.includes("array"))) {
    box.append(el("div", { class: "type" }, `array of ${typeOf(doc, s.items)}`));
    if (s.items && depth < 6) box.append(fold(doc, s.items, depth + 1));
    return box;
  }
  if (s.enum) box.append(el("div", { class: "type" }, `one of: ${s.enum.map((v) => JSON.stringify(v)).join(", ")}`));
  for (const key of ["oneOf", "anyOf"]) {
    if (s[key]) {
      box.append(el("div", { class: "type" }, key === "oneOf" ? "one of:" : "any of:"));
      for (const alt of s[key]) box.append(fold(doc, alt, depth + 1));
    }
  }
  const props = s.properties || {};
  const required = new Set(s.required || []);
  for (const [name, p] of Object.entries(props)) {
    const r = resolve(doc, p);
    const row = el(
      "div",
      { class: "prop" },
      el("span", { class: "name" }, name),
      " ",
      el("span", { class: "type" }, typeOf(doc, p)),
      required.has(name) ? el("span", { class: "req" }, "required") : null,
      r.description ? el("div", { class: "desc" }, inline(r.description)) : null,
      r.enum ? el("div", { class: "type" }, `one of: ${r.enum.map((v) => JSON.stringify(v)).join(", ")}`) : null,
    );
    if (depth < 6 && (r.properties || (r.items && resolve(doc, r.items).properties))) row.append(fold(doc, p, depth + 1));
    box.append(row);
  }
  if (s.additionalProperties && typeof s.additionalProperties === "object") {
    box.append(el("div", { class: "prop" }, el("span", { class: "name" }, "{key}"), " ", el("span", { class: "type" }, typeOf(doc, s.additionalProperties))));
  }
  if (!Object.keys(props).length && !s.enum && !s.oneOf && !s.anyOf && named === "") {
    box.append(el("div", { class: "type" }, typeOf(doc, s)));
  }
  return box;
}

function fold(doc, s, depth) {
  return el("details", {}, el("summary", { class: "type" }, typeOf(doc, s)), schema(doc, s, depth));
}

function content(doc, c) {
  const out = [];
  for (const [mime, m] of Object.entries(c || {})) {
    out.push(el("div", { class: "type" }, mime), schema(doc, m.schema, 0));
  }
  return out;
}

function operation(doc, method, path, op) {
  const id = op.operationId || `${method}-${path}`;
  const sec = el(
    "section",
    { class: "op", id },
    el("h2", {}, el("span", { class: `method ${method}` }, method), el("span", { class: "path" }, path)),
    el("p", {}, el("strong", {}, op.summary || "")),
    markdown(op.description),
  );
  const params = (op.parameters || []).map((p) => resolve(doc, p));
  if (params.length) {
    const table = el("table", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "In"), el("th", {}, "Type"), el("th", {}, "Description")));
    for (const p of params) {
      table.append(
        el(
          "tr",
          {},
          el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "req" }, "required") : null),
          el("td", {}, p.in),
          el("td", { class: "type" }, typeOf(doc, p.schema)),
          el("td", {}, inline(p.description || "")),
        ),
      );
    }
    sec.append(el("h3", {}, "Parameters"), table);
  }
  if (op.requestBody) {
    const body = resolve(doc, op.requestBody);
    sec.append(el("h3", {}, "Request body", body.required ? el("span", { class: "req" }, "required") : null), content(doc, body.content));
  }
  const responses = Object.entries(op.responses || {});
  if (responses.length) {
    sec.append(el("h3", {}, "Responses"));
    for (const [code, r0] of responses) {
      const r = resolve(doc, r0);
      const d = el("details", {}, el("summary", {}, el("code", {}, code), " ", r.description || ""));
      for (const [name, h] of Object.entries(r.headers || {})) {
        d.append(el("div", { class: "prop" }, "Header ", el("code", {}, name), " ", el("span", { class: "desc" }, inline(resolve(doc, h).description || ""))));
      }
      d.append(...content(doc, r.content));
      if (code.startsWith("2")) d.open = true;
      sec.append(d);
    }
  }
  if (op.security && op.security.length === 0) sec.append(el("p", { class: "muted" }, "No API key needed."));
  return sec;
}

function render(doc) {
  const nav = document.getElementById("nav");
  const main = document.getElementById("main");
  const info = doc.info || {};
  document.title = `${info.title || "API"} ${info.version || ""}`.trim();
  main.replaceChildren(
    el("h1", {}, info.title || "API", " ", el("span", { class: "muted" }, info.version || "")),
    el("p", {}, "The OpenAPI document: ", el("a", { href: "/openapi.json" }, "/openapi.json"), ", ", el("a", { href: "/openapi.yaml" }, "/openapi.yaml"), "."),
    markdown(info.description),
  );
  const schemes = (doc.components || {}).securitySchemes || {};
  for (const [name, s] of Object.entries(schemes)) {
    main.append(el("p", {}, el("strong", {}, "Authentication: "), `${name} (${s.type}${s.scheme ? ` ${s.scheme}` : ""}). `, inline(s.description || "")));
  }
  const groups = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push([method, path, op]);
    }
  }
  nav.replaceChildren(el("strong", {}, info.title || "API"));
  for (const [tag, ops] of groups) {
    nav.append(el("h2", {}, tag));
    main.append(el("h2", { class: "tag" }, tag));
    for (const [method, path, op] of ops) {
      const id = op.operationId || `${method}-${path}`;
      nav.append(el("a", { href: `#${id}` }, el("span", { class: `method ${method}` }, method), el("span", {}, op.summary || path)));
      main.append(operation(doc, method, path, op));
    }
  }
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

fetch("/openapi.json")
  .then((r) => {
    if (!r.ok) throw new Error(`/openapi.json: ${r.status} ${r.statusText}`);
    return r.json();
  })
  .then(render)
  .catch((e) => {
    document.getElementById("main").replaceChildren(el("p", {}, `Could not load the API description: ${e.message}`));
  });
