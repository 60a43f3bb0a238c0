// Small page helpers, no framework: copy-to-clipboard buttons ([data-copy="text"]).
(function () {
  "use strict";

  function flash(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    window.setTimeout(function () {
      button.textContent = original;
    }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    if (!navigator.clipboard) {
      flash(button, "Select and copy");
      return;
    }
    navigator.clipboard.writeText(button.dataset.copy).then(
      function () {
        flash(button, "Copied");
      },
      function () {
        flash(button, "Copy failed");
      }
    );
  });
})();
