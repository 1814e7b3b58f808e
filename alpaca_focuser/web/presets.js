// The presets card of the control page: list, save the current position under a name (and slot),
// go to, rename and delete, all through the preset Actions.
"use strict";

const Presets = (() => {
  const $ = (id) => document.getElementById(id);
  let options = { run: async (errorId, work) => work(), moved: () => {} };

  async function load() {
    try {
      show(await Alpaca.action("Presets"));
    } catch (error) {
      Alpaca.showError("preset-error", error);
    }
  }

  function button(text, className, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = text;
    element.addEventListener("click", onClick);
    return element;
  }

  function show(presets) {
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
      const go = button("Go", "preset-go", () => change(async () => {
        const answer = await Alpaca.action("GotoPreset", { slot: preset.slot });
        options.moved(answer.position);
      }));
      const rename = button("Rename", "preset-rename", () => startRename(item, preset));
      const remove = button("Delete", "preset-delete", () => {
        if (remove.dataset.armed !== "1") {
          remove.dataset.armed = "1";
          remove.textContent = "Really delete?";
          return;
        }
        change(() => Alpaca.action("DeletePreset", { slot: preset.slot }));
      });
      item.append(label, go, rename, remove);
      list.append(item);
    }
  }

  function startRename(item, preset) {
    const form = document.createElement("form");
    form.className = "row";
    const input = document.createElement("input");
    input.type = "text";
    input.maxLength = 200;
    input.value = preset.name;
    input.setAttribute("aria-label", `New name for preset ${preset.slot}`);
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = "Save name";
    form.append(input, save);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      change(() => Alpaca.action("SavePreset", { slot: preset.slot, name: input.value, position: preset.position }));
    });
    item.replaceChildren(form);
    input.focus();
  }

  async function change(work) {
    await options.run("preset-error", work);
    await load();
  }

  /** ``run(errorId, work)`` runs a command and shows its error; ``moved(target)`` after a Go. */
  function setUp(given) {
    options = given;
    $("preset-form").addEventListener("submit", (event) => {
      event.preventDefault();
      change(async () => {
        if (!$("preset-name").value.trim()) throw new Error("Give the preset a name.");
        const wanted = { name: $("preset-name").value };
        if ($("preset-slot").value.trim() !== "") wanted.slot = Alpaca.wholeNumber("preset-slot", "the slot");
        await Alpaca.action("SavePreset", wanted);
        $("preset-name").value = "";
        $("preset-slot").value = "";
      });
    });
    load();
  }

  return { setUp, reload: load };
})();
