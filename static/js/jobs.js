// Follows the progress of background jobs shown on the page; reloads it when one ends.
$(function () {
  $("[data-job-progress]").each(function () {
    var $box = $(this);
    var url = $box.data("job-progress");
    function poll() {
      $.getJSON(url).done(function (job) {
        $box.find("[data-job-stage]").text(job.stage);
        $box.find("[data-job-bar]").css("width", job.percent + "%");
        $box.find("[role=progressbar]").attr("aria-valuenow", job.percent);
        if (job.is_active) {
          window.setTimeout(poll, 1000);
        } else if ($box.data("reload-when-done") === "yes") {
          window.location.reload();
        } else {
          $box.find("[data-job-stage]").text(job.outcome);
        }
      }).fail(function () {
        window.setTimeout(poll, 5000);
      });
    }
    window.setTimeout(poll, 1000);
  });
});
