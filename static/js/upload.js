// Sends the upload form with XMLHttpRequest to show how many bytes have gone, then follows
// the server's answer as a normal submit would. Without JavaScript the form posts as usual.
$(function () {
  var $form = $("form[data-upload]");
  if (!$form.length || !window.FormData) {
    return;
  }
  function size(bytes) {
    return bytes < 1048576 ? (bytes / 1024).toFixed(0) + " KB" : (bytes / 1048576).toFixed(1) + " MB";
  }
  $form.on("submit", function (event) {
    event.preventDefault();
    var $progress = $form.find("[data-upload-progress]").removeClass("d-none");
    var $bar = $form.find("[data-upload-bar]");
    var $text = $form.find("[data-upload-text]");
    $form.find("button[type=submit]").prop("disabled", true);
    var request = new XMLHttpRequest();
    request.open("POST", $form.attr("action"));
    request.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) {
        return;
      }
      var percent = Math.round((100 * progress.loaded) / progress.total);
      $bar.css("width", percent + "%");
      $progress.find("[role=progressbar]").attr("aria-valuenow", percent);
      $text.text($form.data("sent-text").replace("%(sent)s", size(progress.loaded)).replace("%(total)s", size(progress.total)));
    });
    request.upload.addEventListener("load", function () {
      $text.text($form.data("done-text"));
    });
    request.addEventListener("load", function () {
      // Show the answer as a normal submit would: the metric page the server redirected to
      // (with its message), or the form again with what was wrong.
      if (request.responseURL) {
        window.history.replaceState(null, "", request.responseURL);
      }
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () {
      $form.off("submit").trigger("submit"); // fall back to a plain submit
    });
    request.send(new FormData($form[0]));
  });
});
