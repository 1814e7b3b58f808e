// Who holds the focuser, on the settings page: every client the server knows (from the Clients
// action), and "Disconnect everyone", which ends every connection, stops any motion and releases
// the port (the DisconnectAll action), for the client that left without a word.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function ago(seconds) {
    if (seconds < 60) return `${Math.round(seconds)} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  async function refresh() {
    let clients;
    try {
      clients = await Alpaca.action("Clients");
    } catch (error) {
      Alpaca.showError("error-clients", error);
      return;
    }
    Alpaca.showError("error-clients", null);
    const rows = clients.map((client) => {
      const row = document.createElement("tr");
      const who = client.ClientID === Alpaca.clientId ? `${client.ClientID} (this page)` : String(client.ClientID);
      const state = client.Connected ? "connected" : client.Disconnected ? "disconnected" : "not connected";
      row.append(cell(who), cell(state), cell(ago(client.LastSeenS)), cell(client.Address || ""), cell(client.UserAgent || ""));
      return row;
    });
    $("clients-body").replaceChildren(...rows);
    const holding = clients.filter((client) => client.Connected).length;
    $("clients-summary").textContent = holding
      ? `${holding} client${holding === 1 ? "" : "s"} hold${holding === 1 ? "s" : ""} the focuser.`
      : "No client holds the focuser.";
  }

  $("disconnect-all").addEventListener("click", async () => {
    try {
      const result = await Alpaca.action("DisconnectAll");
      const count = result.Disconnected.length;
      $("clients-done").textContent = `Disconnected ${count} client${count === 1 ? "" : "s"}; the motor is stopped and the port released.`;
    } catch (error) {
      Alpaca.showError("error-clients", error);
    }
    refresh();
  });

  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 2000);
})();
