// Questionnaires: conditional questions, autosave of drafts, builder hints.
// Progressive enhancement: every form posts normally without this script.
(function () {
  "use strict";

  // --- answering -------------------------------------------------------------------------
  const form = document.getElementById("answer-form");

  function answerOf(block) {
    const checked = Array.from(block.querySelectorAll("input[type=radio]:checked, input[type=checkbox]:checked"));
    return checked.map((input) => input.value);
  }

  function applyConditions() {
    if (!form) { return; }
    const blocks = Array.from(form.querySelectorAll(".qn-question"));
    const byCode = new Map(blocks.map((b) => [b.dataset.code, b]));
    blocks.forEach((block) => {  // conditions point backwards: one pass in order settles them
      const target = block.dataset.showIf;
      if (!target) { return; }
      const source = byCode.get(target);
      const wanted = (block.dataset.showValues || "").split("|");
      const shown = source && !source.classList.contains("d-none") &&
        answerOf(source).some((value) => wanted.includes(value));
      block.classList.toggle("d-none", !shown);
    });
  }

  function formPayload() {
    const data = new FormData(form);
    Array.from(data.keys()).forEach((key) => {
      if (key.startsWith("upload-") || key === "action" || key === "anchor") { data.delete(key); }
    });
    return data;
  }

  function snapshot() {
    const out = {};
    formPayload().forEach((value, key) => {
      if (key === "csrf_token") { return; }
      (out[key] = out[key] || []).push(String(value));
    });
    return out;
  }

  function restore(values) {
    form.querySelectorAll("input, textarea, select").forEach((el) => {
      if (!el.name || el.type === "hidden" || el.type === "file" || el.type === "submit") { return; }
      const given = values[el.name] || [];
      if (el.type === "radio" || el.type === "checkbox") {
        el.checked = given.includes(el.value);
      } else {
        el.value = given[0] || "";
      }
    });
  }

  function wireAutosave() {
    const url = form && form.dataset.autosaveUrl;
    if (!url) { return; }
    const key = form.dataset.draftKey;
    const status = document.querySelector("[data-autosave-status]");
    const bar = document.getElementById("answer-progress");
    const progressText = document.querySelector("[data-progress-text]");
    const token = form.querySelector("input[name=csrf_token]").value;
    let timer = null;
    let dirty = false;
    let saving = false;
    let submitting = false;

    function say(text, level) {
      if (!status) { return; }
      status.textContent = text;
      status.className = "small text-" + (level || "muted");
    }

    function keepLocally() {
      try {
        window.localStorage.setItem(key, JSON.stringify({ at: Date.now(), values: snapshot() }));
      } catch (e) { /* storage full or disabled: nothing more we can do */ }
    }

    function save(options) {
      if (submitting) { return; }
      if (saving && !(options && options.keepalive)) { dirty = true; return; }
      dirty = false;
      saving = true;
      fetch(url, {
        method: "POST",
        body: formPayload(),
        credentials: "same-origin",
        keepalive: Boolean(options && options.keepalive),
        headers: { "X-CSRFToken": token, "X-Requested-With": "XMLHttpRequest", "Accept": "application/json" },
      }).then((response) => {
        const json = (response.headers.get("Content-Type") || "").includes("application/json");
        if (!json) {
          throw new Error("Your session has ended. Sign in again in another tab: your answers are kept in this browser and will be saved then.");
        }
        return response.json().then((body) => {
          if (!response.ok || !body.ok) { throw new Error(body.message || "Not saved."); }
          return body;
        });
      }).then((body) => {
        window.localStorage.removeItem(key);
        const time = new Date(body.saved_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        const problems = Object.keys(body.errors || {});
        if (problems.length) {
          say("Saved at " + time + ", except " + problems.join(", ") + ": " + Object.values(body.errors)[0], "danger");
        } else {
          say("All answers saved at " + time + ".", "success");
        }
        if (bar) { bar.value = body.progress.percent; }
        if (progressText) {
          progressText.textContent = body.progress.answered + " of " + body.progress.visible +
            " answered (" + body.progress.percent + "%)";
        }
      }).catch((error) => {
        keepLocally();  // not on the server: keep it in this browser until it is
        say(error.message && error.message.length > 20 ? error.message :
          "Not saved yet (connection problem); your answers are kept in this browser and will be retried.", "danger");
        dirty = true;
      }).finally(() => {
        saving = false;
        if (dirty) { schedule(5000); }
      });
    }

    function schedule(delay) {
      window.clearTimeout(timer);
      timer = window.setTimeout(save, delay);
    }

    // A normal post of the form carries every answer: no autosave may race it (an autosave
    // arriving after it would undo evidence the post attaches).
    form.addEventListener("submit", () => {
      submitting = true;
      window.clearTimeout(timer);
      dirty = false;
      window.localStorage.removeItem(key);
    });
    form.addEventListener("input", (event) => {
      if (event.target.type === "file") { return; }
      dirty = true;
      say("Saving…");
      schedule(1500);
    });
    form.addEventListener("change", (event) => {
      if (event.target.type === "file") { return; }
      applyConditions();
      dirty = true;
      schedule(600);
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden" && dirty) { save({ keepalive: true }); }
    });
    window.addEventListener("pagehide", () => { if (dirty) { save({ keepalive: true }); } });

    // Answers typed while the session had ended (or offline) come back, then get saved.
    try {
      const kept = JSON.parse(window.localStorage.getItem(key) || "null");
      if (kept && kept.values) {
        restore(kept.values);
        applyConditions();
        say("Restored answers not yet saved from this browser; saving…", "warning");
        save();
      }
    } catch (e) { window.localStorage.removeItem(key); }
  }

  if (form) {
    form.addEventListener("change", applyConditions);
    applyConditions();
    wireAutosave();
    form.addEventListener("click", (event) => {
      const button = event.target.closest("[data-confirm-click]");
      if (button && !window.confirm(button.dataset.confirmClick)) { event.preventDefault(); }
    });
  }

  // --- template builder: show the fields that apply to the chosen type -------------------
  const builder = document.querySelector("form[data-question-form]");
  if (builder) {
    const type = builder.querySelector("select[name=qtype]");
    const update = () => {
      builder.querySelectorAll("[data-for-types]").forEach((fieldset) => {
        fieldset.classList.toggle("d-none", !fieldset.dataset.forTypes.split(" ").includes(type.value));
      });
    };
    type.addEventListener("change", update);
    update();
  }
})();
