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

// The Run form's checks, as the server makes them (ui/forms.py): a bad value is shown beside its field
// and the form is not sent. The server checks again whatever arrives.
function checkField(spec, input) {
  const text = input.type === "checkbox" ? (input.checked ? "true" : "false") : input.value;
  const trimmed = text.trim();
  const kind = spec.type;
  if (spec.choices || kind === "bool") return null;
  if (!trimmed) return spec.required ? "Is required but no value was given." : null;
  let value = trimmed;
  if (kind === "int" || kind === "float") {
    const number = Number(trimmed);
    if (!Number.isFinite(number) || (kind === "int" && !Number.isInteger(number))) {
      return `Needs ${kind === "int" ? "a whole number" : "a number"}, got '${trimmed}'.`;
    }
    value = number;
  } else if (kind === "list" || kind === "dict") {
    try { value = JSON.parse(trimmed); } catch (e) { value = undefined; }
    const ok = kind === "list" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value);
    if (!ok) return null;   // a Python literal: the server decides
  }
  if (spec.bounds && typeof value === "number") {
    const [low, high] = spec.bounds;
    if (value < low || value > high) return `Must be between ${low} and ${high}, got ${trimmed}.`;
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
