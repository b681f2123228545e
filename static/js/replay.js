// Draws a replayed release's timeline when its reader first opens it: the figure comes from
// the server as JSON (a report may list hundreds of releases: none is drawn until asked for),
// and plotly (over 1 MB) is loaded with the first one.
(function () {
  var plotlySource = document.currentScript && document.currentScript.getAttribute("data-plotly-src");
  if (!plotlySource) {
    return;
  }
  var waiting = null; // what to draw once plotly has loaded

  function withPlotly(then) {
    if (window.Plotly) {
      then();
      return;
    }
    if (waiting) {
      waiting.push(then);
      return;
    }
    waiting = [then];
    var script = document.createElement("script");
    script.src = plotlySource;
    script.addEventListener("load", function () {
      var ready = waiting;
      waiting = null;
      ready.forEach(function (draw) { draw(); });
    });
    document.head.appendChild(script);
  }

  function draw(details) {
    var target = details.querySelector("[data-timeline-chart]");
    $.getJSON(details.getAttribute("data-timeline"))
      .done(function (figure) {
        withPlotly(function () {
          // No mode bar: its buttons would be controls inside an image (role="img"); the
          // words above the chart say what it shows.
          Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displayModeBar: false });
          details.setAttribute("data-drawn", "yes");
        });
      })
      .fail(function () {
        details.removeAttribute("data-requested");
      });
  }

  document.querySelectorAll("details[data-timeline]").forEach(function (details) {
    details.addEventListener("toggle", function () {
      if (details.open && !details.hasAttribute("data-requested")) {
        details.setAttribute("data-requested", "yes");
        draw(details);
      }
    });
  });
})();
