// Red night-vision mode on every page: remembered by the browser, so a page opened at the telescope
// never flashes the normal theme; switched by the header's Night button. Loaded at the top of <body>.
"use strict";

(() => {
  const KEY = "alpaca-focuser-night";
  const apply = (on) => {
    document.body.classList.toggle("night", on);
    document.documentElement.classList.toggle("night", on); // the page's own scroll bars
    const button = document.getElementById("night");
    if (button) button.setAttribute("aria-pressed", String(on));
  };
  apply(window.localStorage.getItem(KEY) === "1");
  document.addEventListener("DOMContentLoaded", () => {
    apply(document.body.classList.contains("night"));
    const button = document.getElementById("night");
    if (!button) return;
    button.addEventListener("click", () => {
      const on = !document.body.classList.contains("night");
      window.localStorage.setItem(KEY, on ? "1" : "0");
      apply(on);
    });
  });
})();
