// The settings form: the serial ports found (the focuser's marked), saving through the SetSettings
// Action (the server checks every value first and changes nothing when one is wrong), and Connect /
// Disconnect with the reason of the last failure.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const FIELDS = ["name", "port", "route", "rtscts", "baud", "backlash_steps", "backlash_direction", "reverse", "settle_ms", "step_size_um", "client_lease_s"];
  const select = $("field-port");
  const other = $("field-port-other");

  function showOther() {
    other.hidden = select.value !== "";
  }

  async function loadPorts() {
    let found;
    try {
      found = await Alpaca.action("Ports");
    } catch (error) {
      Alpaca.showError("error-port", error);
      return;
    }
    const chosen = select.value;
    const options = [];
    const add = (value, text) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      options.push(option);
    };
    for (const port of found.ports) {
      const marks = [];
      if (port.connected) marks.push("the focuser, connected");
      else if (port.focuser) marks.push("the focuser's USB id");
      if (port.description) marks.push(port.description);
      if (port.usb_id) marks.push(`USB ${port.usb_id}`);
      add(port.port, marks.length ? `${port.port} (${marks.join("; ")})` : port.port);
    }
    for (const special of found.special) add(special.port, `${special.port} (${special.description})`);
    const known = options.map((option) => option.value);
    if (chosen && !known.includes(chosen)) add(chosen, chosen);
    add("", "other (socket://HOST:PORT, rfc2217://HOST:PORT, a device path)…");
    select.replaceChildren(...options);
    select.value = chosen;
    showOther();
  }

  function readForm() {
    const port = select.value === "" ? other.value.trim() : select.value;
    const numberOrText = (id) => {
      const text = $(id).value.trim();
      return text !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
    };
    const optional = (id) => ($(id).value.trim() === "" ? null : numberOrText(id));
    return {
      name: $("field-name").value,
      port,
      route: $("field-route").value,
      rtscts: $("field-rtscts").checked,
      baud: optional("field-baud"),
      backlash_steps: numberOrText("field-backlash_steps"),
      backlash_direction: $("field-backlash_direction").value,
      reverse: $("field-reverse").checked,
      settle_ms: numberOrText("field-settle_ms"),
      step_size_um: optional("field-step_size_um"),
      client_lease_s: numberOrText("field-client_lease_s"),
    };
  }

  function clearErrors() {
    for (const field of FIELDS) Alpaca.showError(`error-${field}`, null);
    Alpaca.showError("error-form", null);
    $("saved").textContent = "";
  }

  $("settings-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    try {
      const saved = await Alpaca.action("SetSettings", readForm());
      $("field-name").value = saved.name;
      const title = `${saved.name} (focuser ${Alpaca.deviceNumber()})`;
      document.querySelector("header h1").textContent = title;
      document.title = title;
      $("saved").textContent = saved.note || "Saved.";
      await loadPorts();
    } catch (error) {
      const field = /^SetSettings: (\w+) /.exec(error.message || "");
      if (field && FIELDS.includes(field[1])) Alpaca.showError(`error-${field[1]}`, error);
      else Alpaca.showError("error-form", error);
    }
    refreshConnection();
  });
  select.addEventListener("change", showOther);

  let wasConnected = null;

  async function refreshConnection() {
    try {
      const info = await Alpaca.action("FocuserInfo");
      if (wasConnected !== null && info.connected !== wasConnected) loadPorts(); // mark the port it answers on
      wasConnected = info.connected;
      const connecting = await Alpaca.call("GET", "connecting");
      const mine = await Alpaca.call("GET", "connected");
      let text = info.connected ? `Connected on ${info.port}.` : "Not connected.";
      if (info.connected && !mine) text = `Connected on ${info.port} for other programs; this page has disconnected itself (press Connect to use the focuser from here).`;
      if (connecting) text = "Connecting…";
      else if (!info.connected && info.link && info.link.last_error) text += ` Last failure: ${info.link.last_error}`;
      $("connection-state").textContent = text;
      $("connection-state").className = info.connected ? "good" : connecting ? "" : "bad";
      Alpaca.showError("error-connection", null);
    } catch (error) {
      Alpaca.showError("error-connection", error);
    }
  }

  $("connect").addEventListener("click", () => Alpaca.holdWhileOpen().catch((error) => Alpaca.showError("error-connection", error)).then(refreshConnection));
  $("disconnect").addEventListener("click", () => Alpaca.call("PUT", "disconnect").catch((error) => Alpaca.showError("error-connection", error)).then(refreshConnection));

  showOther();
  loadPorts();
  refreshConnection();
  setInterval(() => { if (!document.hidden) refreshConnection(); }, 1000);
})();
