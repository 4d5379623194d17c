// eventlog admin: the few behaviours that need a browser. Pages work without this file.
(function () {
  "use strict";

  // Hovering a row highlights every row of the same group.
  function rowsOfGroup(tbody, group) {
    return Array.prototype.filter.call(tbody.rows, function (r) { return r.dataset.group === group; });
  }
  function setupHover(tbody) {
    tbody.addEventListener("mouseover", function (ev) {
      var row = ev.target.closest("tr[data-group]");
      if (!row || row.classList.contains("hl")) return;
      Array.prototype.forEach.call(tbody.querySelectorAll("tr.hl"), function (r) { r.classList.remove("hl"); });
      rowsOfGroup(tbody, row.dataset.group).forEach(function (r) { r.classList.add("hl"); });
    });
    tbody.addEventListener("mouseleave", function () {
      Array.prototype.forEach.call(tbody.querySelectorAll("tr.hl"), function (r) { r.classList.remove("hl"); });
    });
  }

  // Live tail: new rows (rendered and escaped by the server) arrive over server-sent events.
  function setupLiveTail(box, tbody) {
    var source = null;
    function start() {
      source = new EventSource(box.dataset.url);
      source.addEventListener("events", function (ev) {
        var tmp = document.createElement("tbody");
        tmp.innerHTML = ev.data;
        var rows = Array.prototype.slice.call(tmp.rows);
        for (var i = rows.length - 1; i >= 0; i--) {
          rows[i].classList.add("new");
          tbody.insertBefore(rows[i], tbody.firstChild);
        }
      });
    }
    box.addEventListener("change", function () {
      if (box.checked) { start(); } else if (source) { source.close(); source = null; }
    });
    if (box.checked) start();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tbody = document.getElementById("event-rows");
    if (tbody) setupHover(tbody);
    var live = document.getElementById("live-tail");
    if (live && tbody) setupLiveTail(live, tbody);
  });
})();
