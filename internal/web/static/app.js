// Shortlinks page script. The form works without it; with it, the form is
// sent to the JSON API and the result is shown without reloading, and the
// short link can be copied with one click.
(() => {
  "use strict";

  const form = document.getElementById("shorten");
  if (!form) {
    return; // anonymous creation is off on this server
  }
  const $ = (id) => document.getElementById(id);
  const summary = $("error-summary");
  const result = $("result");
  const submit = $("submit");
  const copy = $("copy");

  // The inputs that show errors, by the API's field names.
  const inputFor = { url: "url", alias: "alias", expires_in: "expires", expires_at: "expires" };
  const inputs = ["url", "alias", "expires"];

  function clearErrors() {
    summary.hidden = true;
    $("error-list").replaceChildren();
    for (const id of inputs) {
      const input = $(id);
      input.removeAttribute("aria-invalid");
      input.closest(".field").classList.remove("invalid");
      const err = $(id + "-error");
      err.hidden = true;
      err.textContent = "";
      setDescribedBy(input, id + "-error", false);
    }
  }

  function setDescribedBy(input, id, on) {
    const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter((s) => s && s !== id);
    if (on) {
      ids.push(id);
    }
    if (ids.length) {
      input.setAttribute("aria-describedby", ids.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
  }

  function showError(field, message) {
    const id = inputFor[field];
    const li = document.createElement("li");
    if (id) {
      const input = $(id);
      input.setAttribute("aria-invalid", "true");
      input.closest(".field").classList.add("invalid");
      const err = $(id + "-error");
      err.textContent = message;
      err.hidden = false;
      setDescribedBy(input, id + "-error", true);
      const a = document.createElement("a");
      a.href = "#" + id;
      a.textContent = message;
      li.append(a);
    } else {
      li.textContent = message;
    }
    $("error-list").append(li);
    summary.hidden = false;
    summary.focus();
  }

  function showResult(link) {
    const short = $("short-url");
    short.href = link.short_url;
    short.textContent = link.short_url;
    $("long-url").textContent = link.url;
    const expires = $("expires-at");
    if (link.expires_at) {
      const time = document.createElement("time");
      time.dateTime = link.expires_at;
      time.textContent = new Date(link.expires_at).toLocaleString();
      expires.replaceChildren(time);
    } else {
      expires.textContent = "Never";
    }
    const base = "/api/v1/links/" + encodeURIComponent(link.code) + "/qr";
    const qr = $("qr");
    qr.src = base + "?format=svg";
    qr.alt = "QR code for " + link.short_url;
    $("qr-png").href = base + "?format=png&size=1024";
    $("copy-status").textContent = "";
    result.hidden = false;
    result.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = { url: form.elements.url.value.trim() };
    const alias = form.elements.alias.value.trim();
    if (alias) {
      body.alias = alias;
    }
    const expiresIn = form.elements.expires_in.value;
    if (expiresIn) {
      body.expires_in = Number(expiresIn);
    }
    submit.disabled = true;
    try {
      const res = await fetch("/api/v1/links", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      const data = await res.json().catch(() => null);
      if (res.ok && data) {
        form.reset();
        showResult(data);
      } else if (data && data.error) {
        result.hidden = true;
        showError(data.error.field, data.error.message);
      } else {
        result.hidden = true;
        showError("", "The server answered with status " + res.status + "; try again.");
      }
    } catch {
      result.hidden = true;
      showError("", "The server could not be reached; check your connection and try again.");
    } finally {
      submit.disabled = false;
    }
  });

  // Copying needs script, so the button appears only with it.
  copy.hidden = false;
  copy.addEventListener("click", async () => {
    const status = $("copy-status");
    const text = $("short-url").textContent;
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied " + text + " to the clipboard.";
    } catch {
      // No clipboard access (an insecure origin, or permission denied):
      // select the link so that the keyboard shortcut copies it.
      const range = document.createRange();
      range.selectNodeContents($("short-url"));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = "Press Ctrl+C (or ⌘C) to copy the selected link.";
    }
  });
})();
