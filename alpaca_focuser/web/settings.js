// The settings form: the serial ports found (the focuser's marked), saving through the SetSettings
// Action, and Connect / Disconnect with the reason of the last failure. The fields are the ones the
// server drew from its settings schema (each marked data-setting), so nothing here lists them. The
// server checks every value first and answers every problem at once, one "FIELD: problem" line
// each, which goes beside its field; a new port that cannot be reached can still be saved
// ("Save anyway"), and the page then says so.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("settings-form");
  const controls = [...form.querySelectorAll("[data-setting]")];
  const FIELDS = controls.map((control) => control.dataset.setting);
  const select = $("field-port");
  const other = $("field-port-other");
  const NOT_CONNECTED = 0x407;

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
    add("", "other (a device path such as /dev/ttyUSB0 or COM7)…");
    select.replaceChildren(...options);
    select.value = chosen;
    showOther();
  }

  function valueOf(control) {
    const kind = control.dataset.kind;
    if (kind === "port") return select.value === "" ? other.value.trim() : select.value;
    if (kind === "flag") return control.checked;
    const text = control.value.trim();
    if (kind === "number") {
      if (text === "" && control.dataset.optional) return null;
      return text !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
    }
    return control.value;
  }

  function readForm() {
    const settings = {};
    for (const control of controls) settings[control.dataset.setting] = valueOf(control);
    return settings;
  }

  function clearErrors() {
    for (const field of FIELDS) Alpaca.showError(`error-${field}`, null);
    Alpaca.showError("error-form", null);
    $("saved").textContent = "";
    $("force-row").hidden = true;
  }

  /** Put each "FIELD: problem" line beside its field; anything else goes under the form. */
  function showProblems(error) {
    const lines = (error.message || String(error)).split("\n");
    const general = [];
    for (const line of lines) {
      const found = /^(\w+): (.*)$/.exec(line);
      if (found && FIELDS.includes(found[1])) Alpaca.showError(`error-${found[1]}`, new Error(found[2]));
      else general.push(line);
    }
    if (general.length) Alpaca.showError("error-form", new Error(general.join(" ")));
  }

  function showSaved(saved, unreachable) {
    $("field-name").value = saved.name;
    const title = `${saved.name} (focuser\u00a0${Alpaca.deviceNumber()})`;
    document.querySelector("header h1").textContent = title;
    document.title = title;
    $("saved").textContent = saved.note || (unreachable ? `Saved, but cannot reach ${saved.port}: ${unreachable}` : "Saved.");
  }

  let refused = null; // the settings and the reason of a port the focuser could not be reached on

  async function save(force) {
    clearErrors();
    const settings = force && refused ? refused.settings : readForm();
    try {
      const saved = await Alpaca.action("SetSettings", { settings, force });
      showSaved(saved, force && refused ? refused.reason : "");
      refused = null;
      await loadPorts();
    } catch (error) {
      showProblems(error);
      if (!force && error.number === NOT_CONNECTED) {
        refused = { settings, reason: error.message };
        $("force-row").hidden = false;
      }
    }
    refreshConnection();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(false);
  });
  $("force").addEventListener("click", () => save(true));
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
      if (info.connected && !mine) {
        text = `Connected on ${info.port} and in use by other programs, but not by this page: press Connect to use the focuser from here.`;
      }
      if (connecting) text = "Connecting…";
      else if (!info.connected && info.not_connected_reason) text += ` Last failure: ${info.not_connected_reason}`;
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
