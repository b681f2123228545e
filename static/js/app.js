// Small progressive enhancements; every page works without them.
$(function () {
  // The language select changes the language at once; its button is for no-JS browsers.
  $("[data-autosubmit]").on("change", function () {
    this.form.submit();
  });
  $(".language-switch .js-hide").addClass("d-none");

  // A dialog that opens puts the keyboard in its first field (Bootstrap would focus the
  // dialog itself, one Tab away from anything to type in).
  $(document).on("shown.bs.modal", ".modal", function () {
    $(this).find("input, select, textarea").not("[type=hidden], :disabled").first().trigger("focus");
  });

  // Ask before destructive one-click actions.
  $("form[data-confirm]").on("submit", function (event) {
    if (!window.confirm($(this).data("confirm"))) {
      event.preventDefault();
    }
  });

  // Long actions (training, uploads): show they are running and prevent double submits.
  $("form[data-busy-text]").on("submit", function () {
    var $button = $(this).find("button[type=submit]");
    $button.prop("disabled", true).text($(this).data("busy-text"));
  });

  // Copy buttons: hidden without JavaScript, where the text itself stays selectable.
  $("[data-copy-target]")
    .removeClass("d-none")
    .on("click", function () {
      var $button = $(this);
      var $status = $button.siblings("[data-copy-status]");
      var text = $($button.data("copy-target")).text().trim();
      var done = function () {
        $status.text($button.data("copied-text"));
      };
      var failed = function () {
        // Select the text, so that copying it by hand is one keystroke away.
        var range = document.createRange();
        range.selectNodeContents($($button.data("copy-target"))[0]);
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        $status.text($button.data("copy-failed-text"));
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, failed);
      } else {
        failed();
      }
    });
});
