// Small progressive enhancements; every page works without them.
$(function () {
  // The language select changes the language at once; its button is for no-JS browsers.
  $("[data-autosubmit]").on("change", function () {
    this.form.submit();
  });
  $(".language-switch .js-hide").addClass("d-none");

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

});
