// The closing form shows only the chosen outcome's fieldset and asks for what it needs.
// Without this script every fieldset shows, labelled for its outcome; the server checks.
const outcome = document.getElementById("outcome");

function sync() {
  for (const fieldset of document.querySelectorAll("fieldset[data-for]")) {
    const chosen = fieldset.dataset.for === outcome.value;
    fieldset.hidden = !chosen;
    fieldset.disabled = !chosen;
    for (const input of fieldset.querySelectorAll("[data-required]")) input.required = chosen;
  }
  const advice = document.getElementById("advice");
  if (advice) advice.required = outcome.value === "self_care_advice";
}

if (outcome) {
  outcome.addEventListener("change", sync);
  sync();
}
