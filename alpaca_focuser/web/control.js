// The control page: live state by polling, moves, jog with a dead-man renewal, presets, backlash and
// the guided calibration. Everything goes through the Alpaca API and the vendor Actions.
"use strict";

(() => {
  const FAST_POLL_MS = 250; // while the page is visible
  const HIDDEN_POLL_MS = 3000; // while the tab is hidden or the phone asleep
  const INFO_EVERY = 4; // FocuserInfo and CalibrationStatus every few polls (every poll while calibrating)
  const RECONNECT_MS = 5000; // the page connects itself again after losing its connection
  const JOG_RENEW_MS = 500; // the server stops a jog that is not renewed within jog_timeout_s (2 s)
  const CHECKS = "What to check: the motor's set screws on the focuser knob are tight and it does not slip; "
    + "the focuser was not near one end of its travel when calibration started (start from about the middle); "
    + "the focuser shaft turns freely over its whole travel (a loose retaining nut or a bent shaft makes the gears bind); "
    + "the motor's mounting plate does not rub on the telescope; the cables are firm and the mount has power. "
    + "Then start the calibration again.";

  const UNCALIBRATED_JOG = "This server does not move an uncalibrated focuser, even by jogging. "
    + "Bring it to about the middle with the hand controller's focus buttons, or start from where it is "
    + "if it is not near either end.";
  const $ = (id) => document.getElementById(id);
  const number = Alpaca.deviceNumber();
  const view = {
    reachable: true,
    info: null, // the last FocuserInfo
    calibration: null, // the last CalibrationStatus
    position: null,
    moving: false,
    halting: false,
    target: null,
    wasCalibrating: false,
    knownCalibrated: null,
    reconnectedAt: 0,
    ticks: 0,
  };
  let pollTimer = null;
  let polling = false; // one poll at a time; a poll asked for meanwhile runs right after
  let pollAgain = false;

  // ------------------------------------------------------------------ polling

  async function poll() {
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    clearTimeout(pollTimer);
    try {
      const info = view.info;
      const calibrating = Boolean(view.calibration && view.calibration.running);
      if (!info || !info.connected || view.ticks % INFO_EVERY === 0) {
        view.info = await Alpaca.action("FocuserInfo");
        if (view.info.connected) await keepOwnConnection();
      }
      if (view.info.connected) {
        const state = await Alpaca.deviceState();
        view.position = state.Position;
        view.moving = Boolean(state.IsMoving);
        if (calibrating || view.ticks % INFO_EVERY === 0 || view.calibration === null) {
          view.calibration = await Alpaca.action("CalibrationStatus");
        }
      } else {
        view.position = null;
        view.moving = false;
      }
      view.reachable = true;
    } catch (error) {
      if (error instanceof Alpaca.Unreachable) {
        view.reachable = false;
      } else if (error.number === 0x407) {
        view.info = Object.assign({}, view.info, { connected: false });
      }
    }
    view.ticks += 1;
    try {
      render();
    } catch (error) {
      console.error(error); // a drawing fault must not stop the polling
    }
    polling = false;
    if (pollAgain) {
      pollAgain = false;
      poll();
      return;
    }
    pollTimer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : FAST_POLL_MS);
  }

  /** The page holds a connection of its own, so the focuser stays connected while it is open even
   * when another client disconnects; after a server restart forgot it, it connects again. */
  async function keepOwnConnection() {
    if (Date.now() - view.reconnectedAt < RECONNECT_MS) return;
    if (await Alpaca.call("GET", "connected")) return;
    view.reconnectedAt = Date.now();
    await Alpaca.call("PUT", "connect");
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopJog();
    else poll();
  });

  // ------------------------------------------------------------------ rendering

  function setText(id, text) {
    const element = $(id);
    if (element.textContent !== text) element.textContent = text;
  }

  function render() {
    const info = view.info;
    const connected = Boolean(info && info.connected);
    const calibrated = Boolean(info && info.calibrated);
    const calibration = view.calibration;
    const calibrating = Boolean(connected && calibration && calibration.running);
    if (!view.moving) view.halting = false;
    if (!view.moving && !jogging()) view.target = null;

    if (info && info.name) {
      setText("title", info.name);
      if (document.title !== `${info.name}: control`) document.title = `${info.name}: control`;
    }
    let status = "idle";
    let kind = "idle";
    if (!view.reachable) [status, kind] = ["server unreachable", "lost"];
    else if (!info) [status, kind] = ["starting…", ""];
    else if (!connected) [status, kind] = ["not connected", "off"];
    else if (info.activity === "link lost" || (info.link && !info.link.ok)) [status, kind] = ["link lost", "lost"];
    else if (info.activity === "connecting") [status, kind] = ["connecting", "moving"];
    else if (calibrating) [status, kind] = ["calibrating", "moving"];
    else if (view.halting || (view.moving && info.activity === "stopping")) [status, kind] = ["halting", "moving"];
    else if (view.moving) [status, kind] = [jogging() ? "jogging" : "moving", "moving"];
    const pill = $("status");
    setText("status", status);
    pill.className = `pill ${kind}`;

    const banner = $("banner");
    if (!view.reachable) {
      banner.hidden = false;
      setText("banner-text", "The server cannot be reached (network or server down). Retrying…");
      $("connect").hidden = true;
    } else if (info && !connected) {
      banner.hidden = false;
      const reason = info.link && info.link.last_error ? `: ${info.link.last_error}` : ".";
      setText("banner-text", `The focuser is not connected${reason}`);
      $("connect").hidden = false;
    } else {
      banner.hidden = true;
    }

    const maxStep = connected && calibrated ? info.max_step : null;
    if (view.position === null || !connected) setText("position", "unknown");
    else setText("position", calibrated ? String(view.position) : `${view.position} (not calibrated)`);
    setText("max-label", maxStep === null ? (connected ? "MaxStep unknown (not calibrated)" : "MaxStep unknown") : `MaxStep ${maxStep}`);
    const fill = $("fill");
    const mark = $("target-mark");
    if (maxStep && view.position !== null) {
      fill.style.width = `${Math.max(0, Math.min(100, (100 * view.position) / maxStep))}%`;
    } else {
      fill.style.width = "0";
    }
    if (maxStep && view.target !== null) {
      mark.hidden = false;
      mark.style.left = `${Math.max(0, Math.min(100, (100 * view.target) / maxStep))}%`;
      setText("target-label", `target ${view.target}`);
    } else {
      mark.hidden = true;
      setText("target-label", "");
    }
    if (maxStep !== null) $("goto").max = String(maxStep);

    renderInfo(info, connected, calibrated);
    renderCalibration(connected, calibrated, calibration, calibrating);
  }

  function renderInfo(info, connected, calibrated) {
    if (!info) return;
    setText("info-connection", connected ? "connected" : "not connected");
    setText("info-firmware", info.firmware || "unknown (not read yet)");
    setText("info-calibrated", connected ? (calibrated ? "yes" : "no") : "unknown");
    setText("info-limits", connected && calibrated
      ? `device counts ${info.raw_limits.low} to ${info.raw_limits.high}; MaxStep ${info.max_step}`
      : "unknown until the focuser is calibrated");
    setText("info-port", info.port || "unknown");
    const link = info.link || {};
    const reconnects = typeof link.reconnects === "number" ? `, ${link.reconnects} reconnect${link.reconnects === 1 ? "" : "s"}` : "";
    setText("info-link", `${link.ok ? "answering" : "not answering"}${reconnects}`);
    setText("info-error", link.last_error || "none");
  }

  function renderCalibration(connected, calibrated, calibration, calibrating) {
    if (!connected || !calibration) {
      setText("cal-summary", "unknown (the focuser is not connected)");
    } else if (calibrating) {
      setText("cal-summary", "Calibrating…");
    } else if (calibrated) {
      setText("cal-summary", "Calibrated. Calibrate again only after refitting the motor.");
    } else {
      setText("cal-summary", "Not calibrated: the focuser refuses to move until it is calibrated. Follow these steps.");
    }
    $("cal-setup").hidden = calibrating;
    if (connected && calibration && calibrated !== view.knownCalibrated) {
      view.knownCalibrated = calibrated; // fold the steps away once calibrated, open them when it is not
      $("cal-setup").open = !calibrated;
    }
    $("cal-progress").hidden = !calibrating;
    $("cal-start").disabled = !(connected && !calibrating && !view.moving && $("cal-fitted").checked && $("cal-middle").checked);
    if (calibrating) {
      $("cal-bar").value = Math.min(12, calibration.state);
      setText("cal-state", `Running: the focuser is at stage ${calibration.state} of about 12, travelling to its ends.`);
      setText("cal-elapsed", `${Math.round(calibration.elapsed_s)} s elapsed; it usually takes a few minutes.`);
      setText("cal-result", "");
      view.wasCalibrating = true;
    } else if (view.wasCalibrating && calibration) {
      view.wasCalibrating = false;
      finishCalibration(calibration);
    }
  }

  async function finishCalibration(calibration) {
    const result = $("cal-result");
    result.replaceChildren();
    const line = document.createElement("p");
    if (calibration.calibrated) {
      view.info = await Alpaca.action("FocuserInfo").catch(() => view.info);
      const info = view.info;
      line.className = "good";
      line.textContent = `Calibration complete in ${Math.round(calibration.elapsed_s)} s. New limits: device counts `
        + `${info.raw_limits.low} to ${info.raw_limits.high}, so Position runs from 0 to MaxStep ${info.max_step}.`;
      result.append(line);
      render();
      return;
    }
    line.className = "bad";
    if (view.aborted) {
      line.textContent = "Calibration aborted, so the focuser is not calibrated. Start it again when ready.";
    } else {
      line.textContent = `${calibration.message || "The calibration did not complete."} The focuser is not calibrated.`;
    }
    result.append(line);
    if (!view.aborted) {
      const advice = document.createElement("p");
      advice.className = "note";
      advice.textContent = CHECKS;
      result.append(advice);
    }
    view.aborted = false;
  }

  // ------------------------------------------------------------------ commands

  /** The whole number typed in a field; an error naming ``what`` when it is empty or not whole. */
  function wholeNumber(id, what) {
    const text = $(id).value.trim();
    if (!/^[+-]?\d+$/.test(text)) throw new Error(`Give ${what} as a whole number${text ? `, not "${text}"` : ""}.`);
    return Number(text);
  }

  async function run(errorId, work) {
    Alpaca.showError(errorId, null);
    try {
      return await work();
    } catch (error) {
      Alpaca.showError(errorId, error);
      return undefined;
    } finally {
      poll();
    }
  }

  async function halt() {
    stopJog(false);
    view.halting = true;
    render();
    await run("move-error", () => Alpaca.call("PUT", "halt"));
  }

  $("halt").addEventListener("click", halt);
  $("connect").addEventListener("click", () => run("move-error", () => Alpaca.call("PUT", "connect")));

  $("goto-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run("move-error", async () => {
      const position = wholeNumber("goto", "the position to go to");
      await Alpaca.call("PUT", "move", { Position: String(position) });
      const maxStep = view.info && view.info.calibrated ? view.info.max_step : position;
      view.target = Math.min(position, maxStep);
    });
  });

  for (const button of document.querySelectorAll(".choices button")) {
    button.addEventListener("click", () => {
      $("steps").value = button.dataset.steps;
      for (const other of document.querySelectorAll(".choices button")) other.setAttribute("aria-pressed", String(other === button));
    });
  }
  $("steps").addEventListener("input", () => {
    for (const other of document.querySelectorAll(".choices button")) other.setAttribute("aria-pressed", String(other.dataset.steps === $("steps").value));
  });

  function moveBy(sign) {
    run("move-error", async () => {
      const steps = wholeNumber("steps", "the number of steps");
      if (steps <= 0) throw new Error("Give the number of steps above 0; In and Out choose the direction.");
      const answer = await Alpaca.action("MoveRelative", { steps: sign * steps });
      view.target = answer.target;
    });
  }
  $("move-in").addEventListener("click", () => moveBy(-1));
  $("move-out").addEventListener("click", () => moveBy(1));

  // ------------------------------------------------------------------ jog (dead-man)

  let jog = null; // {rate, source, timer, errorId}
  let jogQueue = Promise.resolve(); // Jog requests in order, so a quick release never overtakes its start
  let renewing = false;

  function jogging() {
    return jog !== null;
  }

  function sendJog(rate, errorId, keepalive = false) {
    jogQueue = jogQueue.then(() => Alpaca.action("Jog", rate, { keepalive })).then(
      () => { if (rate !== 0) Alpaca.showError(errorId, null); }, // a release keeps the reason a jog was refused
      (error) => {
        const uncalibrated = errorId === "cal-error" && error.number === 0x40b && view.info && !view.info.calibrated;
        Alpaca.showError(errorId, uncalibrated ? new Error(UNCALIBRATED_JOG) : error);
        if (rate !== 0 && error instanceof Alpaca.ServerError) stopJog(false);
      },
    );
    return jogQueue;
  }

  function startJog(direction, source, errorId) {
    if (jog && jog.source === source) return;
    stopJog(false);
    const rate = direction * Number($("jog-rate").value);
    jog = { rate, source, errorId, timer: setInterval(renewJog, JOG_RENEW_MS) };
    if (source instanceof HTMLElement) source.classList.add("active");
    view.target = null;
    sendJog(rate, errorId);
    render();
  }

  function renewJog() {
    if (!jog || renewing) return;
    renewing = true;
    sendJog(jog.rate, jog.errorId).finally(() => { renewing = false; });
  }

  function stopJog(send = true) {
    if (!jog) return;
    const { timer, source, errorId } = jog;
    clearInterval(timer);
    if (source instanceof HTMLElement) source.classList.remove("active");
    jog = null;
    if (send) sendJog(0, errorId, true);
  }

  function holdButton(button, errorId) {
    const direction = Number(button.dataset.direction);
    button.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      button.setPointerCapture(event.pointerId);
      startJog(direction, button, errorId);
    });
    for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(name, () => { if (jog && jog.source === button) stopJog(); });
    }
    button.addEventListener("contextmenu", (event) => event.preventDefault());
    button.addEventListener("keydown", (event) => {
      if ((event.key === " " || event.key === "Enter") && !event.repeat) {
        event.preventDefault();
        startJog(direction, button, errorId);
      }
    });
    button.addEventListener("keyup", (event) => {
      if (event.key === " " || event.key === "Enter") stopJog();
    });
  }
  holdButton($("jog-in"), "jog-error");
  holdButton($("jog-out"), "jog-error");
  holdButton($("cal-jog-in"), "cal-error");
  holdButton($("cal-jog-out"), "cal-error");

  const ARROWS = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 };
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      halt();
      return;
    }
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
    if (event.key in ARROWS && !typing) {
      event.preventDefault();
      if (!event.repeat) startJog(ARROWS[event.key], `key:${event.key}`, "jog-error");
    }
  });
  document.addEventListener("keyup", (event) => {
    if (jog && jog.source === `key:${event.key}`) stopJog();
  });
  window.addEventListener("blur", () => stopJog());
  window.addEventListener("pagehide", () => stopJog());

  // ------------------------------------------------------------------ presets

  async function loadPresets() {
    try {
      renderPresets(await Alpaca.action("Presets"));
    } catch (error) {
      Alpaca.showError("preset-error", error);
    }
  }

  function renderPresets(presets) {
    const list = $("preset-list");
    list.replaceChildren();
    if (!presets.length) {
      const empty = document.createElement("li");
      empty.className = "note";
      empty.textContent = "No presets yet: move to a good focus, give it a name and save it.";
      list.append(empty);
    }
    for (const preset of presets) {
      const item = document.createElement("li");
      item.dataset.slot = String(preset.slot);
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = `${preset.slot}. ${preset.name} at ${preset.position}`;
      const go = button("Go", () => presetAction(async () => {
        const answer = await Alpaca.action("GotoPreset", { slot: preset.slot });
        view.target = answer.position;
      }));
      const rename = button("Rename", () => startRename(item, label, preset));
      const remove = button("Delete", () => {
        if (remove.dataset.armed !== "1") {
          remove.dataset.armed = "1";
          remove.textContent = "Really delete?";
          return;
        }
        presetAction(() => Alpaca.action("DeletePreset", { slot: preset.slot }));
      });
      go.className = "preset-go";
      rename.className = "preset-rename";
      remove.className = "preset-delete";
      item.append(label, go, rename, remove);
      list.append(item);
    }
  }

  function button(text, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.addEventListener("click", onClick);
    return element;
  }

  function startRename(item, label, preset) {
    const form = document.createElement("form");
    form.className = "row";
    const input = document.createElement("input");
    input.type = "text";
    input.maxLength = 200;
    input.required = true;
    input.value = preset.name;
    input.setAttribute("aria-label", `New name for preset ${preset.slot}`);
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = "Save name";
    form.append(input, save);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      presetAction(() => Alpaca.action("SavePreset", { slot: preset.slot, name: input.value, position: preset.position }));
    });
    item.replaceChildren(form);
    input.focus();
  }

  async function presetAction(work) {
    await run("preset-error", work);
    await loadPresets();
  }

  $("preset-form").addEventListener("submit", (event) => {
    event.preventDefault();
    presetAction(async () => {
      if (!$("preset-name").value.trim()) throw new Error("Give the preset a name.");
      const wanted = { name: $("preset-name").value };
      if ($("preset-slot").value.trim() !== "") wanted.slot = wholeNumber("preset-slot", "the slot");
      await Alpaca.action("SavePreset", wanted);
      $("preset-name").value = "";
      $("preset-slot").value = "";
    });
  });

  // ------------------------------------------------------------------ backlash and reverse

  async function loadBacklash() {
    try {
      const backlash = await Alpaca.action("GetBacklash");
      const reverse = await Alpaca.action("GetReverse");
      $("backlash-steps").value = String(backlash.steps);
      $("backlash-direction").value = backlash.direction;
      $("reverse").checked = reverse.reverse;
    } catch (error) {
      Alpaca.showError("backlash-error", error);
    }
  }

  $("backlash-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setText("backlash-saved", "");
    run("backlash-error", async () => {
      const steps = wholeNumber("backlash-steps", "the backlash steps");
      await Alpaca.action("SetBacklash", { steps, direction: $("backlash-direction").value });
      const reverse = $("reverse").checked;
      const now = await Alpaca.action("GetReverse");
      if (now.reverse !== reverse) await Alpaca.action("SetReverse", { reverse });
      setText("backlash-saved", "Saved.");
      await loadBacklash();
    });
  });

  // ------------------------------------------------------------------ calibration

  for (const id of ["cal-fitted", "cal-middle"]) $(id).addEventListener("change", render);
  $("cal-start").addEventListener("click", () => run("cal-error", async () => {
    setText("cal-result", "");
    view.calibration = await Alpaca.action("Calibrate");
    view.wasCalibrating = true;
  }));
  $("cal-abort").addEventListener("click", () => run("cal-error", async () => {
    view.aborted = true;
    view.calibration = await Alpaca.action("AbortCalibration");
  }));

  // ------------------------------------------------------------------ start

  async function linkTemperature() {
    const link = $("temperature-link");
    if (!link) return; // the temperature page is not installed
    try {
      const actions = await Alpaca.call("GET", "supportedactions");
      link.href = `/web/temperature.html?focuser=${number}`;
      link.hidden = !actions.includes("TemperatureStatus");
    } catch (error) {
      // the link stays hidden; the rest of the page reports the server's state
    }
  }

  linkTemperature();
  $("settings-link").href = `/setup/v1/focuser/${number}/setup`;
  Alpaca.call("PUT", "connect").catch((error) => Alpaca.showError("move-error", error));
  poll();
  loadPresets();
  loadBacklash();
})();
