// perfect_nb web UI: the few things a page does without a reload (no libraries, no CDN).
"use strict";

function perfectPost(url, body) {
  // Same-origin POST; the browser adds Origin, which the server checks (see ui/routes.py).
  const init = { method: "POST", credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(url, init).then(async (response) => {
    let detail = "";
    try { detail = (await response.json()).detail || ""; } catch (e) { detail = ""; }
    if (!response.ok) throw new Error(detail || `The server answered ${response.status}.`);
    return response;
  });
}

// The Run form's checks, as the server makes them (ui/forms.py then core/parameter_spec.py): the same rules
// and the same messages, so a bad value is shown beside its field and the form is not sent. The server checks
// again whatever arrives. Where the page cannot tell (a Python literal it does not read, such as 0x10 or
// b'x'), checkField answers undefined and leaves the verdict to the server.

// Python's repr of a value read from the form: {t: "int"|"float"|"str"|"bool"|"none"|"list"|"tuple"|"dict"|"set", v}
function pyStr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + quote;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + quote;
}
function pyFloat(x) {
  if (Number.isNaN(x)) return "nan";
  if (Object.is(x, -0)) return "-0.0";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e16 || a < 1e-4)) {
    const [m, e] = x.toExponential().split("e");
    return `${m}e${e[0]}${e.slice(1).padStart(2, "0")}`;
  }
  return Number.isInteger(x) ? `${x}.0` : String(x);
}
function pyRepr(n) {
  switch (n.t) {
    case "int": return String(n.v);
    case "float": return pyFloat(n.v);
    case "str": return pyStr(n.v);
    case "bool": return n.v ? "True" : "False";
    case "none": return "None";
    case "list": return `[${n.v.map(pyRepr).join(", ")}]`;
    case "tuple": return n.v.length === 1 ? `(${pyRepr(n.v[0])},)` : `(${n.v.map(pyRepr).join(", ")})`;
    case "set": return `{${n.v.map(pyRepr).join(", ")}}`;
    case "dict": return `{${n.v.map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
  }
  return "?";
}

// Read text as json.loads ("json") or ast.literal_eval ("py") would: a node, null when it is not one,
// or throws "unknown" for Python syntax this reader leaves to the server.
function readLiteral(text, mode) {
  const py = mode === "py";
  let i = 0;
  const UNKNOWN = "unknown";
  const space = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const fail = () => { throw "bad"; };
  function number() {
    const rest = text.slice(i);
    const m = py ? /^(\d(?:_?\d)*)?(\.(?:\d(?:_?\d)*)?)?([eE][+-]?\d(?:_?\d)*)?/.exec(rest) : /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(rest);
    if (!m || !m[0] || m[0] === ".") fail();
    if (py && /^0[xXoObB]/.test(rest)) throw UNKNOWN;
    if (py && /^[jJ]/.test(text.slice(i + m[0].length))) throw UNKNOWN;   // a complex number
    if (!/\d/.test((m[1] || "") + (m[2] || ""))) fail();   // digits before the exponent
    if (py && m[1] && !m[2] && !m[3] && /^0+[1-9]/.test(m[1].replace(/_/g, ""))) fail();   // 012: not a Python literal
    i += m[0].length;
    const isFloat = Boolean(m[2] || m[3]);
    const v = Number(m[0].replace(/_/g, ""));
    if (!isFloat && !Number.isSafeInteger(v)) throw UNKNOWN;   // a big int: the server reads it exactly
    return { t: isFloat ? "float" : "int", v };
  }
  function string() {
    const quote = text[i++];
    let out = "";
    while (i < text.length && text[i] !== quote) {
      let ch = text[i++];
      if (ch === "\n" || (!py && ch < " ")) fail();
      if (ch === "\\") {
        const e = text[i++];
        const simple = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", b: "\b", f: "\f" };
        if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) { ch = String.fromCharCode(parseInt(text.slice(i, i + 4), 16)); i += 4; }
        else if (py && e === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i, i + 2))) { ch = String.fromCharCode(parseInt(text.slice(i, i + 2), 16)); i += 2; }
        else if (e in simple && (py || e !== "'")) ch = simple[e];
        else throw py ? UNKNOWN : "bad";
      }
      out += ch;
    }
    if (text[i] !== quote) fail();
    i++;
    if (py) { space(); if (text[i] === '"' || text[i] === "'") throw UNKNOWN; }   // "a" "b": joined by Python
    return { t: "str", v: out };
  }
  function items(close) {   // values up to `close`, and whether a comma came last
    const out = [];
    let comma = false;
    space();
    while (text[i] !== close) {
      if (out.length && !comma) fail();
      out.push(value());
      space();
      comma = text[i] === ",";
      if (comma) { i++; space(); if (!py && text[i] === close) fail(); }
    }
    i++;
    return [out, comma];
  }
  function value() {
    space();
    const ch = text[i];
    if (ch === undefined) fail();
    if (ch === "[") { i++; return { t: "list", v: items("]")[0] }; }
    if (ch === "(" && py) {
      i++;
      const [vals, comma] = items(")");
      return vals.length === 1 && !comma ? vals[0] : { t: "tuple", v: vals };
    }
    if (ch === "{") {
      i++;
      space();
      if (text[i] === "}") { i++; return { t: "dict", v: [] }; }
      const pairs = [], members = [];
      for (;;) {
        const key = value();
        space();
        if (text[i] === ":" && !members.length) {
          i++;
          if (!py && key.t !== "str") fail();
          if (["list", "dict", "set"].includes(key.t)) throw UNKNOWN;   // unhashable: Python says so its way
          pairs.push([key, value()]);
        } else if (py && !pairs.length) {
          members.push(key);
        } else fail();
        space();
        if (text[i] === ",") { i++; space(); if (text[i] === "}") { if (!py) fail(); i++; break; } continue; }
        if (text[i] === "}") { i++; break; }
        fail();
      }
      if (members.length) throw UNKNOWN;   // a set: Python orders its repr by hash
      const seen = new Map();   // a repeated key: the last value wins, in the first key's place
      for (const [k, v] of pairs) { const r = pyRepr(k); if (seen.has(r)) seen.get(r)[1] = v; else seen.set(r, [k, v]); }
      return { t: "dict", v: [...seen.values()] };
    }
    if (ch === '"' || (ch === "'" && py)) return string();
    for (const [word, node] of py ? [["True", { t: "bool", v: true }], ["False", { t: "bool", v: false }], ["None", { t: "none" }]]
      : [["true", { t: "bool", v: true }], ["false", { t: "bool", v: false }], ["null", { t: "none" }], ["NaN", { t: "float", v: NaN }],
         ["Infinity", { t: "float", v: Infinity }], ["-Infinity", { t: "float", v: -Infinity }]]) {
      if (text.startsWith(word, i) && !/[\w]/.test(text[i + word.length] || "")) { i += word.length; return node; }
    }
    if (py && (ch === "-" || ch === "+")) {   // one sign on a number, as literal_eval allows
      i++;
      space();
      if (!/[0-9.]/.test(text[i] || "")) fail();
      const n = number();
      return ch === "-" ? { t: n.t, v: -n.v } : n;
    }
    if (py && ch === "#") throw UNKNOWN;   // a comment
    if (/[0-9.]/.test(ch) || (!py && ch === "-")) return number();
    if (py && /[A-Za-z_]/.test(ch)) {
      if (/^[rRbBuUfF]{1,2}['"]/.test(text.slice(i))) throw UNKNOWN;   // r'', b'': prefixed strings
      fail();
    }
    return fail();
  }
  try {
    let node = value();
    space();
    if (py && text[i] === ",") {   // 1, 2: a tuple without brackets
      const vals = [node];
      while (text[i] === ",") { i++; space(); if (i >= text.length) break; vals.push(value()); space(); }
      node = { t: "tuple", v: vals };
    }
    if (i < text.length) { if (py && text[i] === "#") throw UNKNOWN; fail(); }
    return node;
  } catch (e) {
    if (e === UNKNOWN) throw e;
    if (e === "bad") return null;
    throw e;
  }
}

const _ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;
function isoProblem(text) {   // as datetime.fromisoformat: "" when it reads, "bad", or "unknown" (other ISO forms)
  const m = _ISO.exec(text);
  if (!m) return /^\d[\dT:.,+\-Z W]*$/.test(text) && !/^\d{4}-\d{2}-\d{2}$/.test(text) ? "unknown" : "bad";
  const [, y, mo, d, h, mi, sec, , tz] = m;
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(y) < 1 || mo < 1 || mo > 12 || d < 1 || d > days) return "bad";
  if (h !== undefined && (h > 23 || (mi !== undefined && mi > 59) || (sec !== undefined && sec > 59))) return "bad";
  if (h !== undefined && mi === undefined && tz === undefined) return "unknown";   // "2024-01-31T08": Python reads it
  if (tz && tz !== "Z" && (Number(tz.slice(1, 3)) > 23 || Number(tz.replace(":", "").slice(3) || 0) > 59)) return "bad";
  return "";
}

function checkField(spec, input) {
  // A message (as the server's), null when the value is good, undefined when only the server can tell.
  const text = input.type === "checkbox" ? (input.checked ? "true" : "false") : input.value;
  const kind = spec.type;
  let node;
  if (spec.choices) {
    const index = (spec.choices_text || []).indexOf(text);
    if (index < 0) return `Must be one of ${(spec.choices_text || []).join(", ")}, got ${pyStr(text)}.`;
    return null;
  }
  if (kind === "bool") return null;
  const trimmed = text.trim();
  if (!trimmed) return spec.required ? "Is required but no value was given." : null;
  if (kind === "str") node = { t: "str", v: text };
  else if (kind === "datetime") {
    const problem = isoProblem(trimmed);
    if (problem === "unknown") return undefined;
    if (problem) return `Needs an ISO 8601 date-time like 2024-01-31T08:00, got ${pyStr(trimmed)}.`;
    node = { t: "str", v: trimmed };
  } else if (kind === "int" || kind === "float") {
    const m = /^[+-]?(?:(?:\d(?:_?\d)*)?\.?(?:\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?|inf(?:inity)?|nan)$/i.exec(trimmed);
    const digits = /\d/.test(trimmed) || /inf|nan/i.test(trimmed);
    const wanted = kind === "int" ? "a whole number" : "a number";
    if (!m || !digits || /^[+-]?\.?(?:[eE]|$)/.test(trimmed)) return `Needs ${wanted}, got ${pyStr(trimmed)}.`;
    const lower = trimmed.toLowerCase().replace(/_/g, "");
    const x = /nan/.test(lower) ? NaN : /inf/.test(lower) ? (lower.startsWith("-") ? -Infinity : Infinity) : Number(lower);
    if (kind === "int") {
      if (!Number.isInteger(x)) return `Needs a whole number, got ${pyStr(trimmed)}.`;
      if (!Number.isSafeInteger(x)) return undefined;
      node = { t: "int", v: x };
    } else node = { t: "float", v: x };
  } else {
    try {
      node = readLiteral(trimmed, "json") || readLiteral(trimmed, "py");
    } catch (e) {
      if (e === "unknown") return undefined;
      throw e;
    }
    if (!node) {
      if (kind === "list" || kind === "dict") {
        const wanted = kind === "list" ? "a list like [1, 2]" : 'an object like {"a": 1}';
        return `Needs ${wanted}: check brackets, quotes and commas in ${pyStr(trimmed)}.`;
      }
      node = { t: "str", v: text };   // untyped: other text stays text
    }
    if ((kind === "list" || kind === "dict") && node.t !== "none" && node.t !== kind) {
      const typeName = { int: "int", float: "float", str: "str", bool: "bool", list: "list", tuple: "tuple", dict: "dict", set: "set" }[node.t];
      return `Needs ${kind === "list" ? "a list" : "a dict"}, got ${pyRepr(node)} (${typeName}).`;
    }
  }
  if (spec.bounds && node.t !== "none") {
    const [low, high] = spec.bounds;
    const [lowText, highText] = spec.bounds_text || spec.bounds.map(String);
    const number = node.t === "int" || node.t === "float" || node.t === "bool";
    if (!(number && low <= Number(node.v) && Number(node.v) <= high)) return `Must be between ${lowText} and ${highText}, got ${pyRepr(node)}.`;
  }
  return null;
}

function showError(field, name, message) {
  let span = document.getElementById("e-" + name);
  if (!message) { if (span) span.remove(); field.classList.remove("bad"); return; }
  if (!span) {
    span = document.createElement("span");
    span.className = "error";
    span.id = "e-" + name;
    span.setAttribute("role", "alert");
    field.appendChild(span);
  }
  span.textContent = message;
  field.classList.add("bad");
}

function setUpRunForm(form) {
  const specs = JSON.parse(document.getElementById("param-spec").textContent);
  const check = (spec) => {
    const input = document.getElementById("p-" + spec.name);
    if (!input) return true;
    const message = checkField(spec, input);
    showError(input.closest(".field"), spec.name, message);
    return !message;
  };
  for (const spec of specs) {
    const input = document.getElementById("p-" + spec.name);
    if (input) input.addEventListener(input.type === "checkbox" || input.tagName === "SELECT" ? "change" : "input", () => check(spec));  // while typing: a message that goes away on blur would move the Run button under the pointer
  }
  form.addEventListener("submit", (event) => {
    const results = specs.map(check);
    if (results.includes(false)) {
      event.preventDefault();
      const first = form.querySelector(".field.bad input, .field.bad textarea, .field.bad select");
      if (first) first.focus();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const runForm = document.getElementById("run-form");
  if (runForm) setUpRunForm(runForm);
  const toggle = document.getElementById("schedule-toggle");
  if (toggle) {
    toggle.addEventListener("click", () => {
      const active = toggle.dataset.active !== "true";
      toggle.disabled = true;
      perfectPost("/api/schedules", { name: toggle.dataset.name, project: toggle.dataset.project, active })
        .then(() => location.reload())
        .catch((err) => { toggle.disabled = false; toggle.textContent = err.message; });
    });
  }
  const login = document.getElementById("login");
  if (login) {
    login.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = document.getElementById("token").value.trim();
      const error = document.getElementById("login-error");
      fetch("/login", { method: "POST", credentials: "same-origin", headers: { Authorization: "Bearer " + token } })
        .then((response) => {
          if (response.ok) { location.assign(login.dataset.next || "/"); return; }
          error.textContent = response.status === 401
            ? "That is not this server's token; copy it from config.toml's [server] section."
            : `The server answered ${response.status}; try again.`;
        })
        .catch(() => { error.textContent = "The server does not answer; is it running?"; });
    });
  }
});
