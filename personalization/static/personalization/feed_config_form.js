/* The feed config form (admin): the quota sum and the changes against the active version, live, so an
 * editor sees what a save will change before saving. Values come from the inputs' data attributes
 * (personalization/forms.py): data-active is the active version's value, data-quota marks a quota. */
// The admin loads form media in <head>: start once the form is there.
document.addEventListener("DOMContentLoaded", () => {
  "use strict";

  const form = document.getElementById("feedconfig_form");
  if (!form) return;
  const inputs = [...form.querySelectorAll("[data-key]")];
  const quotas = inputs.filter((input) => input.dataset.quota);
  const note = form.querySelector("[data-active-label]");
  const activeLabel = note ? note.dataset.activeLabel : "the active version";

  const changes = document.createElement("div");
  changes.id = "config-changes";
  changes.className = "config-changes";
  const firstFieldset = form.querySelector("fieldset");
  if (firstFieldset) firstFieldset.before(changes);
  const sum = document.createElement("p");
  sum.id = "quota-sum";
  if (quotas.length) quotas[quotas.length - 1].closest("fieldset").append(sum);

  const number = (value) => Number.parseFloat(value);

  function update() {
    const total = quotas.reduce((acc, input) => acc + number(input.value), 0);
    const off = !(Math.abs(total - 1) < 1e-6);
    sum.textContent = Number.isFinite(total)
      ? `The quotas sum to ${total.toFixed(3)}${off ? ": they must sum to 1 to save." : "."}`
      : "A quota is not a number.";
    sum.classList.toggle("quota-sum-off", off);

    const changed = [];
    for (const input of inputs) {
      const differs = !(Math.abs(number(input.dataset.active) - number(input.value)) < 1e-9);
      input.classList.toggle("changed-from-active", differs);
      if (differs) changed.push(`${input.dataset.label}: ${input.dataset.active} → ${input.value}`);
    }
    const heading = document.createElement("strong");
    heading.textContent = changed.length
      ? `${changed.length} change${changed.length > 1 ? "s" : ""} against ${activeLabel} (the active version):`
      : `No change against ${activeLabel} (the active version).`;
    const list = document.createElement("ul");
    for (const line of changed) {
      const item = document.createElement("li");
      item.textContent = line;
      list.append(item);
    }
    changes.replaceChildren(heading, list);
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
});
