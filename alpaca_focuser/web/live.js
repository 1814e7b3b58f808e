// Keeps the server-drawn parts of a page (each marked data-live, with an id) in step with the
// server: they are drawn again from a fresh copy of the page every few seconds, so a status table
// never says "connected" while the focuser is not. Only while the page is visible.
"use strict";

(() => {
  const EVERY_MS = 2000;

  async function refresh() {
    if (document.hidden) return;
    let text;
    try {
      const response = await fetch(window.location.href, { cache: "no-store" });
      if (!response.ok) return;
      text = await response.text();
    } catch (error) {
      return; // the page's own scripts say when the server cannot be reached
    }
    const fresh = new DOMParser().parseFromString(text, "text/html");
    for (const element of document.querySelectorAll("[data-live]")) {
      const replacement = fresh.getElementById(element.id);
      if (replacement && replacement.innerHTML !== element.innerHTML) element.innerHTML = replacement.innerHTML;
    }
  }

  setInterval(refresh, EVERY_MS);
})();
