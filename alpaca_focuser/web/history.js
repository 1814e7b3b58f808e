// The move history card of the control page: the newest moves from the MoveHistory action, with why
// each was made (a client, a preset, temperature compensation, a jog, calibration, a hand
// controller), who asked, where it went and how it ended. Refreshed every few seconds.
"use strict";

(() => {
  const SHOWN = 20;
  const REFRESH_MS = 2000;
  const HIDDEN_REFRESH_MS = 15000;
  const WHY = { client: "client Move", preset: "preset", tempcomp: "temperature", jog: "jog", calibration: "calibration", external: "hand controller" };
  const $ = (id) => document.getElementById(id);

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function row(move) {
    const tr = document.createElement("tr");
    const started = new Date(move.started);
    const who = move.ClientID === 0 ? "server" : move.ClientID === Alpaca.clientId ? `${move.ClientID} (this page)` : String(move.ClientID);
    const took = move.seconds === null ? "" : `${move.seconds.toFixed(1)} s`;
    const celsius = move.temperature === null ? "" : `${move.temperature.toFixed(1)} °C`;
    const ended = move.ended === "running" ? "running…" : move.ended;
    tr.append(
      cell(started.toLocaleTimeString()), cell(WHY[move.reason] || move.reason), cell(who), cell(String(move.from)),
      cell(move.to === null ? "" : String(move.to)), cell(took), cell(celsius), cell(ended),
    );
    tr.dataset.reason = move.reason;
    tr.dataset.ended = move.ended;
    if (move.message) tr.title = move.message;
    return tr;
  }

  async function refresh() {
    try {
      const moves = await Alpaca.action("MoveHistory", { limit: SHOWN });
      $("history-body").replaceChildren(...moves.map(row));
      $("history-empty").hidden = moves.length > 0;
      Alpaca.showError("history-error", null);
    } catch (error) {
      Alpaca.showError("history-error", error);
    }
    setTimeout(refresh, document.hidden ? HIDDEN_REFRESH_MS : REFRESH_MS);
  }

  refresh();
})();
