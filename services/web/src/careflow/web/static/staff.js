// The closing form asks for exactly what the chosen outcome needs.
const outcome = document.getElementById("outcome");

function sync() {
  for (const fieldset of document.querySelectorAll("fieldset[data-for]")) {
    const chosen = fieldset.dataset.for === outcome.value;
    fieldset.hidden = !chosen;
    for (const input of fieldset.querySelectorAll("input")) input.required = chosen;
  }
}

if (outcome) {
  outcome.addEventListener("change", sync);
  sync();
}
