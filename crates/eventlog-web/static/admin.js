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
  // A row already shown (the page and the stream's catch-up may both hold it) is not added
  // twice; the table keeps at most MAX_LIVE_ROWS rows.
  var MAX_LIVE_ROWS = 1000;
  function setupLiveTail(box, tbody) {
    var source = null;
    function notice(text) {
      var row = tbody.insertRow(0);
      row.className = "live-notice";
      var cell = row.insertCell(0);
      cell.colSpan = 6;
      cell.textContent = text;
    }
    function start() {
      source = new EventSource(box.dataset.url);
      source.addEventListener("events", function (ev) {
        var tmp = document.createElement("tbody");
        tmp.innerHTML = ev.data;
        var rows = Array.prototype.slice.call(tmp.rows);
        for (var i = rows.length - 1; i >= 0; i--) {
          if (tbody.querySelector('tr[data-id="' + rows[i].dataset.id + '"]')) continue;
          rows[i].classList.add("new");
          tbody.insertBefore(rows[i], tbody.firstChild);
        }
        while (tbody.rows.length > MAX_LIVE_ROWS) tbody.deleteRow(tbody.rows.length - 1);
      });
      source.addEventListener("skipped", function (ev) {
        notice(ev.data + " new events were not shown here (the live tail fell behind); reload the page to see them.");
      });
      source.addEventListener("ended", function () {
        source.close();
        source = null;
        box.checked = false;
        notice("Live tail ended: the session is over. Log in again to resume.");
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
