// A metric's query form: the fields of the chosen source's kind (Prometheus or CloudWatch).
// Without JavaScript, or before a source is chosen, both kinds' fields show, each under its legend.
$(function () {
  var $form = $("[data-metric-query-form]");
  var $source = $form.find("select[name=source]");
  var showKind = function () {
    var kind = $source.find("option:selected").data("kind");
    $form.find("[data-source-kind]").each(function () {
      $(this).prop("hidden", Boolean(kind) && $(this).data("source-kind") !== kind);
    });
  };
  $source.on("change", showKind);
  showKind();
});
