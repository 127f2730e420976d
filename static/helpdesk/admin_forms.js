/* The managers' admin forms (helpdesk/widgets.py, escalation/admin_forms.py, slas/admin_forms.py).
 *
 * Everything here improves a form that already works without it: chips over a one-item-per-line textarea,
 * only the selected trigger's fields shown, an example filled in on request, a day of the week grid copied.
 * Wired by data- attributes and classes only (no inline script or handler: the Content-Security-Policy). */
(function () {
  "use strict";

  // --- chips: textarea[data-chips] holds the items, one per line; the chips are a view of it ---------------

  function items(textarea) {
    return textarea.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
  }

  function chips(textarea) {
    var box = document.createElement("div");
    box.className = "chips";
    var list = document.createElement("ul");
    list.className = "chips-list";
    var input = document.createElement("input");
    input.type = "text";
    input.className = "chips-input";
    input.placeholder = textarea.placeholder || "type, then Enter";
    var label = document.querySelector('label[for="' + textarea.id + '"]');
    input.setAttribute("aria-label", (label ? label.textContent.replace(/:$/, "") : "item") + ": add one");
    var suggestions = textarea.parentNode.querySelector("datalist[data-chips-suggestions]");
    if (suggestions) { input.setAttribute("list", suggestions.id); }

    function render() {
      list.textContent = "";
      items(textarea).forEach(function (item, index) {
        var chip = document.createElement("li");
        chip.className = "chip";
        chip.appendChild(document.createTextNode(item));
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "chip-remove";
        remove.textContent = "\u00d7";
        remove.setAttribute("aria-label", "Remove " + item);
        remove.addEventListener("click", function () {
          var kept = items(textarea);
          kept.splice(index, 1);
          textarea.value = kept.join("\n");
          render();
          input.focus();
        });
        chip.appendChild(remove);
        list.appendChild(chip);
      });
    }

    function add(text) {
      var fresh = text.split(/[\n,]/).map(function (s) { return s.trim(); }).filter(Boolean);
      if (!fresh.length) { return; }
      textarea.value = items(textarea).concat(fresh).join("\n");
      input.value = "";
      render();
    }

    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === ",") {
        event.preventDefault();
        add(input.value);
      } else if (event.key === "Backspace" && !input.value) {
        var kept = items(textarea);
        kept.pop();
        textarea.value = kept.join("\n");
        render();
      }
    });
    input.addEventListener("paste", function (event) {
      var text = (event.clipboardData || window.clipboardData).getData("text");
      if (/[\n,]/.test(text)) {
        event.preventDefault();
        add(text);
      }
    });
    // What is still typed when the form is saved counts too.
    if (textarea.form) {
      textarea.form.addEventListener("submit", function () { add(input.value); });
    }
    textarea.addEventListener("chips:refresh", render);

    box.appendChild(list);
    box.appendChild(input);
    textarea.hidden = true;
    textarea.parentNode.insertBefore(box, textarea.nextSibling);
    render();
  }

  // --- the selected trigger's fields only -----------------------------------------------------------------

  function triggerFieldsets(select) {
    var sets = document.querySelectorAll("fieldset.trigger-conditions");
    function show() {
      sets.forEach(function (set) {
        set.hidden = !set.classList.contains("trigger-" + select.value);
      });
    }
    select.addEventListener("change", show);
    show();
  }

  // --- "Use the example" ------------------------------------------------------------------------------------

  function fillExample(button) {
    button.addEventListener("click", function () {
      var values = JSON.parse(button.getAttribute("data-fill-example"));
      Object.keys(values).forEach(function (name) {
        var value = values[name];
        document.querySelectorAll('[name="' + name + '"]').forEach(function (field) {
          if (field.type === "checkbox") {
            field.checked = Array.isArray(value) ? value.indexOf(field.value) >= 0 : value === true;
          } else {
            field.value = Array.isArray(value) ? value.join("\n") : value;
            field.dispatchEvent(new Event("chips:refresh"));
          }
        });
      });
    });
  }

  // --- the week grid: copy Monday's hours to the other weekdays ----------------------------------------------

  function weekGrid(table) {
    var name = table.getAttribute("data-week-hours");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Copy Monday to Tuesday\u2013Friday";
    button.addEventListener("click", function () {
      ["tue", "wed", "thu", "fri"].forEach(function (day) {
        table.querySelectorAll('input[name^="' + name + '-mon-"]').forEach(function (source) {
          var target = table.querySelector('input[name="' + source.name.replace("-mon-", "-" + day + "-") + '"]');
          if (target) { target.value = source.value; }
        });
      });
    });
    var tools = document.createElement("div");
    tools.className = "week-hours-tools";
    tools.appendChild(button);
    table.parentNode.insertBefore(tools, table.nextSibling);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-chips]").forEach(chips);
    var trigger = document.querySelector("select#id_trigger");
    if (trigger) { triggerFieldsets(trigger); }
    document.querySelectorAll("button[data-fill-example]").forEach(fillExample);
    document.querySelectorAll("table[data-week-hours]").forEach(weekGrid);
  });
})();
