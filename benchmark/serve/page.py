"""``GET /``: one page to type a review and see its label, probabilities and latency. It loads
nothing from elsewhere, and its Content-Security-Policy allows only its own inline script and
style (by hash) and requests to this server. Answers are written with ``textContent``: a
review or a class name never becomes markup."""

from __future__ import annotations

import base64
import hashlib

__all__ = ["PAGE", "PAGE_HEADERS"]

_STYLE = """
body { font: 16px/1.4 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
textarea { width: 100%; min-height: 7rem; font: inherit; }
input { font: inherit; }
table { border-collapse: collapse; margin-top: .5rem; }
td { padding: .15rem .8rem .15rem 0; }
#label { font-size: 1.4rem; font-weight: 600; }
#error { color: #a00; }
.muted { color: #666; font-size: .9rem; }
"""

_SCRIPT = """
const form = document.getElementById("form");
const show = (id, text) => { document.getElementById(id).textContent = text; };
fetch("health").then(r => r.json()).then(h => {
  show("about", "classifier " + h.classifier + " of run " + h.run_id + "; classes: " + h.classes.join(", "));
  document.getElementById("keyrow").hidden = !h.needs_api_key;
}).catch(() => {});
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  show("error", ""); show("label", ""); show("latency", "");
  const rows = document.getElementById("probabilities");
  rows.replaceChildren();
  const headers = {"Content-Type": "application/json"};
  const key = document.getElementById("key").value;
  if (key) headers["Authorization"] = "Bearer " + key;
  const started = performance.now();
  try {
    const response = await fetch("predict", {method: "POST", headers,
      body: JSON.stringify({texts: [document.getElementById("text").value]})});
    const answer = await response.json();
    const roundTrip = performance.now() - started;
    if (!response.ok) { show("error", answer.error || ("HTTP " + response.status)); return; }
    const p = answer.predictions[0];
    show("label", p.label);
    for (const [name, value] of Object.entries(p.probabilities)) {
      const tr = rows.insertRow();
      tr.insertCell().textContent = name;
      tr.insertCell().textContent = value.toFixed(3);
    }
    show("latency", "in the server " + answer.latency_ms.toFixed(1) + " ms, round trip " + roundTrip.toFixed(1) + " ms");
  } catch (err) {
    show("error", "no answer from the server: " + err);
  }
});
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sentibench serve</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>sentibench serve</h1>
<p id="about" class="muted"></p>
<form id="form">
<textarea id="text" name="text" required placeholder="Type a review"></textarea>
<p id="keyrow" hidden><label>API key <input id="key" type="password" autocomplete="off"></label></p>
<button type="submit">Label it</button>
</form>
<p id="label"></p>
<table id="probabilities"></table>
<p id="latency" class="muted"></p>
<p id="error"></p>
<script>{_SCRIPT}</script>
</body>
</html>
"""

PAGE_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; script-src {_hash(_SCRIPT)}; style-src {_hash(_STYLE)}; "
                               "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
