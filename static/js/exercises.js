// Plan form: only the invited vendors' contacts are offered, and choosing a library scenario
// fills in its text when the field is still empty. The server checks both anyway.
(() => {
  const form = document.getElementById("exercise-form");
  const dataNode = document.getElementById("exercise-form-data");
  if (!form || !dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  const vendors = form.querySelector("#vendor_ids");
  const contacts = form.querySelector("#contact_ids");
  const scenario = form.querySelector("#scenario_id");
  const scenarioText = form.querySelector("#scenario_text");

  function filterContacts() {
    if (!vendors || !contacts) return;
    const chosen = new Set(Array.from(vendors.selectedOptions, (o) => o.value));
    for (const option of contacts.options) {
      const vendor = String(data.contact_vendor[option.value]);
      const visible = chosen.size === 0 || chosen.has(vendor);
      option.hidden = !visible;
      if (!visible) option.selected = false;
    }
  }

  function fillScenario() {
    if (!scenario || !scenarioText) return;
    const entry = data.scenarios[scenario.value];
    if (entry && !scenarioText.value.trim()) scenarioText.value = entry.description;
  }

  vendors?.addEventListener("change", filterContacts);
  scenario?.addEventListener("change", fillScenario);
  filterContacts();
})();
