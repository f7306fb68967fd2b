// Filters of the mmapcheck report page: rows carry data-verdicts, data-document and
// data-layers; a row shows when it passes every filter, and while a filter is set a
// section whose rows are all hidden hides too.  Plain DOM, no library, nothing loaded.
(function () {
  "use strict";
  var byId = function (id) { return document.getElementById(id); };
  var controls = ["f-verdict", "f-document", "f-layer", "f-text"].map(byId);
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.entry"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.entries"));
  var count = byId("f-count");

  function words(row, name) { return (row.getAttribute(name) || "").split(" "); }

  function apply() {
    var verdict = controls[0].value, doc = controls[1].value, layer = controls[2].value;
    var text = controls[3].value.trim().toLowerCase();
    var active = Boolean(verdict || doc || layer || text);
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!verdict || words(row, "data-verdicts").indexOf(verdict) >= 0) &&
               (!doc || row.getAttribute("data-document") === doc) &&
               (!layer || words(row, "data-layers").indexOf(layer) >= 0) &&
               (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    groups.forEach(function (group) {
      group.hidden = active && !group.querySelector("tr.entry:not([hidden])");
    });
    count.textContent = shown + " of " + rows.length + " entries shown";
  }

  controls.forEach(function (control) {
    control.addEventListener("input", apply);
    control.addEventListener("change", apply);
  });
  apply();
})();
