// The flow run page: recolour the DAG in place from server-sent events, batched per frame.
"use strict";
(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const finished = new Set(boot.finished);
  const succeeded = new Set(boot.succeeded);
  const mapped = new Set(boot.mapped);
  const order = boot.order;
  const SVGNS = "http://www.w3.org/2000/svg";
  const nodes = new Map();            // slug -> <g class="node">
  const children = new Map();         // mapped slug -> Map(map_index -> state)
  const own = new Map();              // slug -> its own (map_index -1) state
  let pending = new Set();            // slugs to redraw at the next frame
  let frame = 0;

  document.querySelectorAll("#dag g.node").forEach((g) => {
    const title = g.querySelector("title");
    if (title) nodes.set(title.textContent, g);
  });
  for (const [key, state] of Object.entries(boot.task_runs)) note(key.slice(0, key.lastIndexOf("|")), Number(key.slice(key.lastIndexOf("|") + 1)), state);

  function color(state) { return boot.colors[state] || boot.colors.State; }
  function textColor(fill) { for (const [s, c] of Object.entries(boot.colors)) if (c === fill) return boot.text[s]; return "#000000"; }

  function note(slug, index, state) {
    if (index >= 0) {
      if (!children.has(slug)) children.set(slug, new Map());
      children.get(slug).set(index, state);
    } else {
      own.set(slug, state);
    }
  }

  function shapeOf(g) { return g.querySelector("polygon, ellipse, path"); }

  function paint(slug) {
    const g = nodes.get(slug);
    if (!g) return;
    const shape = shapeOf(g);
    const texts = g.querySelectorAll("text");
    g.querySelectorAll("rect.stripe, rect[stroke='none']").forEach((r) => r.remove());
    let fill = own.has(slug) ? color(own.get(slug)) : "#ffffff";
    if (mapped.has(slug)) {
      const kids = children.get(slug);
      if (kids && kids.size) {
        const counts = {};
        let done = 0, ok = 0;
        kids.forEach((s) => { counts[s] = (counts[s] || 0) + 1; if (finished.has(s)) done++; if (succeeded.has(s)) ok++; });
        const total = kids.size;
        const states = order.filter((s) => counts[s]).concat(Object.keys(counts).filter((s) => !order.includes(s)));
        let widest = states[0];
        states.forEach((s) => { if (counts[s] > counts[widest]) widest = s; });
        fill = color(widest);
        if (states.length > 1 && shape && shape.tagName === "polygon") {
          const box = shape.getBBox();
          let x = box.x;
          states.forEach((s, i) => {
            const w = i === states.length - 1 ? box.x + box.width - x : box.width * counts[s] / total;
            const r = document.createElementNS(SVGNS, "rect");
            r.setAttribute("class", "stripe");
            r.setAttribute("x", x.toFixed(2)); r.setAttribute("y", box.y.toFixed(2));
            r.setAttribute("width", Math.max(w, 0).toFixed(2)); r.setAttribute("height", box.height.toFixed(2));
            r.setAttribute("fill", color(s)); r.setAttribute("stroke", "none");
            g.insertBefore(r, shape);
            x += w;
          });
          shape.setAttribute("fill", "none");
        } else if (shape) {
          shape.setAttribute("fill", fill);
        }
        if (texts.length) texts[texts.length - 1].textContent = done < total ? `${done}/${total}` : `${ok}/${total} ok`;
        texts.forEach((t) => t.setAttribute("fill", textColor(fill)));
        g.dataset.state = widest;
        return;
      }
    }
    if (shape) shape.setAttribute("fill", fill);
    texts.forEach((t) => t.setAttribute("fill", textColor(fill)));
    if (own.has(slug)) g.dataset.state = own.get(slug);
  }

  function flush() {
    frame = 0;
    const todo = pending;
    pending = new Set();
    todo.forEach(paint);
  }

  function badge(state) {
    const span = document.createElement("span");
    span.className = "badge";
    span.textContent = state;
    span.style.background = color(state);
    span.style.color = textColor(color(state));
    return span;
  }

  function taskTable() {
    let table = document.querySelector("#task-table tbody");
    if (table) return table;
    const none = document.getElementById("no-tasks");
    if (!none) return null;
    const t = document.createElement("table");
    t.className = "tasks";
    t.id = "task-table";
    const head = t.createTHead().insertRow();
    for (const h of ["Task", "State", "Started", "Duration", "Message"]) { const th = document.createElement("th"); th.textContent = h; head.appendChild(th); }
    none.replaceWith(t);
    return t.createTBody();
  }

  function updateRow(e) {
    const table = taskTable();
    if (!table) return;
    const index = e.map_index == null ? -1 : e.map_index;
    const key = e.task_slug + "|" + index;
    let row = table.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
    if (!row) {
      if (table.rows.length >= 500) return;   // as on the server: the first 500 rows
      row = table.insertRow();
      row.dataset.key = key;
      const cells = [e.task_slug + (index >= 0 ? `[${index}]` : ""), "", e.ts ? new Date(e.ts * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "", "", ""];
      cells.forEach((text, i) => { const td = row.insertCell(); td.textContent = text; td.className = ["", "state", "", "", "msg"][i]; });
    }
    row.querySelector("td.state").replaceChildren(badge(e.state));
    if (e.message) row.querySelector("td.msg").textContent = e.message;
  }

  function runState(state, message) {
    document.getElementById("run-state").replaceChildren(badge(state));
    if (message) document.getElementById("run-message").textContent = message;
    if (finished.has(state)) {
      closeStream();
      setTimeout(() => location.reload(), 400);   // the final table, durations and logs
    }
  }

  const taskNames = new Map();        // task run id -> "slug[i]", for log lines that arrive later
  function receive(e) {
    if (e.task_run_id && e.task_slug) taskNames.set(e.task_run_id, e.task_slug + (e.map_index >= 0 ? `[${e.map_index}]` : ""));
    if (!e.task_slug) { if (!e.task_run_id) runState(e.state, e.message); return; }
    note(e.task_slug, e.map_index == null ? -1 : e.map_index, e.state);
    updateRow(e);
    pending.add(e.task_slug);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  // logs: new lines every 1.5 s while the run is not finished
  let lastLog = boot.last_log;
  const levelSelect = document.getElementById("log-level");
  const searchBox = document.getElementById("log-search");
  function shown(tr) {
    const needle = searchBox.value.trim().toLowerCase();
    return Number(tr.dataset.level) >= Number(levelSelect.value) && (!needle || tr.textContent.toLowerCase().includes(needle));
  }
  function filterLogs() { document.querySelectorAll("#logs tr").forEach((tr) => { tr.hidden = !shown(tr); }); }
  levelSelect.addEventListener("change", filterLogs);
  searchBox.addEventListener("input", filterLogs);
  const levelNames = [[50, "CRITICAL"], [40, "ERROR"], [30, "WARNING"], [20, "INFO"], [0, "DEBUG"]];
  function pollLogs() {
    fetch(`/api/flow_runs/${boot.run_id}/logs?after_id=${lastLog}`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : []))
      .then((lines) => {
        const body = document.querySelector("#logs tbody");
        for (const l of lines) {
          lastLog = Math.max(lastLog, l.id);
          const tr = document.createElement("tr");
          tr.dataset.level = l.level;
          const cells = [new Date(l.timestamp * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC",
                         levelNames.find(([n]) => l.level >= n)[1], taskNames.get(l.task_run_id) || "", l.message];
          cells.forEach((text, i) => { const td = document.createElement("td"); td.textContent = text; td.className = ["ts", "lvl lvl" + l.level, "task", "line"][i]; tr.appendChild(td); });
          tr.hidden = !shown(tr);
          body.appendChild(tr);
        }
        if (lines.length) { const none = document.getElementById("no-logs"); if (none) none.remove(); }
      })
      .catch(() => {});
  }

  let source = null, logTimer = 0;
  function closeStream() { if (source) source.close(); source = null; clearInterval(logTimer); document.getElementById("live").hidden = true; }
  if (!finished.has(boot.state)) {
    source = new EventSource(`/api/stream?flow_run_id=${encodeURIComponent(boot.run_id)}`);
    source.onopen = () => {
      document.getElementById("live").hidden = false;
      // what changed between the page's rendering and the stream's opening
      fetch(`/api/flow_runs/${boot.run_id}`, { credentials: "same-origin" }).then((r) => r.json()).then((run) => {
        for (const t of run.task_runs || []) receive({ task_slug: t.task_slug, map_index: t.map_index, state: t.state, task_run_id: t.id, message: t.message });
        if (run.state !== boot.state) runState(run.state, run.message);
      }).catch(() => {});
    };
    source.onmessage = (m) => receive(JSON.parse(m.data));
    logTimer = setInterval(pollLogs, 1500);
  }

  document.getElementById("mark-state").addEventListener("change", (event) => { document.getElementById("mark").disabled = !event.target.value; });
  document.getElementById("mark").addEventListener("click", (event) => {
    const button = event.currentTarget;
    const state = document.getElementById("mark-state").value;
    const out = document.getElementById("action-result");
    button.disabled = true;
    perfectPost(button.dataset.url, { state, message: `Marked ${state} from the web page.`, version: boot.version })
      .then(() => { out.textContent = `Marked ${state}.`; setTimeout(() => location.reload(), 300); })
      .catch((err) => { out.textContent = err.message; button.disabled = false; });
  });

  for (const id of ["cancel", "restart"]) {
    const button = document.getElementById(id);
    button.addEventListener("click", () => {
      button.disabled = true;
      const out = document.getElementById("action-result");
      perfectPost(button.dataset.url)
        .then(() => { out.textContent = id === "cancel" ? "Cancel requested." : "Restarted."; setTimeout(() => location.reload(), 300); })
        .catch((err) => { out.textContent = err.message; button.disabled = false; });
    });
  }
})();
