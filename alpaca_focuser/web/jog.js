// Hold-to-jog with a dead-man renewal: while a jog button (or an arrow key) is held, the page sends
// the Jog action again every half second; on release it sends Jog 0. The server stops a jog that is
// not renewed within jog_timeout_s (2 s), so a page that closes, sleeps or loses the network
// cannot leave the motor running.
"use strict";

const Jog = (() => {
  const RENEW_MS = 500;
  const ARROWS = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 };
  let options = { rate: () => 6, started: () => {} };
  let jog = null; // {rate, source, timer, errorId}
  let queue = Promise.resolve(); // Jog requests in order, so a quick release never overtakes its start
  let renewing = false;

  function active() {
    return jog !== null;
  }

  function send(rate, errorId, keepalive = false) {
    queue = queue.then(() => Alpaca.action("Jog", rate, { keepalive })).then(
      () => { if (rate !== 0) Alpaca.showError(errorId, null); }, // a release keeps the reason a jog was refused
      (error) => {
        Alpaca.showError(errorId, error);
        if (rate !== 0 && error instanceof Alpaca.ServerError) stop(false);
      },
    );
    return queue;
  }

  function start(direction, source, errorId) {
    if (jog && jog.source === source) return;
    stop(false);
    const rate = direction * options.rate();
    jog = { rate, source, errorId, timer: setInterval(renew, RENEW_MS) };
    if (source instanceof HTMLElement) source.classList.add("active");
    send(rate, errorId);
    options.started();
  }

  function renew() {
    if (!jog || renewing) return;
    renewing = true;
    send(jog.rate, jog.errorId).finally(() => { renewing = false; });
  }

  /** End the jog; ``tell`` false when the server needs no Jog 0 (a Halt was sent, or it refused). */
  function stop(tell = true) {
    if (!jog) return;
    const { timer, source, errorId } = jog;
    clearInterval(timer);
    if (source instanceof HTMLElement) source.classList.remove("active");
    jog = null;
    if (tell) send(0, errorId, true);
  }

  /** Make ``button`` (with data-direction -1 or 1) jog while pressed by mouse, touch or keyboard. */
  function holdButton(button, errorId) {
    const direction = Number(button.dataset.direction);
    button.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      button.setPointerCapture(event.pointerId);
      start(direction, button, errorId);
    });
    for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(name, () => { if (jog && jog.source === button) stop(); });
    }
    button.addEventListener("contextmenu", (event) => event.preventDefault());
    button.addEventListener("keydown", (event) => {
      if ((event.key === " " || event.key === "Enter") && !event.repeat) {
        event.preventDefault();
        start(direction, button, errorId);
      }
    });
    button.addEventListener("keyup", (event) => {
      if (event.key === " " || event.key === "Enter") stop();
    });
  }

  /** ``rate()`` the chosen speed 1..9, ``started()`` after a jog begins. Also makes the arrow keys
   * jog while held. */
  function setUp(given) {
    options = given;
    document.addEventListener("keydown", (event) => {
      const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
      if (event.key in ARROWS && !typing) {
        event.preventDefault();
        if (!event.repeat) start(ARROWS[event.key], `key:${event.key}`, "jog-error");
      }
    });
    document.addEventListener("keyup", (event) => {
      if (jog && jog.source === `key:${event.key}`) stop();
    });
    window.addEventListener("blur", () => stop());
    window.addEventListener("pagehide", () => stop());
    document.addEventListener("visibilitychange", () => { if (document.hidden) stop(); });
  }

  return { setUp, holdButton, stop, active };
})();
