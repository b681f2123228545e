// Draws the interactive scatter; the figure comes from the server through json_script.
$(function () {
  var source = document.getElementById("scatter-data");
  var target = document.getElementById("scatter");
  if (!source || !target || !window.Plotly) {
    return;
  }
  var figure = JSON.parse(source.textContent);
  Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displaylogo: false });
});
