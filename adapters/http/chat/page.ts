/**
 * `GET /chat/`: a small page to try chat — sign in, pick a user or a group, send, see messages arrive live over
 * the WebSocket, and scroll back through the history. Plain HTML and script, no build step; everything it does
 * goes through the public API.
 */
export const chatPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chat</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header, form { display: flex; gap: .5rem; padding: .5rem; border-bottom: 1px solid #ddd; align-items: center; }
  #log { flex: 1; overflow-y: auto; padding: .5rem; }
  .message { margin: .25rem 0; } .mine { text-align: right; } .meta { color: #888; font-size: 12px; }
  #status { color: #888; margin-left: auto; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<form id="login">
  <input id="email" type="email" placeholder="e-mail" required>
  <input id="password" type="password" placeholder="password" required>
  <button>sign in</button><span id="login-error" role="alert"></span>
</form>
<header id="pick" hidden>
  <input id="to" placeholder="user id or group id (g:…)" required>
  <button id="open" type="button">open</button>
  <button id="older" type="button">older</button>
  <span id="status">offline</span>
</header>
<div id="log" aria-live="polite"></div>
<form id="compose" hidden>
  <input id="content" placeholder="message" autocomplete="off" style="flex:1" required>
  <button>send</button>
</form>
<script type="module">
const $ = (id) => document.getElementById(id);
let token, me, socket, conversation, next = null;
const shown = new Set();
const api = async (path, init = {}) => {
  const response = await fetch(path, { ...init, headers: { "content-type": "application/json", authorization: "Bearer " + token, ...init.headers } });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(body?.detail ?? body?.title ?? response.status);
  return body;
};
const conversationOf = (to) => to.startsWith("g:") ? to : "dm:" + [me, to].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).join(":");
function show(message, older) {
  if (shown.has(message.id) || message.conversationId !== conversation) return;
  shown.add(message.id);
  const line = document.createElement("div");
  line.className = "message" + (message.senderId === me ? " mine" : "");
  line.dataset.id = message.id;
  line.innerHTML = '<span class="meta"></span> <span class="text"></span>';
  line.querySelector(".meta").textContent = message.senderId + " · " + new Date(message.sentAt).toLocaleTimeString();
  line.querySelector(".text").textContent = message.content;
  if (older) $("log").prepend(line); else { $("log").append(line); line.scrollIntoView(); }
}
async function history() {
  const query = new URLSearchParams({ limit: "20", ...(next ? { before: next } : {}) });
  const page = await api("/chat/conversations/" + conversation + "/messages?" + query);
  for (const message of page.items) show(message, true);
  next = page.next;
  $("older").disabled = !next;
}
function connect() {
  socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat/ws?access_token=" + token);
  socket.onopen = () => $("status").textContent = "online";
  socket.onclose = () => { $("status").textContent = "offline"; setTimeout(connect, 1000); };
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "message") show(frame.message, false);
    if (frame.type === "error") $("status").textContent = frame.error;
  };
}
$("login").onsubmit = async (event) => {
  event.preventDefault();
  const response = await fetch("/users/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: $("email").value, password: $("password").value }) });
  const body = await response.json();
  if (!response.ok) { $("login-error").textContent = body.detail ?? body.title; return; }
  token = body.accessToken;
  me = (await api("/users/me")).id;
  $("login").hidden = true; $("pick").hidden = false;
  connect();
};
$("open").onclick = async () => {
  conversation = conversationOf($("to").value.trim());
  shown.clear(); next = null; $("log").replaceChildren();
  $("compose").hidden = false;
  await history();
};
$("older").onclick = () => history();
$("compose").onsubmit = (event) => {
  event.preventDefault();
  const to = $("to").value.trim();
  socket.send(JSON.stringify({ type: "send", to, content: $("content").value, clientMessageId: crypto.randomUUID() }));
  $("content").value = "";
};
</script>
</body>
</html>
`;
