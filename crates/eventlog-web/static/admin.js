// eventlog admin: the few behaviours that need a browser. Pages work without this file.
(function () {
  "use strict";

  // Hovering a row, or moving the keyboard focus into it, highlights every row of its group.
  function rowsOfGroup(tbody, group) {
    return Array.prototype.filter.call(tbody.rows, function (r) { return r.dataset.group === group; });
  }
  function clearHighlight(tbody) {
    Array.prototype.forEach.call(tbody.querySelectorAll("tr.hl"), function (r) { r.classList.remove("hl"); });
  }
  function highlight(tbody, target) {
    var row = target.closest && target.closest("tr[data-group]");
    if (!row || row.classList.contains("hl")) return;
    clearHighlight(tbody);
    rowsOfGroup(tbody, row.dataset.group).forEach(function (r) { r.classList.add("hl"); });
  }
  function setupHighlight(tbody) {
    tbody.addEventListener("mouseover", function (ev) { highlight(tbody, ev.target); });
    tbody.addEventListener("focusin", function (ev) { highlight(tbody, ev.target); });
    tbody.addEventListener("mouseleave", function () { clearHighlight(tbody); });
    tbody.addEventListener("focusout", function (ev) {
      if (!ev.relatedTarget || !tbody.contains(ev.relatedTarget)) clearHighlight(tbody);
    });
  }

  // Times: the server writes them in UTC; the viewer may choose this browser's time zone
  // (remembered in localStorage).
  var TZ_KEY = "eventlog.timezone";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function formatTime(iso, zone) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return null;
    if (zone !== "local") {
      return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
        pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
    }
    var offset = -d.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    offset = Math.abs(offset);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
      " UTC" + sign + pad(Math.floor(offset / 60)) + ":" + pad(offset % 60);
  }
  function applyZone(root, zone) {
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (t) {
      var text = formatTime(t.getAttribute("datetime"), zone);
      if (!text) return;
      if (t.classList.contains("abs")) { t.textContent = text; return; }
      if (t.hasAttribute("title")) t.setAttribute("title", text);
      var hidden = t.querySelector(".vh");
      if (hidden) hidden.textContent = " (" + text + ")";
    });
  }
  function storedZone() {
    try { return window.localStorage.getItem(TZ_KEY) === "local" ? "local" : "utc"; } catch (e) { return "utc"; }
  }
  function setupZone() {
    var select = document.getElementById("tz-select");
    if (!select) return;
    select.value = storedZone();
    select.closest("label").hidden = false;
    if (select.value === "local") applyZone(document, "local");
    select.addEventListener("change", function () {
      try { window.localStorage.setItem(TZ_KEY, select.value); } catch (e) { /* private mode */ }
      applyZone(document, select.value);
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
        applyZone(tmp, storedZone());
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

  // On a phone the filters fold away unless one is in use (without this script they stay open).
  function foldFilters() {
    if (!window.matchMedia || !window.matchMedia("(max-width: 640px)").matches) return;
    Array.prototype.forEach.call(document.querySelectorAll("details.more"), function (d) {
      var used = d.querySelector("input:checked, input[type=datetime-local]:not([value='']), select[name=date] option:checked:not([value=''])");
      if (!used) d.open = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    foldFilters();
    setupZone();
    var tbody = document.getElementById("event-rows");
    if (tbody) setupHighlight(tbody);
    var live = document.getElementById("live-tail");
    if (live && tbody) setupLiveTail(live, tbody);
  });
})();
