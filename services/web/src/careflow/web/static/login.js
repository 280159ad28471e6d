// Follows the e-ID order: refreshes the QR code and asks the server every second
// until the login completes (then goes on) or fails (then says why, in plain words).
const box = document.getElementById("login");
const status = document.getElementById("login-status");
const failed = document.getElementById("login-failed");
const again = document.getElementById("login-again");
const qr = document.getElementById("qr");

async function follow() {
  let answer;
  try {
    const response = await fetch(box.dataset.statusUrl, {
      method: "POST",
      headers: { "X-CSRF-Token": box.dataset.csrf, Accept: "application/json" },
      credentials: "same-origin",
    });
    answer = await response.json();
  } catch {
    setTimeout(follow, 2000);
    return;
  }
  if (answer.status === "complete") {
    window.location.assign(answer.next);
    return;
  }
  if (answer.status === "failed" || answer.status === 404 || answer.status === 409) {
    status.hidden = true;
    qr.closest("figure").hidden = true;
    failed.textContent = answer.message || answer.detail || "";
    failed.hidden = false;
    again.hidden = false;
    return;
  }
  qr.src = `${box.dataset.qrUrl}?t=${Date.now()}`;
  setTimeout(follow, 1000);
}

setTimeout(follow, 1000);
