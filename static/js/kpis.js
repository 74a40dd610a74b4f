// Draws every plotly figure on the page from its JSON block: <div data-plotly="ID"> reads
// <script type="application/json" id="ID">{"data": [...], "layout": {...}}</script>.
(function () {
  "use strict";
  if (typeof Plotly === "undefined") {
    return;
  }
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  document.querySelectorAll("[data-plotly]").forEach(function (element) {
    const source = document.getElementById(element.dataset.plotly);
    if (!source) {
      return;
    }
    const figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout, config).then(function () {
      element.dataset.rendered = "true";
    });
    // Heatmap cells carry the URL of the vendor's scorecard.
    element.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      if (point && typeof point.customdata === "string" && point.customdata.startsWith("/")) {
        window.location.assign(point.customdata);
      }
    });
  });
})();
