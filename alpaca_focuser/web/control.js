// The control page: live state by polling, moves, jog with a dead-man renewal, presets, backlash and
// the guided calibration. Everything goes through the Alpaca API and the vendor Actions.
"use strict";

(() => {
  const FAST_POLL_MS = 250; // while the page is visible
  const HIDDEN_POLL_MS = 3000; // while the tab is hidden or the phone asleep
  const INFO_EVERY = 4; // FocuserInfo and CalibrationStatus every few polls (every poll while calibrating)
  const RECONNECT_MS = 5000; // how often, at most, the page checks that it still holds its own connection
  const CHECKS = "What to check: the motor's set screws on the focuser knob are tight and it does not slip; "
    + "the focuser was not near one end of its travel when calibration started (start from about the middle); "
    + "the focuser shaft turns freely over its whole travel (a loose retaining nut or a bent shaft makes the gears bind); "
    + "the motor's mounting plate does not rub on the telescope; the cables are firm and the mount has power. "
    + "Then start the calibration again.";

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
    reverse: undefined, // the server's Reverse when last read
    connectionCheckedAt: 0,
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
        followReverse(view.info);
        await keepOwnConnection();
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

  /** The page holds a connection of its own while it is open, so the focuser stays connected when
   * another client disconnects. When its lease lapsed (a phone asleep, a tab throttled in the
   * background) it connects again; when someone disconnected it (Disconnect, "Disconnect everyone")
   * it stays disconnected until the Connect button is pressed. */
  async function keepOwnConnection() {
    if (Date.now() - view.connectionCheckedAt < RECONNECT_MS) return;
    view.connectionCheckedAt = Date.now();
    const clients = await Alpaca.action("Clients");
    const mine = clients.find((client) => client.ClientID === Alpaca.clientId);
    if (!mine || (!mine.Connected && !mine.Disconnected)) await Alpaca.holdWhileOpen();
  }

  /** Presets and the Reverse box show positions and directions in the server's current terms: when
   * Reverse changes (from this page, the settings form or another client), both are read again. */
  function followReverse(info) {
    if (typeof info.reverse !== "boolean" || info.reverse === view.reverse) return;
    const changed = view.reverse !== undefined;
    view.reverse = info.reverse;
    if (changed) {
      Presets.reload();
      loadBacklash();
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      view.connectionCheckedAt = 0;
      poll();
    }
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
    if (!view.moving && !Jog.active()) view.target = null;

    $("sim-badge").hidden = !(info && info.simulated);
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
    else if (view.moving) [status, kind] = [Jog.active() ? "jogging" : "moving", "moving"];
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
      const reason = info.not_connected_reason || (info.link && info.link.last_error) || "";
      setText("banner-text", reason ? `The focuser is not connected. ${reason}` : "The focuser is not connected.");
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
    setText("info-share", shareText(info.share));
  }

  // Who uses the mount's port beside the focuser, when the server shares it (the share setting).
  function shareText(share) {
    if (!share) return "not shared";
    const user = share.mount_program ? `used by ${share.mount_program}` : "no mount program connected";
    const refused = share.refused ? `; ${share.refused} other program${share.refused === 1 ? "" : "s"} refused` : "";
    const line = share.line === "open" ? "" : `; the mount's port is ${share.line}`;
    const garbage = share.mount && share.mount.garbage_bytes ? `; ${share.mount.garbage_bytes} bytes of garbage dropped` : "";
    return `at ${share.where}: ${user}${refused}${garbage}${line}`;
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
    for (const id of ["cal-fitted", "cal-middle"]) $(id).checked = false; // confirmed again before the next run
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
    Jog.stop(false); // Halt stops the jog on the server
    view.halting = true;
    render();
    await run("move-error", () => Alpaca.call("PUT", "halt"));
  }

  $("halt").addEventListener("click", halt);
  $("connect").addEventListener("click", () => run("move-error", () => Alpaca.holdWhileOpen()));

  $("goto-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setText("move-note", "");
    run("move-error", async () => {
      const position = Alpaca.wholeNumber("goto", "the position to go to");
      await Alpaca.call("PUT", "move", { Position: String(position) });
      const maxStep = view.info && view.info.calibrated ? view.info.max_step : Math.max(position, 0);
      view.target = Math.max(0, Math.min(position, maxStep));
      if (view.target !== position) {
        setText("move-note", `${position} is outside 0 to ${maxStep}: clamped to ${view.target}.`);
      }
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
      const steps = Alpaca.wholeNumber("steps", "the number of steps");
      if (steps <= 0) throw new Error("Give the number of steps above 0; In and Out choose the direction.");
      const answer = await Alpaca.action("MoveRelative", { steps: sign * steps });
      view.target = answer.target;
    });
  }
  $("move-in").addEventListener("click", () => moveBy(-1));
  $("move-out").addEventListener("click", () => moveBy(1));

  // ------------------------------------------------------------------ jog and keys

  Jog.setUp({
    rate: () => Number($("jog-rate").value),
    started: () => { view.target = null; render(); },
  });
  for (const id of ["jog-in", "jog-out"]) Jog.holdButton($(id), "jog-error");
  for (const id of ["cal-jog-in", "cal-jog-out"]) Jog.holdButton($(id), "cal-error");
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      halt();
    }
  });

  // ------------------------------------------------------------------ backlash and reverse

  async function loadBacklash() {
    try {
      const backlash = await Alpaca.action("GetBacklash");
      const reverse = await Alpaca.action("GetReverse");
      $("backlash-steps").value = String(backlash.steps);
      $("backlash-direction").value = backlash.direction;
      $("reverse").checked = reverse.reverse;
      view.reverse = reverse.reverse; // what the page shows now
    } catch (error) {
      Alpaca.showError("backlash-error", error);
    }
  }

  $("backlash-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setText("backlash-saved", "");
    run("backlash-error", async () => {
      try {
        const steps = Alpaca.wholeNumber("backlash-steps", "the backlash steps");
        await Alpaca.action("SetBacklash", { steps, direction: $("backlash-direction").value });
        const reverse = $("reverse").checked;
        const now = await Alpaca.action("GetReverse");
        if (now.reverse !== reverse) await Alpaca.action("SetReverse", { reverse });
        setText("backlash-saved", "Saved.");
      } finally {
        await loadBacklash(); // what the server holds, also when it refused the change
        Presets.reload();
      }
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
  Alpaca.holdWhileOpen().catch((error) => Alpaca.showError("move-error", error));
  poll();
  Presets.setUp({ run, moved: (target) => { view.target = target; } });
  loadBacklash();
})();
