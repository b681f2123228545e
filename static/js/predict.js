// Draws the decision-regions chart; the figure comes from the server through json_script.
// plotly (over 1 MB) is loaded only when the chart comes near the screen: the verdict above
// it is on screen first, and a visitor who never scrolls down to the chart never loads it.
(function () {
  var source = document.getElementById("regions-data");
  var target = document.getElementById("regions");
  var plotlySource = document.currentScript && document.currentScript.getAttribute("data-plotly-src");
  if (!source || !target || !plotlySource) {
    return;
  }
  var draw = function () {
    var figure = JSON.parse(source.textContent);
    // No mode bar: its buttons would be controls nested in an image (role="img"), reached by
    // Tab but not announced; the text under the chart says what it shows.
    Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displayModeBar: false });
  };
  var load = function () {
    if (window.Plotly) {
      draw();
      return;
    }
    var script = document.createElement("script");
    script.src = plotlySource;
    script.addEventListener("load", draw);
    document.head.appendChild(script);
  };
  if (!("IntersectionObserver" in window)) {
    load();
    return;
  }
  var observer = new IntersectionObserver(
    function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) {
        observer.disconnect();
        load();
      }
    },
    { rootMargin: "300px 0px" }
  );
  observer.observe(target);
})();
