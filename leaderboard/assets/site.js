/* Sortable, filterable tables for the harness's static site. No library; works from file://.
   Each column header holds a button: pressing it (click, Enter or Space) sorts the table by that column and sets
   aria-sort on that header only. Numbers sort highest first on the first press, text A to Z; a second press
   reverses. Missing values stay last. The filter box above a table hides the rows that do not contain its text. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function keyOf(cell, numeric) {
    if (!cell) return null;
    var raw = cell.getAttribute("data-sort");
    if (numeric) {
      var value = parseFloat(raw === null ? cell.textContent : raw);
      return isNaN(value) ? null : value;
    }
    return raw === null ? cell.textContent.trim() : raw;
  }

  function sortTable(table, index, direction) {
    var headers = table.tHead.rows[0].cells;
    var numeric = headers[index].getAttribute("data-type") === "number";
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (row, i) {
      return { row: row, key: keyOf(row.cells[index], numeric), i: i };
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) return (a.key === null) - (b.key === null) || a.i - b.i;
      var c = numeric ? a.key - b.key : collator.compare(a.key, b.key);
      return (direction === "descending" ? -c : c) || a.i - b.i;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (r) { fragment.appendChild(r.row); });
    body.appendChild(fragment);
    for (var i = 0; i < headers.length; i++) {
      if (i === index) headers[i].setAttribute("aria-sort", direction);
      else headers[i].removeAttribute("aria-sort");
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      var button = header.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var first = header.getAttribute("data-type") === "number" ? "descending" : "ascending";
        var now = header.getAttribute("aria-sort");
        sortTable(table, index, now === first ? (first === "ascending" ? "descending" : "ascending") : first);
      });
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    if (!table) return;
    var count = document.getElementById(table.id + "-count");
    var total = table.tBodies[0].rows.length;
    input.addEventListener("input", function () {
      var query = input.value.trim().toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var hit = !query || row.textContent.toLowerCase().indexOf(query) !== -1;
        row.hidden = !hit;
        if (hit) shown += 1;
      });
      if (count) count.textContent = query ? shown + " of " + total + " rows" : total + " rows";
    });
  });
})();
