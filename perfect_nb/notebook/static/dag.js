// The live DAG: shows the SVG the kernel sends, marks the selected node, reports
// clicks on task nodes back to the kernel as `selected`, and keeps a legend of the
// states on screen (Success and Cached, say, are two close greens).

// Legend order: roughly the life of a run (perfect_nb.viz.colors.LEGEND_ORDER).
const ORDER = [
  "Pending", "Scheduled", "Paused", "Resume", "Retrying", "Submitted", "Queued", "Running",
  "Cancelling", "Success", "Cached", "Mapped", "Skipped", "Looped", "Finished", "Cancelled",
  "Failed", "TimedOut", "TriggerFailed", "ValidationFailed",
];

function fillOf(node) {
  for (const shape of node.querySelectorAll("polygon, ellipse, path, rect")) {
    const fill = shape.getAttribute("fill");
    if (fill && fill !== "none" && fill !== "transparent") return fill;
  }
  return null;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "pnb-dag";
  const legend = document.createElement("div");
  legend.className = "pnb-legend";

  const draw = () => {
    root.innerHTML = model.get("svg") || "";
    const selected = model.get("selected");
    const states = model.get("states") || {};
    const seen = new Map(); // state name -> [fill, count]
    for (const node of root.querySelectorAll("g.node")) {
      const title = node.querySelector("title");
      const slug = title ? title.textContent : "";
      node.dataset.slug = slug;
      if (!(slug in states)) continue;
      node.classList.add("pnb-task");
      if (slug === selected) node.classList.add("pnb-selected");
      const entry = seen.get(states[slug]) || [fillOf(node), 0];
      entry[1] += 1;
      seen.set(states[slug], entry);
    }
    const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
    legend.replaceChildren(...[...seen.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((name) => {
      const [fill, count] = seen.get(name);
      const item = document.createElement("span");
      item.className = "pnb-legend-item";
      item.dataset.state = name;
      const swatch = document.createElement("span");
      swatch.className = "pnb-swatch";
      if (fill) swatch.style.background = fill;
      item.append(swatch, `${name} ${count}`);
      return item;
    }));
  };

  const onClick = (event) => {
    const node = event.target.closest("g.node.pnb-task");
    if (!node) return;
    model.set("selected", node.dataset.slug);
    model.save_changes();
  };

  root.addEventListener("click", onClick);
  model.on("change:svg", draw);
  model.on("change:states", draw);
  model.on("change:selected", draw);
  draw();
  el.append(root, legend);
  return () => {
    root.removeEventListener("click", onClick);
    model.off("change:svg", draw);
    model.off("change:states", draw);
    model.off("change:selected", draw);
  };
}

export default { render };
