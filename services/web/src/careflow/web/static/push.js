// Browser push: register the service worker, subscribe with notify's VAPID key and hand
// the subscription to the server, which gives it to notify. Says how it went in words.
const box = document.getElementById("push");
const status = document.getElementById("push-status");

function key(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function handOver(subscription) {
  const response = await fetch("/notifications/push", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": box.dataset.csrf },
    credentials: "same-origin",
    body: JSON.stringify(subscription.toJSON ? subscription.toJSON() : subscription),
  });
  const answer = await response.json();
  return { ok: response.ok, detail: answer.detail || "" };
}

async function turnOn() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    status.textContent = box.dataset.unsupported;
    return;
  }
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  if ((await Notification.requestPermission()) !== "granted") {
    status.textContent = box.dataset.denied;
    return;
  }
  let subscription;
  try {
    await navigator.serviceWorker.ready;
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(box.dataset.key) });
  } catch {
    status.textContent = box.dataset.failed;
    return;
  }
  const answer = await handOver(subscription);
  status.textContent = answer.ok ? box.dataset.ok : `${box.dataset.failed} ${answer.detail}`;
}

document.getElementById("push-on").addEventListener("click", () => { turnOn(); });
// Exposed for the page's own use and tests: hand over a subscription object as is.
window.careflowPush = { handOver };
