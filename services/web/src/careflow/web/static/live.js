// The case page's live part: one WebSocket to the web service brings the place in the
// queue, "your turn", messages and the case closing; messages are sent without a reload.
const root = document.getElementById("case");
const list = document.getElementById("messages");
const form = document.getElementById("send");
let after = Number(root.dataset.after || 0);
const me = list?.dataset.labelMe;
const titles = list ? JSON.parse(list.dataset.titles || "{}") : {};
let retry = 1000;
// A form on its way (closing the case, rating) must not be overtaken by a reload.
let leaving = false;
document.addEventListener("submit", (event) => {
  if (!["send", "attach"].includes(event.target.id)) leaving = true;
});

function show(id, visible) {
  const el = document.getElementById(id);
  if (el) el.hidden = !visible;
}

function addMessage(m) {
  if (!list || m.sequence <= after) return;
  after = m.sequence;
  const li = document.createElement("li");
  li.className = `msg ${m.sender_role === me ? "mine" : "theirs"}`;
  li.dataset.sequence = m.sequence;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = m.sender_role === "patient" ? list.dataset.labelPatient
    : m.sender_name ? `${m.sender_name}, ${titles[m.sender_title] || m.sender_title}` : list.dataset.labelStaff;
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
  if (m.sender_role === me) {
    const read = document.createElement("span");
    read.className = "read";
    read.textContent = list.dataset.labelRead;
    read.hidden = m.sequence > readUpTo;
    li.append(read);
  }
  list.append(li);
  markRead();
}

// Read receipts: the other side's reading marks one's own messages; one's own reading is
// told to chat while the page is in view.
let readUpTo = 0;
let readSent = 0;
function showRead(upTo) {
  readUpTo = Math.max(readUpTo, upTo);
  for (const li of list.querySelectorAll("li.mine")) {
    const mark = li.querySelector(".read");
    if (mark && Number(li.dataset.sequence) <= readUpTo) mark.hidden = false;
  }
}

function markRead() {
  if (!list || document.hidden) return;
  const theirs = [...list.querySelectorAll("li.theirs")].map((li) => Number(li.dataset.sequence));
  const upTo = Math.max(0, ...theirs);
  if (upTo <= readSent) return;
  readSent = upTo;
  fetch(list.dataset.read, {
    method: "POST",
    body: new URLSearchParams({ up_to: after }),
    headers: { "X-CSRF-Token": root.dataset.csrf },
    credentials: "same-origin",
  }).catch(() => { readSent = 0; });
}
document.addEventListener("visibilitychange", markRead);

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
  const waiting = document.getElementById("waiting");
  // Only a page that was waiting announces the turn: a reload later does not again.
  if (waiting && !waiting.hidden && "Notification" in window && Notification.permission === "granted") {
    new Notification(root.dataset.turnText || "");
    root.dataset.notified = "true";
  }
  show("waiting", false);
  show("turn", true);
  show("conversation", true);
  const who = document.getElementById("turn-who");
  if (who && frame.professional) who.textContent = `${frame.professional}`;
  if (frame.professional) list.dataset.labelStaff = frame.professional;
  document.getElementById("turn")?.focus?.();
}

function handle(frame) {
  if (frame.type === "place") {
    const position = document.getElementById("position");
    const wait = document.getElementById("wait");
    if (position) position.textContent = frame.position ?? "–";
    if (wait) wait.textContent = frame.wait_minutes ?? "–";
    const urgency = document.getElementById("urgency");
    const said = urgency && frame.urgency ? urgency.dataset[`u${frame.urgency}`] : null;
    if (said) {
      urgency.querySelector("strong").textContent = said;
      urgency.hidden = false;
    }
    if (frame.status === "withdrawn" && !leaving) window.location.reload();
  } else if (frame.type === "turn") {
    yourTurn(frame);
  } else if (frame.type === "message") {
    addMessage(frame);
  } else if (frame.type === "read") {
    showRead(frame.up_to);
  } else if (frame.type === "closed" && !leaving) {
    window.location.reload();
  } else if (["video", "video_started", "video_ended", "signal", "video_error"].includes(frame.type)) {
    document.dispatchEvent(new CustomEvent("careflow:live", { detail: frame }));
  }
}

// video.js's offers, answers and ICE candidates go out over this page's one socket.
let socket = null;
document.addEventListener("careflow:send", (event) => {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(event.detail));
});

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}/live?case=${root.dataset.case}&after=${after}`;
  socket = new WebSocket(url);
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
    const answer = await Notification.requestPermission();
    notifyMe.hidden = true;
    const said = document.getElementById("notify-status");
    said.textContent = answer === "granted" ? said.dataset.on : said.dataset.off;
    said.hidden = false;
  });
}

if (list) {
  showRead(Number(list.dataset.readUpTo || 0));
  markRead();
}

// A closed case changes no more: nothing to follow.
if (root.dataset.closed !== "true") connect();
