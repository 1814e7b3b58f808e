// A small Alpaca client for the server's own pages. The pages are ordinary Alpaca clients: they use
// the same API and vendor Actions as N.I.N.A. or a script, with a ClientID of their own: a random
// one per browser tab, so two open tabs are two clients. It is kept while the tab lives (reloads,
// going from the control page to the settings form). A page that is closed without a word must not
// keep the focuser: every request asks for a short lease (LEASE_S), so a tab that stops polling
// (closed, crashed, a phone asleep) lets go of the focuser soon after, and a page that is left
// ends its own connection with a request that survives the unload (see leave()).
"use strict";

const Alpaca = (() => {
  const clientId = (() => {
    const key = "alpaca-focuser-client-id";
    const saved = Number(window.sessionStorage.getItem(key));
    if (Number.isInteger(saved) && saved > 0 && saved < 2147483648) return saved;
    const fresh = 1 + Math.floor(Math.random() * 2147483646);
    window.sessionStorage.setItem(key, String(fresh));
    return fresh;
  })();
  let transaction = 0;
  const LEASE_S = 90; // a hidden tab polls at least once a minute, even throttled; the server's default is minutes

  /** An error the server answered: an Alpaca ErrorNumber with its message, or an HTTP 400 text. */
  class ServerError extends Error {
    constructor(message, number) {
      super(message);
      this.number = number;
    }
  }

  /** The server could not be reached at all (network down, server stopped). */
  class Unreachable extends Error {}

  function deviceNumber() {
    const found = /\/v1\/focuser\/(\d+)/.exec(window.location.pathname);
    return found ? Number(found[1]) : 0;
  }

  async function call(method, member, params = {}, options = {}) {
    const fields = new URLSearchParams(params);
    fields.set("ClientID", String(clientId));
    fields.set("ClientTransactionID", String(++transaction));
    const url = `/api/v1/focuser/${deviceNumber()}/${member}`;
    let response;
    try {
      const headers = { "Alpaca-Focuser-Lease": String(LEASE_S) };
      response = method === "GET"
        ? await fetch(`${url}?${fields}`, { cache: "no-store", headers })
        : await fetch(url, { method: "PUT", body: fields, keepalive: Boolean(options.keepalive), headers });
    } catch (error) {
      throw new Unreachable("The server cannot be reached (network or server down); retrying.");
    }
    const text = await response.text();
    if (!response.ok) {
      throw new ServerError(text || `The server answered HTTP ${response.status}.`, -response.status);
    }
    let body;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new ServerError("The server's answer was not JSON.", -1);
    }
    if (body.ErrorNumber) {
      throw new ServerError(body.ErrorMessage || `Alpaca error ${body.ErrorNumber}`, body.ErrorNumber);
    }
    return body.Value;
  }

  /** Run a vendor Action; ``parameters`` is sent as JSON unless it is already text. */
  async function action(name, parameters, options = {}) {
    const text = parameters === undefined ? "" : typeof parameters === "string" ? parameters : JSON.stringify(parameters);
    const value = await call("PUT", "action", { Action: name, Parameters: text }, options);
    return value ? JSON.parse(value) : null;
  }

  /** DeviceState as an object keyed by name. */
  async function deviceState() {
    const items = await call("GET", "devicestate");
    const state = {};
    for (const item of items) state[item.Name] = item.Value;
    return state;
  }

  /** Connect this page's client and end that connection when the page is left for good (closed,
   * reloaded, navigated away; not when the browser only keeps it aside in its back-forward cache,
   * from which it connects again). The Disconnect is sent with keepalive, so it outlives the page. */
  let holding = false;
  async function holdWhileOpen() {
    if (!holding) {
      holding = true;
      window.addEventListener("pagehide", (event) => {
        if (!event.persisted) call("PUT", "disconnect", {}, { keepalive: true }).catch(() => {});
      });
      window.addEventListener("pageshow", (event) => {
        if (event.persisted) call("PUT", "connect").catch(() => {});
      });
    }
    return call("PUT", "connect");
  }

  /** Show ``error`` (or clear it with null) in the element with id ``where``. */
  function showError(where, error) {
    const element = document.getElementById(where);
    if (element) element.textContent = error ? error.message || String(error) : "";
  }

  /** The whole number typed in a field; an error naming ``what`` when it is empty or not whole. */
  function wholeNumber(id, what) {
    const text = document.getElementById(id).value.trim();
    if (!/^[+-]?\d+$/.test(text)) throw new Error(`Give ${what} as a whole number${text ? `, not "${text}"` : ""}.`);
    return Number(text);
  }

  return { clientId, call, action, deviceState, deviceNumber, holdWhileOpen, showError, wholeNumber, ServerError, Unreachable };
})();
