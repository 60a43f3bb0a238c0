// Upload progress for the registry's upload forms (form[data-upload], posted by htmx).
// A separate file because the Content-Security-Policy forbids inline script.
(function () {
  "use strict";

  function uploadForm(element) {
    return element && element.closest ? element.closest("form[data-upload]") : null;
  }

  function parts(form) {
    return {
      box: form.querySelector("[data-upload-progress]"),
      bar: form.querySelector("[data-upload-bar]"),
      percent: form.querySelector("[data-upload-percent]"),
      phase: form.querySelector("[data-upload-phase]"),
      submit: form.querySelector("[data-upload-submit]"),
    };
  }

  function show(form, value, phase) {
    var p = parts(form);
    if (!p.box) return;
    p.box.hidden = false;
    if (value === null) {
      p.bar.removeAttribute("value"); // indeterminate while the server validates
    } else {
      p.bar.value = value;
      p.percent.textContent = Math.round(value) + "%";
    }
    if (phase) p.phase.textContent = phase;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = uploadForm(event.target);
    if (!form) return;
    show(form, 0, "Uploading…");
    var submit = parts(form).submit;
    if (submit) submit.disabled = true;
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = uploadForm(event.target);
    if (!form || !event.detail.lengthComputable || !event.detail.total) return;
    var value = (100 * event.detail.loaded) / event.detail.total;
    if (value >= 100) {
      show(form, null, "Checking the file (hashing, parsing, validating)…");
    } else {
      show(form, value, "Uploading…");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = uploadForm(event.target);
    if (!form || !form.isConnected) return;
    var submit = parts(form).submit;
    if (submit) submit.disabled = false;
    if (!event.detail.successful) show(form, 0, "The upload failed; see the message above.");
  });
})();
