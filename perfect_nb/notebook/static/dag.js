// The live DAG: shows the SVG the kernel sends, marks the selected node, reports
// clicks on task nodes back to the kernel as `selected`, and shows the legend the
// kernel computes (one entry per colour on screen: a striped mapped node counts
// under each of its children's states), Cached with the dashed outline of its nodes.

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "pnb-dag";
  const legend = document.createElement("div");
  legend.className = "pnb-legend";

  const draw = () => {
    root.innerHTML = model.get("svg") || "";
    const selected = model.get("selected");
    const states = model.get("states") || {};
    for (const node of root.querySelectorAll("g.node")) {
      const title = node.querySelector("title");
      const slug = title ? title.textContent : "";
      node.dataset.slug = slug;
      if (!(slug in states)) continue;
      node.classList.add("pnb-task");
      if (slug === selected) node.classList.add("pnb-selected");
    }
    legend.replaceChildren(...(model.get("legend") || []).map(([name, fill, count, dashed]) => {
      const item = document.createElement("span");
      item.className = "pnb-legend-item";
      item.dataset.state = name;
      const swatch = document.createElement("span");
      swatch.className = dashed ? "pnb-swatch pnb-dashed" : "pnb-swatch";
      swatch.style.background = fill;
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
  model.on("change:legend", draw);
  draw();
  el.append(root, legend);
  return () => {
    root.removeEventListener("click", onClick);
    model.off("change:svg", draw);
    model.off("change:states", draw);
    model.off("change:selected", draw);
    model.off("change:legend", draw);
  };
}

export default { render };
