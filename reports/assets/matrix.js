// Filter of the mmapcheck matrix page: with the box ticked, only rows whose
// platforms disagree stay visible.  Plain DOM, nothing loaded from anywhere.
(function () {
  "use strict";
  var box = document.getElementById("f-differs");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.entry"));
  var count = document.getElementById("f-count");
  function apply() {
    var shown = 0;
    rows.forEach(function (row) {
      row.hidden = box.checked && !row.classList.contains("differs");
      if (!row.hidden) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " entries shown";
  }
  box.addEventListener("change", apply);
  apply();
})();
