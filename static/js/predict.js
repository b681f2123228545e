// Draws the decision-regions chart; the figure comes from the server through json_script.
$(function () {
  var source = document.getElementById("regions-data");
  var target = document.getElementById("regions");
  if (!source || !target || !window.Plotly) {
    return;
  }
  var figure = JSON.parse(source.textContent);
  Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displaylogo: false });
});
