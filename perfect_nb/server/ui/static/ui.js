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

document.addEventListener("DOMContentLoaded", () => {
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
