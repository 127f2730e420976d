// The call pages' bit of behaviour (loaded with `defer` by their templates; the CSP allows no inline script):
// action-item rows added from a <template>, copying the calendar link, printing the brief.
(function () {
  "use strict";

  let rowCount = 1000; // ids of added rows stay clear of the server-rendered ones (0, 1, …)

  document.addEventListener("click", function (event) {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const template = document.getElementById(add.dataset.addRow);
      const target = document.getElementById(add.dataset.rowsTarget);
      const html = template.innerHTML.replace(/__n__/g, String(rowCount++));
      target.insertAdjacentHTML("beforeend", html);
      const field = target.lastElementChild.querySelector("input, select");
      if (field) field.focus();
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) remove.closest("fieldset").remove();
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const input = document.getElementById(copy.dataset.copy);
      input.select();
      const done = function () {
        const note = document.querySelector("[data-copied]");
        if (note) note.hidden = false;
      };
      if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, done);
      else done();
    }
    if (event.target.closest("[data-print]")) window.print();
  });
})();
