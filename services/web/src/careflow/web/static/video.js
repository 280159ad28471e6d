// The video call (WebRTC). Staff start it, the patient accepts and sends the offer, staff
// answer. Offers, answers and ICE candidates travel over the page's /live socket (live.js),
// which the web service relays to chat; the ICE servers are chat's STUN/TURN settings.
const box = document.getElementById("video");
const screens = document.getElementById("video-screens");
const remote = document.getElementById("video-remote");
const status = document.getElementById("video-status");
const startButton = document.getElementById("video-start");
const endButton = document.getElementById("video-end");
const acceptButton = document.getElementById("video-accept");
let ice = [];
let peer = null;
let local = null;
let pending = [];
// Signals are handled one at a time, in the order they came.
let chain = Promise.resolve();

function say(key) {
  status.textContent = key ? box.dataset[key] : "";
}

function send(kind, data) {
  document.dispatchEvent(new CustomEvent("careflow:send", { detail: { type: "signal", kind, data } }));
}

let asking = null;
async function camera() {
  if (!local) {
    asking ||= navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    try {
      local = await asking;
    } finally {
      asking = null;
    }
    document.getElementById("video-local").srcObject = local;
  }
  screens.hidden = false;
}

function connect() {
  if (peer) peer.close();
  peer = new RTCPeerConnection({ iceServers: ice });
  box.peer = peer;
  for (const track of local.getTracks()) peer.addTrack(track, local);
  peer.addEventListener("icecandidate", (event) => {
    if (event.candidate) send("ice", event.candidate.toJSON());
  });
  peer.addEventListener("track", (event) => {
    if (remote.srcObject !== event.streams[0]) {
      remote.srcObject = event.streams[0];
      remote.play().catch(() => {});
    }
  });
}

async function described(description) {
  await peer.setRemoteDescription(description);
  for (const candidate of pending.splice(0)) await peer.addIceCandidate(candidate);
}

async function signal(kind, data) {
  if (kind === "offer" && box.dataset.me === "staff") {
    await camera();
    connect();
    await described(data);
    const answer = await peer.createAnswer();
    await peer.setLocalDescription(answer);
    send("answer", { type: answer.type, sdp: answer.sdp });
    say("");
  } else if (kind === "answer" && peer) {
    await described(data);
  } else if (kind === "ice") {
    if (peer && peer.remoteDescription) await peer.addIceCandidate(data);
    else pending.push(data);
  }
}

function stop() {
  if (peer) peer.close();
  peer = null;
  box.peer = null;
  if (local) for (const track of local.getTracks()) track.stop();
  local = null;
  pending = [];
  remote.srcObject = null;
  screens.hidden = true;
  if (startButton) startButton.hidden = false;
  if (endButton) endButton.hidden = true;
  if (acceptButton) acceptButton.hidden = true;
}

function started() {
  box.dataset.running = "true";
  if (box.dataset.me === "staff") {
    startButton.hidden = true;
    endButton.hidden = false;
    if (!peer) say("waiting");
    camera().catch(() => say("failed"));
  } else if (!peer) {
    acceptButton.hidden = false;
    say("invite");
    acceptButton.focus();
  }
}

async function accept() {
  try {
    await camera();
  } catch {
    say("failed");
    return;
  }
  acceptButton.hidden = true;
  say("");
  connect();
  const offer = await peer.createOffer();
  await peer.setLocalDescription(offer);
  send("offer", { type: offer.type, sdp: offer.sdp });
}

async function post(url) {
  await fetch(url, {
    method: "POST",
    headers: { "X-CSRF-Token": document.getElementById("case").dataset.csrf },
    credentials: "same-origin",
  });
}

function handle(frame) {
  if (frame.ice_servers?.length) ice = frame.ice_servers;
  if (frame.type === "video" && frame.running) started();
  else if (frame.type === "video_started") started();
  else if (frame.type === "video_ended") {
    box.dataset.running = "false";
    stop();
    say("ended");
  } else if (frame.type === "signal") {
    chain = chain.then(() => signal(frame.kind, frame.data)).catch(() => say("failed"));
  }
}

if (box) {
  document.addEventListener("careflow:live", (event) => handle(event.detail));
  startButton?.addEventListener("click", () => post(box.dataset.start));
  endButton?.addEventListener("click", () => post(box.dataset.end));
  acceptButton?.addEventListener("click", () => { chain = chain.then(accept); });
}
