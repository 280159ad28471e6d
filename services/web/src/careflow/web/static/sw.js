// The service worker: shows the Web Push notify sends ("your turn", a new message) even
// when no tab of the site is open, and opens the patient's cases when it is clicked.
self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { body: event.data ? event.data.text() : "" };
  }
  const lang = message.lang === "en" ? "en" : "sv";
  const title = message.title || (lang === "en" ? "Your turn" : "Nu är det din tur");
  event.waitUntil(
    self.registration.showNotification(title, {
      body: message.body || "",
      lang,
      icon: "/static/icon.svg",
      tag: "careflow",
      renotify: true,
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((open) => {
      for (const client of open) {
        if ("focus" in client) return client.focus();
      }
      return self.clients.openWindow("/my/cases");
    }),
  );
});
