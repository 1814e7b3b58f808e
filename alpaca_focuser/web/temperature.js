// The temperature page: the focus log as points (position against temperature), the robust fit as a
// line, and the coefficient to apply. It is an ordinary Alpaca client of the server's temperature
// Actions. The focuser is chosen by ?focuser=N in the address (0 when left out).
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const MARGIN = { left: 64, right: 16, top: 14, bottom: 36 };
  let WIDTH = 640, HEIGHT = 320; // the plot is drawn at its size on screen, so its labels keep their size on a phone
  const REFRESH_MS = 10000;
  const focuser = Number(new URLSearchParams(window.location.search).get("focuser") || 0);
  const clientId = 1 + Math.floor(Math.random() * 2147483646);
  let transaction = 0;
  let lastFit = null;
  let hasSensor = null; // whether the focuser has a temperature source, once asked

  const $ = (id) => document.getElementById(id);

  async function call(method, member, params = {}) {
    const fields = new URLSearchParams(params);
    fields.set("ClientID", String(clientId));
    fields.set("ClientTransactionID", String(++transaction));
    const url = `/api/v1/focuser/${focuser}/${member}`;
    const response = method === "GET"
      ? await fetch(`${url}?${fields}`, { cache: "no-store" })
      : await fetch(url, { method: "PUT", body: fields });
    const text = await response.text();
    if (!response.ok) throw new Error(text || `The server answered HTTP ${response.status}.`);
    const body = JSON.parse(text);
    if (body.ErrorNumber) throw new Error(body.ErrorMessage || `Alpaca error ${body.ErrorNumber}`);
    return body.Value;
  }

  async function action(name, parameters) {
    const value = await call("PUT", "action", { Action: name, Parameters: parameters === undefined ? "" : JSON.stringify(parameters) });
    return value ? JSON.parse(value) : null;
  }

  function say(text, good = false) {
    $("message").textContent = text;
    $("message").className = good ? "ok" : "";
  }

  function showStatus(status) {
    const source = status.temperature;
    const pill = $("source-status");
    pill.textContent = source.status;
    pill.className = "pill " + (source.status === "ok" ? "idle" : "lost");
    $("celsius").textContent = source.celsius === null ? "none" : `${source.celsius.toFixed(2)} °C`;
    $("source").textContent = `${source.source}: ${source.message}`;
    const comp = status.tempcomp;
    $("tempcomp").textContent = comp.available ? `${comp.on ? "on" : "off"} (${comp.state}), threshold ${comp.threshold_c} °C` : "unavailable: no coefficient yet";
    $("coefficient").textContent = comp.steps_per_c === null ? "none" : `${comp.steps_per_c} steps per °C`;
    const camera = comp.camera;
    $("camera-row").hidden = !camera;
    if (camera) {
      const now = camera.problem ? `cannot be read: ${camera.problem}` : camera.busy || (camera.read ? "between frames" : "not read yet");
      $("camera").textContent = `${camera.address}: ${now}`;
    }
  }

  function svg(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function range(values) {
    let low = Math.min(...values), high = Math.max(...values);
    if (low === high) { low -= 1; high += 1; }
    const pad = (high - low) * 0.08;
    return [low - pad, high + pad];
  }

  function drawPlot(points, fit) {
    const plot = $("plot");
    WIDTH = Math.max(300, Math.round(plot.clientWidth || 640));
    HEIGHT = Math.max(220, Math.round(WIDTH / 2));
    plot.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    plot.replaceChildren();
    const outliers = new Set(fit ? fit.outliers : []);
    if (!points.length) {
      plot.append(svg("text", { x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle", class: "label" }, "No points yet: they appear after autofocus runs."));
      return;
    }
    const [xLow, xHigh] = range(points.map((p) => p.celsius));
    const [yLow, yHigh] = range(points.map((p) => p.position));
    const x = (c) => MARGIN.left + (c - xLow) / (xHigh - xLow) * (WIDTH - MARGIN.left - MARGIN.right);
    const y = (p) => HEIGHT - MARGIN.bottom - (p - yLow) / (yHigh - yLow) * (HEIGHT - MARGIN.top - MARGIN.bottom);
    plot.append(
      svg("line", { class: "axis", x1: MARGIN.left, y1: HEIGHT - MARGIN.bottom, x2: WIDTH - MARGIN.right, y2: HEIGHT - MARGIN.bottom }),
      svg("line", { class: "axis", x1: MARGIN.left, y1: MARGIN.top, x2: MARGIN.left, y2: HEIGHT - MARGIN.bottom }),
      svg("text", { class: "label", x: MARGIN.left, y: HEIGHT - 8 }, `${xLow.toFixed(1)} °C`),
      svg("text", { class: "label", x: WIDTH - MARGIN.right, y: HEIGHT - 8, "text-anchor": "end" }, `${xHigh.toFixed(1)} °C`),
      svg("text", { class: "label", x: MARGIN.left - 6, y: HEIGHT - MARGIN.bottom, "text-anchor": "end" }, String(Math.round(yLow))),
      svg("text", { class: "label", x: MARGIN.left - 6, y: MARGIN.top + 10, "text-anchor": "end" }, String(Math.round(yHigh))),
    );
    if (fit && fit.steps_per_c !== null && fit.intercept !== null) {
      const line = (c) => fit.intercept + fit.steps_per_c * c;
      plot.append(svg("line", { class: "fit", x1: x(xLow), y1: y(line(xLow)), x2: x(xHigh), y2: y(line(xHigh)) }));
    }
    for (const point of points) {
      const outlier = outliers.has(point.id);
      const [cx, cy] = [x(point.celsius), y(point.position)];
      const dot = svg("circle", { class: outlier ? "point outlier" : "point", cx, cy, r: outlier ? 7 : 4, "data-id": point.id });
      dot.append(svg("title", {}, `#${point.id} ${point.time}: ${point.celsius} °C, position ${point.position}${outlier ? " (outlier)" : ""}`));
      plot.append(dot);
      if (outlier) { // a ring with a cross: told apart by its shape, also at night when every colour is red
        plot.append(svg("path", { class: "outlier-mark", d: `M${cx - 4} ${cy - 4}L${cx + 4} ${cy + 4}M${cx - 4} ${cy + 4}L${cx + 4} ${cy - 4}` }));
      }
    }
  }

  function showPoints(points, fit) {
    const outliers = new Set(fit ? fit.outliers : []);
    const rows = points.slice().reverse().map((point) => {
      const row = document.createElement("tr");
      if (outliers.has(point.id)) row.className = "outlier";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = String(point.id);
      box.setAttribute("aria-label", `Select point ${point.id}`);
      box.addEventListener("change", updateButtons);
      const cells = [box, `${point.id}`, point.time, point.celsius.toFixed(2), String(point.position), outliers.has(point.id) ? "outlier, set aside" : ""];
      for (const content of cells) {
        const cell = document.createElement("td");
        cell.append(content);
        row.append(cell);
      }
      return row;
    });
    $("points").tBodies[0].replaceChildren(...rows);
    updateButtons();
  }

  function selectedIds() {
    return [...document.querySelectorAll("#points tbody input:checked")].map((box) => Number(box.value));
  }

  function updateButtons() {
    $("drop").disabled = selectedIds().length === 0;
    $("apply").disabled = !(lastFit && lastFit.verdict === "ok");
  }

  function showFit(fit) {
    lastFit = fit;
    const message = $("fit-message");
    message.textContent = fit.message;
    message.className = fit.verdict === "ok" ? "ok" : "poor";
    $("apply").textContent = fit.steps_per_c === null ? "Apply this coefficient" : `Apply ${fit.steps_per_c} steps per °C`;
  }

  const NO_SENSOR = "No temperature sensor is configured for this focuser. To add one, set temperature in its [[focuser]] "
    + "table of the configuration file: \"w1\" (a DS18B20 1-wire sensor), \"file:/PATH\" (a file holding °C) or "
    + "\"alpaca://HOST:PORT/observingconditions/N\" (an Alpaca weather device), then restart the server. "
    + "The README's temperature section explains each.";

  function showNoSensor() {
    $("source-status").textContent = "no sensor";
    $("source-status").className = "pill off";
    $("celsius").textContent = "none";
    $("source").textContent = "no sensor configured";
    $("tempcomp").textContent = "unavailable without a sensor";
    say(NO_SENSOR);
    for (const id of ["apply", "drop", "clear"]) $(id).disabled = true;
    drawPlot([], null);
  }

  async function refresh() {
    if (hasSensor === null) {
      try {
        hasSensor = (await call("GET", "supportedactions")).includes("TemperatureStatus");
      } catch (error) {
        say(error.message);
        return;
      }
    }
    if (!hasSensor) {
      showNoSensor();
      return;
    }
    try {
      const [status, points, fit] = await Promise.all([action("TemperatureStatus"), action("TemperatureLog"), action("TemperatureFit")]);
      showStatus(status);
      showFit(fit);
      drawPlot(points, fit);
      showPoints(points, fit);
    } catch (error) {
      say(error.message);
    }
  }

  async function run(work, done) {
    try {
      const result = await work();
      say(done(result), true);
    } catch (error) {
      say(error.message);
    }
    await refresh();
  }

  $("apply").addEventListener("click", () => run(
    () => action("TemperatureApply"),
    (result) => `Using ${result.steps_per_c} steps per °C` + (result.saved ? ", saved in the configuration file." : " until the server restarts (no configuration file)."),
  ));
  $("drop").addEventListener("click", () => run(
    () => action("TemperatureDropPoints", selectedIds()),
    (result) => `Dropped point${result.dropped.length === 1 ? "" : "s"} ${result.dropped.join(", ")}.`,
  ));
  $("clear").addEventListener("click", () => {
    if (!window.confirm("Remove every point of the focus log? The fit starts again from nothing.")) return;
    run(() => action("TemperatureClearLog"), (result) => `Removed ${result.cleared} points.`);
  });

  $("back").href = `/control/v1/focuser/${focuser}/`;
  call("GET", "name").then((name) => { // the header keeps its one word, so it fits a phone
    $("focuser-name").textContent = name;
    document.title = `${name}: temperature`;
  }).catch(() => {});
  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
