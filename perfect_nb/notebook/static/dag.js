// The live DAG: shows the SVG the kernel sends, marks the selected node, and
// reports clicks on task nodes back to the kernel as `selected`.
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "pnb-dag";

  const draw = () => {
    root.innerHTML = model.get("svg") || "";
    const selected = model.get("selected");
    for (const node of root.querySelectorAll("g.node")) {
      const title = node.querySelector("title");
      const slug = title ? title.textContent : "";
      node.dataset.slug = slug;
      if (slug in (model.get("states") || {})) node.classList.add("pnb-task");
      if (slug && slug === selected) node.classList.add("pnb-selected");
    }
  };

  const onClick = (event) => {
    const node = event.target.closest("g.node.pnb-task");
    if (!node) return;
    model.set("selected", node.dataset.slug);
    model.save_changes();
  };

  root.addEventListener("click", onClick);
  model.on("change:svg", draw);
  model.on("change:selected", draw);
  draw();
  el.appendChild(root);
  return () => {
    root.removeEventListener("click", onClick);
    model.off("change:svg", draw);
    model.off("change:selected", draw);
  };
}

export default { render };
