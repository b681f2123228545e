// The data source form shows only the fields of the kind and credentials chosen, and names the
// URL, user and secret fields for them. Without JavaScript every field shows, each
// saying in its help which kind it is for; the server ignores what does not apply.
$(function () {
  var $form = $("form[data-source-form]");
  var data = document.getElementById("source-auths");
  if (!$form.length || !data) {
    return;
  }
  var authsOfKind = JSON.parse(data.textContent);
  var $kind = $form.find("select[name=kind]");
  var $auth = $form.find("select[name=auth]");

  // A part's label for the kind or credentials chosen, when it has one (data-label-<choice>).
  function relabel($part, choice) {
    var label = $part.attr("data-label-" + choice);
    if (label) {
      $part.find("label.form-label").first().text(label);
    }
  }

  function update() {
    var kind = $kind.val();
    var allowed = authsOfKind[kind] || [];
    // Only the credentials this kind takes; the first of them if the chosen one is not.
    $auth.find("option").each(function () {
      var takes = allowed.indexOf(this.value) !== -1;
      $(this).prop("hidden", !takes).prop("disabled", !takes);
    });
    if (allowed.length && allowed.indexOf($auth.val()) === -1) {
      $auth.val(allowed[0]);
    }
    var auth = $auth.val();
    $form.find("[data-source-kinds]").each(function () {
      $(this).toggleClass("d-none", $(this).data("source-kinds").split(" ").indexOf(kind) === -1);
      relabel($(this), kind);
    });
    $form.find("[data-source-auths]").each(function () {
      var $part = $(this);
      $part.toggleClass("d-none", $part.data("source-auths").split(" ").indexOf(auth) === -1);
      relabel($part, auth);
    });
  }

  $kind.on("change", update);
  $auth.on("change", update);
  update();
});
