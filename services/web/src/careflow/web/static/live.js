// The case page's live part: one WebSocket to the web service brings the place in the
// queue, "your turn", messages and the case closing; messages are sent without a reload.
const root = document.getElementById("case");
const list = document.getElementById("messages");
const form = document.getElementById("send");
let after = Number(root.dataset.after || 0);
let retry = 1000;
// A form on its way (closing the case, rating) must not be overtaken by a reload.
let leaving = false;
document.addEventListener("submit", (event) => { if (event.target !== form) leaving = true; });

function show(id, visible) {
  const el = document.getElementById(id);
  if (el) el.hidden = !visible;
}

function addMessage(m) {
  if (!list || m.sequence <= after) return;
  after = m.sequence;
  const me = list.dataset.labelMe;
  const li = document.createElement("li");
  li.className = `msg ${m.sender_role === me ? "mine" : "theirs"}`;
  li.dataset.sequence = m.sequence;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = m.sender_role === "patient" ? list.dataset.labelPatient : list.dataset.labelStaff;
  const when = document.createElement("span");
  when.className = "when";
  when.textContent = m.sent_at;
  li.append(who, " ", when);
  if (m.text) {
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = m.text;
    li.append(text);
  }
  for (const a of m.attachments || []) li.append(attachmentLink(a));
  list.append(li);
}

function attachmentLink(a) {
  const link = document.createElement("a");
  link.href = list.dataset.attachments + a.sha256;
  if (a.media_type.startsWith("image/")) {
    const img = document.createElement("img");
    img.className = "preview";
    img.src = link.href;
    img.alt = list.dataset.labelPhoto;
    link.append(img);
  } else {
    link.className = "pdf";
    link.textContent = list.dataset.labelPdf.replace("{size}", Math.max(1, Math.floor(a.size_bytes / 1024)));
  }
  return link;
}

function yourTurn(frame) {
  // Staff open a case before chat has its conversation: show it once it is there.
  if (root.dataset.role === "staff" && document.getElementById("conversation")?.hidden) {
    window.location.reload();
    return;
  }
  show("waiting", false);
  show("turn", true);
  show("conversation", true);
  const who = document.getElementById("turn-who");
  if (who && frame.professional) who.textContent = `${frame.professional}`;
  if (frame.professional) list.dataset.labelStaff = frame.professional;
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification(root.dataset.turnText || "");
  }
  document.getElementById("turn")?.focus?.();
}

function handle(frame) {
  if (frame.type === "place") {
    const position = document.getElementById("position");
    const wait = document.getElementById("wait");
    if (position) position.textContent = frame.position ?? "–";
    if (wait) wait.textContent = frame.wait_minutes ?? "–";
    if (frame.status === "withdrawn" && !leaving) window.location.reload();
  } else if (frame.type === "turn") {
    yourTurn(frame);
  } else if (frame.type === "message") {
    addMessage(frame);
  } else if (frame.type === "closed" && !leaving) {
    window.location.reload();
  }
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}/live?case=${root.dataset.case}&after=${after}`;
  const socket = new WebSocket(url);
  socket.addEventListener("open", () => { retry = 1000; root.dataset.live = "open"; });
  socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
  socket.addEventListener("close", () => {
    root.dataset.live = "closed";
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 15000);
  });
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    data.set("key", crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.ok) form.reset();
  });
}

const attach = document.getElementById("attach");
if (attach) {
  attach.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(attach);
    data.set("key", crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
    const error = document.getElementById("attach-error");
    const button = attach.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(attach.action, {
        method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      if (response.ok) {
        attach.reset();
        error.hidden = true;
      } else {
        const problem = await response.json().catch(() => ({}));
        error.textContent = problem.detail || attach.dataset.failed;
        error.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
  });
}

const notifyMe = document.getElementById("notify-me");
if (notifyMe && "Notification" in window && Notification.permission === "default") {
  notifyMe.hidden = false;
  notifyMe.addEventListener("click", async () => {
    await Notification.requestPermission();
    notifyMe.hidden = true;
  });
}

// A closed case changes no more: nothing to follow.
if (root.dataset.closed !== "true") connect();
