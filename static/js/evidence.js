// Evidence upload: drag and drop, and a progress bar for large files.
// Progressive enhancement: without this script the form posts normally to the same endpoint.
(function () {
  "use strict";

  function formatBytes(n) {
    const units = ["bytes", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  function clearErrors(form) {
    form.querySelectorAll(".js-error").forEach((el) => el.remove());
    form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
  }

  function showErrors(form, box, payload) {
    clearErrors(form);
    box.textContent = payload.message || "The upload failed.";
    box.classList.remove("d-none");
    Object.entries(payload.errors || {}).forEach(([name, messages]) => {
      const input = form.querySelector('[name="' + name + '"]');
      if (!input) { return; }
      input.classList.add("is-invalid");
      messages.forEach((message) => {
        const div = document.createElement("div");
        div.className = "invalid-feedback d-block js-error";
        div.textContent = message;
        input.insertAdjacentElement("afterend", div);
      });
    });
    box.focus();
  }

  function wireDropZone(zone) {
    const input = zone.querySelector('input[type="file"]');
    if (!input) { return; }
    ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("drop-active");
    }));
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => {
      zone.classList.remove("drop-active");
    }));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }

  function wireForm(form) {
    const box = document.getElementById("upload-error");
    const progress = form.querySelector("[data-progress]");
    const bar = form.querySelector("[data-progress-bar]");
    const text = form.querySelector("[data-progress-text]");
    const button = form.querySelector("[data-upload-button]");
    form.addEventListener("submit", (event) => {
      if (!window.FormData || !window.XMLHttpRequest) { return; }
      event.preventDefault();
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.responseType = "json";
      progress.classList.remove("d-none");
      button.disabled = true;
      bar.value = 0;
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) {
          bar.value = Math.round((100 * e.loaded) / e.total);
          text.textContent = formatBytes(e.loaded) + " of " + formatBytes(e.total) + " sent";
        }
      });
      xhr.upload.addEventListener("load", () => {
        bar.value = 100;
        text.textContent = "Checking the file…";
      });
      xhr.addEventListener("load", () => {
        const payload = xhr.response || {};
        if (xhr.status >= 200 && xhr.status < 300 && payload.redirect) {
          window.location.assign(payload.redirect);
          return;
        }
        button.disabled = false;
        progress.classList.add("d-none");
        showErrors(form, box, payload.message ? payload : {
          message: "The upload failed (" + xhr.status + "). Please try again.",
        });
      });
      xhr.addEventListener("error", () => {
        button.disabled = false;
        progress.classList.add("d-none");
        showErrors(form, box, { message: "The connection was lost during the upload; nothing was stored. Please try again." });
      });
      xhr.send(new FormData(form));
    });
  }

  document.querySelectorAll("[data-drop-zone]").forEach(wireDropZone);
  document.querySelectorAll("form[data-upload-form]").forEach(wireForm);
})();
