// Draws the supply-chain figures: <div data-graph-figure="ID"> reads
// <script type="application/json" id="ID">{"data": [...], "layout": {...}}</script>.
// A click on a node (or a bar) whose customdata is a path opens that page.
(function () {
  "use strict";
  if (typeof Plotly === "undefined") {
    return;
  }
  const config = {
    displaylogo: false,
    responsive: true,
    scrollZoom: true,
    modeBarButtonsToRemove: ["lasso2d", "select2d"],
  };
  document.querySelectorAll("[data-graph-figure]").forEach(function (element) {
    const source = document.getElementById(element.dataset.graphFigure);
    if (!source) {
      return;
    }
    const figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout, config).then(function () {
      element.dataset.rendered = "true";
    });
    element.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      const target = point && point.customdata;
      if (typeof target === "string" && target.startsWith("/")) {
        window.location.assign(target);
      }
    });
  });
})();
