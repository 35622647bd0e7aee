// The flow run page, live: the DAG, the header facts, the task-run table and counts, the timeline and the
// state history follow the server-sent events. An event only updates what is known (O(1)); the page is
// redrawn at most once per animation frame, and then only the parts that changed (the DAG's nodes are
// recoloured in place, never redrawn), so a 5,000-item map stays responsive while it runs.
"use strict";
(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const finished = new Set(boot.finished);
  const succeeded = new Set(boot.succeeded);
  const restartable = new Set(boot.restartable);
  const mapped = new Set(boot.mapped);
  const order = boot.order;
  const SVGNS = "http://www.w3.org/2000/svg";

  const runs = new Map();       // "slug|index" -> {slug, index, state, id, name, start, end, message}
  const kids = new Map();       // mapped slug -> Map(state -> children in it)
  const sizes = new Map(Object.entries(boot.sizes));  // mapped slug -> its number of children
  const own = new Map();        // slug -> its own (index -1) state
  const counts = new Map();     // state -> task runs in it
  const nodes = new Map();      // slug -> <g class="node">
  const rows = new Map();       // "slug|index" -> <tr> of the task-run table
  const bars = new Map();       // "slug|index" -> <div class="tl-row">
  const history = new Set();    // "state|ts" of the state history's lines
  const run = { state: boot.state, start: boot.start, end: boot.end };
  let dirtyNodes = new Set(), dirtyRows = new Set(), dirtyCounts = false, dirtyTimeline = false, dirtyHead = false, frame = 0;

  const color = (state) => boot.colors[state] || boot.colors.State;
  function textColor(fill) { for (const [s, c] of Object.entries(boot.colors)) if (c === fill) return boot.text[s]; return "#000000"; }
  const when = (ts) => (ts == null ? "" : new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC");
  function duration(start, end) {   // as ui/routes.py's _duration
    if (start == null) return "";
    const s = (end != null ? end : Date.now() / 1000) - start;
    if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
    if (s < 120) return `${s.toFixed(2)} s`;
    return `${(s / 60).toFixed(1)} min`;
  }
  const bump = (map, key, n) => { const v = (map.get(key) || 0) + n; if (v) map.set(key, v); else map.delete(key); };
  function badge(state) {
    const span = document.createElement("span");
    span.className = "badge";
    span.textContent = state;
    span.style.background = color(state);
    span.style.color = textColor(color(state));
    return span;
  }
  function schedule() { if (!frame) frame = requestAnimationFrame(flush); }

  // --- what the page was rendered with ---------------------------------------------------------
  document.querySelectorAll("#dag g.node").forEach((g) => { const t = g.querySelector("title"); if (t) nodes.set(t.textContent, g); });
  document.querySelectorAll("#task-table tbody tr").forEach((tr) => rows.set(tr.dataset.key, tr));
  document.querySelectorAll("#timeline .tl-row").forEach((div) => bars.set(div.dataset.key, div));
  document.querySelectorAll("#history li").forEach((li) => history.add(li.dataset.key));
  for (const [key, state] of Object.entries(boot.task_runs)) {
    const cut = key.lastIndexOf("|");
    apply({ task_slug: key.slice(0, cut), map_index: Number(key.slice(cut + 1)), state }, false);
  }
  for (const [key, id, name, start, end] of boot.rows) Object.assign(runs.get(key), { id, name, start, end });
  dirtyNodes.clear(); dirtyRows.clear(); dirtyCounts = dirtyTimeline = false;

  // --- one task-run event: remember it, mark what it changes -------------------------------------
  function apply(e, live = true) {
    const slug = e.task_slug, index = e.map_index == null ? -1 : e.map_index, key = slug + "|" + index;
    let r = runs.get(key);
    if (!r) { r = { slug, index, state: null, id: null, name: null, start: null, end: null, message: undefined }; runs.set(key, r); }
    if (r.state !== e.state) {
      if (r.state) bump(counts, r.state, -1);
      bump(counts, e.state, 1);
      if (index >= 0) {
        if (!kids.has(slug)) kids.set(slug, new Map());
        if (r.state) bump(kids.get(slug), r.state, -1);
        bump(kids.get(slug), e.state, 1);
      }
      r.state = e.state;
      dirtyCounts = true;
    }
    if (index < 0) own.set(slug, e.state);
    if (e.task_run_id) r.id = e.task_run_id;
    if (e.task_name) r.name = e.task_name;
    if ("message" in e) r.message = e.message;
    if ("start" in e) r.start = e.start;
    else if (e.state === "Running" && r.start == null) r.start = e.ts;
    if ("end" in e) r.end = e.end;
    else if (finished.has(e.state)) r.end = e.ts;
    else if (e.state === "Running") r.end = null;
    if (e.map_size != null) sizes.set(slug, e.map_size);
    if (!live) return;
    dirtyNodes.add(slug);
    if (rows.has(key) || rows.size < boot.table_rows) dirtyRows.add(key);
    if (r.start != null) dirtyTimeline = true;
    schedule();
  }

  // --- drawing, once per frame ------------------------------------------------------------------
  function paint(slug) {
    const g = nodes.get(slug);
    if (!g) return;
    const shape = g.querySelector("polygon, ellipse, path");
    const texts = g.querySelectorAll("text");
    g.querySelectorAll("rect.stripe").forEach((r) => r.remove());
    let fill = own.has(slug) ? color(own.get(slug)) : "#ffffff";
    const seen = kids.get(slug);
    if (mapped.has(slug) && ((seen && seen.size) || sizes.has(slug))) {
      const c = new Map(seen || []);
      let total = 0;
      c.forEach((n) => { total += n; });
      if (sizes.get(slug) > total) { bump(c, "Pending", sizes.get(slug) - total); total = sizes.get(slug); }  // not reported yet
      let done = 0, ok = 0;
      c.forEach((n, s) => { if (finished.has(s)) done += n; if (succeeded.has(s)) ok += n; });
      const states = order.filter((s) => c.has(s)).concat([...c.keys()].filter((s) => !order.includes(s)));
      let widest = states[0];
      states.forEach((s) => { if (c.get(s) > c.get(widest)) widest = s; });
      fill = widest ? color(widest) : fill;
      if (states.length > 1 && shape && shape.tagName === "polygon") {
        const box = shape.getBBox();
        let x = box.x;
        states.forEach((s, i) => {
          const w = i === states.length - 1 ? box.x + box.width - x : box.width * c.get(s) / total;
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
      if (texts.length) texts[texts.length - 1].textContent = done < total || !total ? `${done}/${total}` : `${ok}/${total} ok`;
      texts.forEach((t) => t.setAttribute("fill", textColor(fill)));
      if (widest) g.dataset.state = widest;
      return;
    }
    if (shape) shape.setAttribute("fill", fill);
    texts.forEach((t) => t.setAttribute("fill", textColor(fill)));
    if (own.has(slug)) g.dataset.state = own.get(slug);
  }

  const label = (r) => (r.name || r.slug) + (r.index >= 0 ? `[${r.index}]` : "");

  function drawRow(key) {
    const r = runs.get(key);
    let tr = rows.get(key);
    if (!tr) {
      if (rows.size >= boot.table_rows) return;
      const table = document.getElementById("task-table");
      table.hidden = false;
      const none = document.getElementById("no-tasks");
      if (none) none.remove();
      tr = table.tBodies[0].insertRow();
      tr.dataset.key = key;
      for (const cls of ["name", "state", "started", "dur", "msg"]) tr.insertCell().className = cls;
      rows.set(key, tr);
    }
    const name = tr.querySelector("td.name");
    if (r.id && !name.querySelector("a")) {
      const a = document.createElement("a");
      a.href = `/task-runs/${encodeURIComponent(r.id)}`;
      a.textContent = label(r);
      name.replaceChildren(a);
    } else if (!name.textContent) {
      name.textContent = label(r);
    }
    const state = tr.querySelector("td.state");
    if (state.textContent !== r.state) state.replaceChildren(badge(r.state));
    tr.querySelector("td.started").textContent = when(r.start);
    tr.querySelector("td.dur").textContent = r.end != null || r.state === "Running" ? duration(r.start, r.end) : "";
    if (r.message !== undefined) tr.querySelector("td.msg").textContent = r.message || "";
  }

  function drawCounts() {
    const ul = document.getElementById("task-counts");
    ul.hidden = counts.size === 0;
    ul.replaceChildren(...[...counts.keys()].sort().map((s) => {
      const li = document.createElement("li");
      const b = document.createElement("b");
      b.textContent = counts.get(s);
      li.append(badge(s), " ", b);
      return li;
    }));
    const more = runs.size - rows.size;
    const p = document.getElementById("more-tasks");
    p.hidden = more <= 0;
    p.querySelector("span").textContent = more;
  }

  function drawTimeline() {   // as ui/routes.py's _timeline: the first bars to start, as shares of the span
    const started = [];
    runs.forEach((r, key) => { if (r.start != null) started.push([key, r]); });
    if (!started.length) return;
    started.sort((a, b) => a[1].start - b[1].start);
    const shown = started.slice(0, boot.timeline_bars);
    const now = Date.now() / 1000;
    const begin = shown[0][1].start;
    let end = run.end != null ? run.end : begin;
    for (const [, r] of shown) end = Math.max(end, r.end != null ? r.end : now);
    const span = Math.max(end - begin, 1e-3);
    const box = document.getElementById("timeline");
    const list = shown.map(([key, r]) => {
      let div = bars.get(key);
      if (!div) {
        div = document.createElement("div");
        div.className = "tl-row";
        div.dataset.key = key;
        const name = document.createElement("span"), track = document.createElement("span"), bar = document.createElement("span");
        name.className = "tl-name"; track.className = "tl-track"; bar.className = "tl-bar";
        track.appendChild(bar);
        div.append(name, track);
        bars.set(key, div);
      }
      const bar = div.querySelector(".tl-bar");
      div.querySelector(".tl-name").textContent = label(r);
      bar.title = `${label(r)}: ${r.state}, ${duration(r.start, r.end)}`;
      bar.style.left = `${((r.start - begin) / span * 100).toFixed(2)}%`;
      bar.style.width = `${Math.max(((r.end != null ? r.end : now) - r.start) / span * 100, 0.4).toFixed(2)}%`;
      bar.style.background = color(r.state);
      return div;
    });
    const current = [...box.children];
    if (current.length !== list.length || current.some((div, i) => div !== list[i])) box.replaceChildren(...list);
    document.getElementById("timeline-span").textContent = duration(begin, end);
    const more = document.getElementById("timeline-more");
    more.hidden = started.length <= shown.length;
    more.querySelector("span").textContent = started.length - shown.length;
    document.getElementById("timeline-box").hidden = false;
  }

  function drawHead() {
    document.getElementById("run-started").textContent = when(run.start);
    document.getElementById("run-duration").textContent = duration(run.start, run.end);
  }

  const NEW_ROWS = 100;
  function flush() {
    frame = 0;
    const paintNow = dirtyNodes, rowsNow = dirtyRows;
    dirtyNodes = new Set(); dirtyRows = new Set();
    paintNow.forEach(paint);
    let added = 0;
    rowsNow.forEach((key) => {   // new rows: at most NEW_ROWS a frame, so the first burst of a big map is laid out in steps
      if (!rows.has(key) && ++added > NEW_ROWS) { dirtyRows.add(key); return; }
      drawRow(key);
    });
    if (dirtyRows.size) schedule();
    if (dirtyCounts) drawCounts();
    if (dirtyTimeline) drawTimeline();
    if (dirtyHead || (run.start != null && run.end == null)) drawHead();   // the duration as of now, as the timeline's
    dirtyCounts = dirtyTimeline = dirtyHead = false;
  }

  // --- the flow run's own states ----------------------------------------------------------------
  function addHistory(state, message, ts) {
    const key = `${state}|${ts}`;
    if (ts == null || history.has(key)) return;
    history.add(key);
    const li = document.createElement("li");
    li.dataset.key = key;
    const msg = document.createElement("span");
    msg.className = "msg";
    msg.textContent = message || "";
    li.append(`${when(ts)} `, badge(state), " ", msg);
    document.getElementById("history").appendChild(li);
  }

  function runState(e, inHistory = true) {
    const changed = e.state !== run.state;
    run.state = e.state;
    document.getElementById("run-state").replaceChildren(badge(e.state));
    document.getElementById("run-message").textContent = e.message || "";
    if (inHistory) addHistory(e.state, e.message, e.ts);
    if (e.state === "Running" && run.start == null) run.start = e.ts;
    if (finished.has(e.state)) run.end = e.ts; else if (e.state === "Running") run.end = null;
    dirtyHead = dirtyTimeline = true;
    schedule();
    document.getElementById("cancel").disabled = finished.has(e.state) || e.state === "Cancelling";
    document.getElementById("restart").disabled = !(finished.has(e.state) && restartable.has(e.state));
    if (finished.has(e.state) && changed) {
      document.getElementById("action-result").textContent = "";   // "Cancel requested." has been answered
      done();
    }
  }

  function receive(e) {
    if (e.task_run_id && e.task_slug) taskNames.set(e.task_run_id, label({ name: e.task_name, slug: e.task_slug, index: e.map_index == null ? -1 : e.map_index }));
    if (e.task_slug) apply(e);
    else if (!e.task_run_id) runState(e);
  }

  // catching up: what happened between the page's rendering and the stream's opening (and after the end)
  function sync() {
    return fetch(`/api/flow_runs/${boot.run_id}`, { credentials: "same-origin" }).then((r) => r.json()).then((r) => {
      for (const t of r.task_runs || []) {
        apply({ task_slug: t.task_slug, task_name: t.task_name, map_index: t.map_index, map_size: t.map_size, state: t.state, task_run_id: t.id,
                message: t.message, start: t.start_time, end: t.end_time });
      }
      run.start = r.start_time; run.end = r.end_time; dirtyHead = true;
      return fetch(`/api/flow_runs/${boot.run_id}/states`, { credentials: "same-origin" }).then((s) => s.json()).then((states) => {
        for (const s of states) addHistory(s.state, s.message, s.timestamp);
        if (r.state !== run.state) runState({ state: r.state, message: r.message, ts: r.end_time || r.updated }, false);
        schedule();
      });
    }).catch(() => {});
  }

  // --- logs: new lines every 1.5 s while the run is not finished --------------------------------
  const taskNames = new Map();        // task run id -> "name[i]", for log lines that arrive later
  runs.forEach((r) => { if (r.id) taskNames.set(r.id, label(r)); });
  let lastLog = boot.last_log;
  const levelSelect = document.getElementById("log-level");
  const searchBox = document.getElementById("log-search");
  function shown(tr) {
    const needle = searchBox.value.trim().toLowerCase();
    return Number(tr.dataset.level) >= Number(levelSelect.value) && (!needle || tr.textContent.toLowerCase().includes(needle));
  }
  function filterLogs() { document.querySelectorAll("#logs tr").forEach((tr) => { tr.hidden = !shown(tr); }); }
  const levelNames = [[50, "CRITICAL"], [40, "ERROR"], [30, "WARNING"], [20, "INFO"], [0, "DEBUG"]];
  const logBody = document.querySelector("#logs tbody");
  const MAX_LOG_ROWS = 5000;          // lines kept in the page; older ones go (the server has them all)
  let logsCut = boot.logs_cut;        // the page does not hold every line: search and level ask the server
  function addLine(l) {
    lastLog = Math.max(lastLog, l.id);
    const tr = document.createElement("tr");
    tr.dataset.level = l.level;
    const cells = [when(l.timestamp), levelNames.find(([n]) => l.level >= n)[1], taskNames.get(l.task_run_id) || "", l.message];
    cells.forEach((text, i) => { const td = document.createElement("td"); td.textContent = text; td.className = ["ts", "lvl lvl" + l.level, "task", "line"][i]; tr.appendChild(td); });
    tr.hidden = !shown(tr);
    logBody.appendChild(tr);
  }
  function trimLogs() {
    let extra = logBody.rows.length - MAX_LOG_ROWS;
    if (extra > 0) { logsCut = true; document.getElementById("logs-cut").hidden = false; }
    while (extra-- > 0) logBody.rows[0].remove();
  }
  let searchTimer = 0, asked = 0;
  function searchServer() {   // every line of the run at that level with that text (the first 2,000)
    const needle = searchBox.value.trim();
    const mine = ++asked;
    const query = `level=${Number(levelSelect.value)}&limit=2000` + (needle ? `&search=${encodeURIComponent(needle)}` : "");
    fetch(`/api/flow_runs/${boot.run_id}/logs?${query}`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((lines) => {
        if (!lines || mine !== asked) return;   // a newer search is on its way
        logBody.replaceChildren();
        lines.forEach(addLine);
        const found = document.getElementById("logs-found");
        found.hidden = false;
        found.textContent = `${lines.length === 2000 ? "The first 2,000" : lines.length} line${lines.length === 1 ? "" : "s"} of the run`
          + `${needle ? ` containing “${needle}”` : ""} at ${levelSelect.selectedOptions[0].textContent} or above, from the server.`;
      })
      .catch(() => {});
  }
  function onFilter() {
    filterLogs();   // at once, in what the page holds
    if (!logsCut) return;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(searchServer, 300);
  }
  levelSelect.addEventListener("change", onFilter);
  searchBox.addEventListener("input", onFilter);
  function pollLogs() {
    return fetch(`/api/flow_runs/${boot.run_id}/logs?after_id=${lastLog}`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : []))
      .then((lines) => {
        lines.forEach(addLine);
        trimLogs();
        if (lines.length) { const none = document.getElementById("no-logs"); if (none) none.remove(); }
      })
      .catch(() => {});
  }

  // --- the stream -------------------------------------------------------------------------------
  let source = null, logTimer = 0, tick = 0;
  function done() {   // the run has finished: stop listening, then take the server's last word once
    if (source) source.close();
    source = null;
    clearInterval(logTimer); clearInterval(tick);
    document.getElementById("live").hidden = true;
    sync().then(pollLogs).then(() => { document.body.dataset.final = "true"; });
  }
  if (!finished.has(boot.state)) {
    source = new EventSource(`/api/stream?batch=true&flow_run_id=${encodeURIComponent(boot.run_id)}`);
    source.onopen = () => { document.getElementById("live").hidden = false; sync(); };
    source.onmessage = (m) => JSON.parse(m.data).forEach(receive);   // a list of the changes that were waiting (batch=true)
    logTimer = setInterval(pollLogs, 1500);
    tick = setInterval(() => {   // running durations and bars grow with the clock
      runs.forEach((r, key) => { if (r.state === "Running" && rows.has(key)) dirtyRows.add(key); });
      dirtyHead = dirtyHead || (run.start != null && run.end == null);
      dirtyTimeline = true;
      schedule();
    }, 1000);
  } else {
    document.body.dataset.final = "true";
  }

  // --- buttons ----------------------------------------------------------------------------------
  document.getElementById("mark-state").addEventListener("change", (event) => { document.getElementById("mark").disabled = !event.target.value; });
  document.getElementById("mark").addEventListener("click", (event) => {
    const button = event.currentTarget;
    const state = document.getElementById("mark-state").value;
    const out = document.getElementById("action-result");
    button.disabled = true;
    fetch(`/api/flow_runs/${boot.run_id}`, { credentials: "same-origin" }).then((r) => r.json())   // its version now, not the page's
      .then((r) => perfectPost(button.dataset.url, { state, message: `Marked ${state} from the web page.`, version: r.version }))
      .then(() => { out.textContent = `Marked ${state}.`; setTimeout(() => location.reload(), 300); })
      .catch((err) => { out.textContent = err.message; button.disabled = false; });
  });

  for (const id of ["cancel", "restart"]) {
    const button = document.getElementById(id);
    button.addEventListener("click", () => {
      button.disabled = true;
      const out = document.getElementById("action-result");
      perfectPost(button.dataset.url)
        .then(() => {
          out.textContent = id === "cancel" ? "Cancel requested." : "Restarted.";
          if (id === "restart") setTimeout(() => location.reload(), 300);   // a new attempt: a new page, live again
        })
        .catch((err) => { out.textContent = err.message; button.disabled = false; });
    });
  }
})();
