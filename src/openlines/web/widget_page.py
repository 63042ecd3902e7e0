"""``GET /widget/{LINE_ID}``: a small page to chat with a line from a browser.

Plain HTML, a little CSS and vanilla JavaScript inline (no build step, nothing loaded from elsewhere):
it asks for a name, sends messages with ``fetch`` to ``POST /widget/{LINE_ID}/messages``, keeps the
visitor id and token in ``localStorage``, and shows the dialogue from the SSE stream
``/widget/{LINE_ID}/events?token=...``.
"""

from __future__ import annotations

import html
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from openlines.services import Services
from openlines.web import widget

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#eef1f5;color:#1c2430}
main{max-width:38rem;margin:0 auto;min-height:100vh;display:flex;flex-direction:column;background:#fff;
 box-shadow:0 0 0 1px #d8dde5}
header{padding:.8rem 1rem;background:#1f5fbf;color:#fff}
header h1{margin:0;font-size:1.15rem}
header p{margin:.15rem 0 0;font-size:.85rem;opacity:.9}
#status{min-height:1.2em}
form{display:flex;gap:.5rem;padding:.75rem 1rem;border-top:1px solid #d8dde5}
label{position:absolute;left:-9999px}
#join{flex-direction:column;border:0;padding:1.5rem 1rem}
#join label{position:static}
input,textarea{flex:1;font:inherit;padding:.55rem .7rem;border:1px solid #98a3b3;border-radius:.4rem}
textarea{resize:vertical;min-height:2.6rem}
button{font:inherit;padding:.55rem 1rem;border:0;border-radius:.4rem;background:#1f5fbf;color:#fff;cursor:pointer}
button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #f2a900;outline-offset:1px}
button.link{background:none;color:#1f5fbf;padding:0;text-decoration:underline}
ol{list-style:none;margin:0;padding:1rem;flex:1;overflow-y:auto;display:flex;flex-direction:column;gap:.5rem}
li{max-width:80%;padding:.5rem .75rem;border-radius:.8rem;white-space:pre-wrap;overflow-wrap:anywhere}
li.customer{align-self:flex-end;background:#1f5fbf;color:#fff;border-bottom-right-radius:.2rem}
li.agent{align-self:flex-start;background:#e8ecf2;border-bottom-left-radius:.2rem}
li.system{align-self:center;background:none;color:#5a6576;font-size:.85rem;font-style:italic}
li .who{display:block;font-size:.75rem;opacity:.8}
.error{color:#b3261e;padding:0 1rem}
.foot{text-align:center;margin:.4rem}
[hidden]{display:none!important}
"""

SCRIPT = r"""
(() => {
  const base = location.pathname.replace(/\/+$/, "");
  const key = "openlines.widget." + document.body.dataset.line;
  const $ = (id) => document.getElementById(id);
  const log = $("log"), status = $("status"), problem = $("problem");
  const seen = new Set();
  let saved = JSON.parse(localStorage.getItem(key) || "null");
  let stream = null;

  function randomId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function save() { localStorage.setItem(key, JSON.stringify(saved)); }
  function fail(text) { problem.textContent = text; problem.hidden = !text; }

  function show(item) {
    if (seen.has(item.id)) return;
    seen.add(item.id);
    const li = document.createElement("li");
    li.className = item.from;
    li.dataset.id = item.id;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = item.from === "customer" ? "You" : item.from === "system" ? "Notice" : "Support";
    li.append(who, document.createTextNode(item.text));
    log.append(li);
    li.scrollIntoView({block: "end"});
  }

  function listen() {
    if (stream) stream.close();
    stream = new EventSource(base + "/events?token=" + encodeURIComponent(saved.token));
    stream.addEventListener("open", () => { status.textContent = "Connected"; });
    stream.addEventListener("message", (e) => show(JSON.parse(e.data)));
    stream.addEventListener("error", () => {
      status.textContent = stream.readyState === EventSource.CLOSED
        ? "Disconnected. Reload the page to try again." : "Reconnecting…";
    });
  }

  function enterChat() {
    $("join").hidden = true;
    $("chat").hidden = false;
    $("restart").hidden = false;
    $("text").focus();
    if (saved.token) listen();
  }

  $("join").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("name").value.trim();
    if (!name) { fail("Please enter your name."); return; }
    fail("");
    saved = {visitor: randomId(), name: name, token: ""};
    save();
    enterChat();
  });

  $("chat").addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = $("text"), text = box.value;
    if (!text.trim()) return;
    const headers = {"Content-Type": "application/json"};
    if (saved.token) headers.Authorization = "Bearer " + saved.token;
    $("send").disabled = true;
    try {
      const answer = await fetch(base + "/messages", {
        method: "POST", headers: headers,
        body: JSON.stringify({visitor: saved.visitor, name: saved.name, text: text}),
      });
      const body = await answer.json();
      if (!answer.ok) { fail(body.error_description || "The message was not sent."); return; }
      fail("");
      box.value = "";
      if (!saved.token) { saved.token = body.visitor_token; save(); listen(); }
    } catch (err) {
      fail("The message was not sent: the server cannot be reached.");
    } finally {
      $("send").disabled = false;
      box.focus();
    }
  });

  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("chat").requestSubmit(); }
  });

  $("restart").addEventListener("click", () => {
    if (stream) stream.close();
    localStorage.removeItem(key);
    location.reload();
  });

  if (saved && saved.visitor) enterChat(); else $("name").focus();
})();
"""

BODY = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title} — chat</title>
<style nonce="{nonce}">{style}</style>
</head>
<body data-line="{line_id}">
<main>
<header>
  <h1>{title}</h1>
  <p id="status" role="status" aria-live="polite">Ask us anything</p>
</header>
<form id="join" aria-label="Start a chat">
  <label for="name">Your name</label>
  <input id="name" name="name" autocomplete="name" maxlength="100" required>
  <button type="submit">Start chat</button>
</form>
<p id="problem" class="error" role="alert" hidden></p>
<ol id="log" role="log" aria-live="polite" aria-label="Conversation"></ol>
<form id="chat" aria-label="Send a message" hidden>
  <label for="text">Message</label>
  <textarea id="text" name="text" rows="1" maxlength="10000" placeholder="Type a message…"></textarea>
  <button id="send" type="submit">Send</button>
</form>
<p class="foot"><button id="restart" class="link" type="button" hidden>Start over</button></p>
</main>
<script nonce="{nonce}">{script}</script>
</body>
</html>
"""

NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat not available</title></head>
<body><main><h1>Chat not available</h1><p>This line does not exist or is switched off.</p></main></body>
</html>
"""


async def page(request: Request) -> Response:
    services: Services = request.app.state.services
    line_id = widget._line_id(request)
    try:
        line = await services.store.get_line(line_id) if line_id > 0 else None
    except Exception:  # the store is down: say so plainly, no traceback
        return HTMLResponse("<!doctype html><title>Unavailable</title><p>Try again in a moment.</p>", 503)
    if line is None or not line.active:
        return HTMLResponse(NOT_FOUND, 404)
    nonce = secrets.token_urlsafe(16)
    text = BODY.format(
        title=html.escape(line.name or f"Line {line_id}"),
        line_id=line_id,
        nonce=nonce,
        style=STYLE,
        script=SCRIPT,
    )
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors *"
    )
    headers = {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(text, 200, headers=headers)
