// The temperature page: the focus log as points (position against temperature), the robust fit as a
// line, and the coefficient to apply. It is an ordinary Alpaca client of the server's temperature
// Actions. The focuser is chosen by ?focuser=N in the address (0 when left out).
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 640, HEIGHT = 320, MARGIN = { left: 64, right: 16, top: 14, bottom: 36 };
  const REFRESH_MS = 10000;
  const focuser = Number(new URLSearchParams(window.location.search).get("focuser") || 0);
  const clientId = 1 + Math.floor(Math.random() * 2147483646);
  let transaction = 0;
  let lastFit = null;

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
      const dot = svg("circle", { class: outliers.has(point.id) ? "point outlier" : "point", cx: x(point.celsius), cy: y(point.position), r: 4, "data-id": point.id });
      dot.append(svg("title", {}, `#${point.id} ${point.time}: ${point.celsius} °C, position ${point.position}${outliers.has(point.id) ? " (outlier)" : ""}`));
      plot.append(dot);
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
      const cells = [box, `${point.id}`, point.time, point.celsius.toFixed(2), String(point.position)];
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

  async function refresh() {
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
  call("GET", "name").then((name) => { $("title").textContent = `${name}: temperature`; }).catch(() => {});
  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
