// ClinikAPI dashboard behaviour. Everything works without this file; it only
// adds dialogs, copy buttons and small conveniences. No inline scripts: the
// Content-Security-Policy forbids them.
(function () {
  "use strict";

  // Marks that this file runs: the CSS folds the sidebar behind the menu
  // button only then.
  document.documentElement.classList.add("js");

  function openDialogs(root) {
    root.querySelectorAll("dialog[data-open]").forEach(function (d) {
      // A dialog may be rendered open (so it shows without JavaScript);
      // make it modal here.
      if (d.open && !d.matches(":modal")) d.close();
      if (!d.open) d.showModal();
    });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("[data-dialog-open],[data-dialog-close],[data-copy],[data-dismiss],[data-sidebar-toggle],[data-print]");
    if (!t) return;
    if (t.hasAttribute("data-print")) {
      ev.preventDefault();
      window.print();
    } else if (t.hasAttribute("data-sidebar-toggle")) {
      var side = document.getElementById(t.getAttribute("aria-controls"));
      if (side) {
        var open = side.classList.toggle("is-open");
        t.setAttribute("aria-expanded", open ? "true" : "false");
      }
    } else if (t.hasAttribute("data-dialog-open")) {
      var d = document.getElementById(t.getAttribute("data-dialog-open"));
      if (d) { ev.preventDefault(); d.showModal(); }
    } else if (t.hasAttribute("data-dialog-close")) {
      var dlg = t.closest("dialog");
      if (dlg) { ev.preventDefault(); dlg.close(); }
    } else if (t.hasAttribute("data-copy")) {
      ev.preventDefault();
      var src = document.getElementById(t.getAttribute("data-copy"));
      var text = src ? (src.value !== undefined && src.tagName === "INPUT" ? src.value : src.textContent) : "";
      navigator.clipboard.writeText(text.trim()).then(function () {
        var label = t.getAttribute("data-copied-label") || "Copied";
        var old = t.textContent;
        t.textContent = label;
        setTimeout(function () { t.textContent = old; }, 1600);
      });
    } else if (t.hasAttribute("data-dismiss")) {
      var box = t.closest("[data-dismissable]");
      if (box) box.remove();
    }
  });

  // Escape closes the organization switcher (a <details>) and gives the
  // focus back to its summary.
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") return;
    document.querySelectorAll("details[data-org-switcher][open]").forEach(function (d) {
      d.open = false;
      var s = d.querySelector("summary");
      if (s) s.focus();
    });
  });

  // Chart tooltips. Each bucket of a chart is a target (.chart-hit, a link
  // to the request log for its interval when it has one) carrying its
  // interval and values; hover, keyboard focus or a tap shows them. The
  // arrow keys move between a chart's buckets (one Tab stop per chart); a
  // first tap shows the tooltip, a second one follows the link.
  var lastPointer = "mouse";
  function hits(svg) { return Array.prototype.slice.call(svg.querySelectorAll(".chart-hit")); }
  function initCharts(root) {
    root.querySelectorAll("svg[data-chart]").forEach(function (svg) {
      hits(svg).forEach(function (h, i) {
        // The aria-label says it all; the <title> would add the browser's
        // own tooltip on top of this one.
        var t = h.querySelector("title");
        if (t) t.remove();
        h.setAttribute("tabindex", i === 0 ? "0" : "-1");
      });
    });
  }
  function hideTips(except) {
    document.querySelectorAll("[data-chart-tip]:not([hidden])").forEach(function (tip) {
      if (tip !== except) tip.hidden = true;
    });
    document.querySelectorAll(".chart-hit.is-active").forEach(function (h) {
      if (!except || h.closest("[data-chart-figure]").querySelector("[data-chart-tip]") !== except) h.classList.remove("is-active", "is-armed");
    });
  }
  function showTip(hit, how) {
    var fig = hit.closest("[data-chart-figure]");
    var tip = fig && fig.querySelector("[data-chart-tip]");
    if (!tip) return;
    hideTips(tip);
    fig.querySelectorAll(".chart-hit.is-active").forEach(function (h) { if (h !== hit) h.classList.remove("is-active", "is-armed"); });
    hit.classList.add("is-active");
    tip.textContent = "";
    var head = document.createElement("strong");
    head.textContent = hit.getAttribute("data-tip-head");
    tip.appendChild(head);
    (hit.getAttribute("data-tip") || "").split("\n").forEach(function (line) {
      var d = document.createElement("span");
      d.className = "block";
      d.textContent = line;
      tip.appendChild(d);
    });
    if (hit.hasAttribute("href")) {
      var more = document.createElement("span");
      more.className = "chart-tip-more";
      more.textContent = how === "touch" ? "Tap again to open these requests" : how === "key" ? "Enter opens these requests" : "Click to open these requests";
      tip.appendChild(more);
    }
    tip.hidden = false;
    var fr = fig.getBoundingClientRect(), hr = hit.getBoundingClientRect();
    var left = hr.left - fr.left + hr.width / 2 - tip.offsetWidth / 2;
    left = Math.max(0, Math.min(left, fr.width - tip.offsetWidth));
    tip.style.left = left + "px";
    tip.style.top = (hr.top - fr.top - tip.offsetHeight - 4) + "px";
  }
  document.addEventListener("pointerdown", function (ev) { lastPointer = ev.pointerType || "mouse"; }, true);
  document.addEventListener("mouseover", function (ev) {
    var h = ev.target.closest && ev.target.closest(".chart-hit");
    if (h && lastPointer === "mouse") showTip(h, "mouse");
  });
  document.addEventListener("mouseout", function (ev) {
    var h = ev.target.closest && ev.target.closest(".chart-hit");
    if (h && lastPointer === "mouse" && !(ev.relatedTarget && h.contains(ev.relatedTarget)) && h !== document.activeElement) hideTips();
  });
  document.addEventListener("focusin", function (ev) {
    var h = ev.target.closest && ev.target.closest(".chart-hit");
    if (h && lastPointer !== "touch") showTip(h, "key");
  });
  document.addEventListener("focusout", function (ev) {
    var h = ev.target.closest && ev.target.closest(".chart-hit");
    if (h && !h.classList.contains("is-armed")) hideTips();
  });
  document.addEventListener("click", function (ev) {
    var h = ev.target.closest && ev.target.closest(".chart-hit");
    if (!h) {
      if (lastPointer === "touch") hideTips();
      return;
    }
    if (lastPointer !== "touch") return;
    if (h.hasAttribute("href") && h.classList.contains("is-armed")) return; // second tap: follow
    ev.preventDefault();
    showTip(h, "touch");
    h.classList.add("is-armed");
  });
  document.addEventListener("keydown", function (ev) {
    var h = ev.target.closest && ev.target.closest(".chart-hit");
    if (!h) return;
    if (ev.key === "Escape") { hideTips(); return; }
    var all = hits(h.closest("svg")), i = all.indexOf(h), j = i;
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") j = Math.min(all.length - 1, i + 1);
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") j = Math.max(0, i - 1);
    else if (ev.key === "Home") j = 0;
    else if (ev.key === "End") j = all.length - 1;
    else if (ev.key === " " && !h.hasAttribute("href")) j = i;
    else return;
    ev.preventDefault();
    if (j === i) return;
    h.setAttribute("tabindex", "-1");
    all[j].setAttribute("tabindex", "0");
    all[j].focus();
  });
  // A polled region is not replaced while the keyboard focus or a tooltip
  // is inside it: the person would lose their place.
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var el = ev.detail && ev.detail.elt;
    if (!el || !el.hasAttribute("hx-trigger") || el.getAttribute("hx-trigger").indexOf("every") !== 0) return;
    if (el.contains(document.activeElement) || el.querySelector("[data-chart-tip]:not([hidden])")) ev.preventDefault();
  });

  // From or To typed in a filter form means a custom range.
  document.addEventListener("input", function (ev) {
    var t = ev.target;
    if (!t.form || (t.name !== "from" && t.name !== "to")) return;
    var r = t.form.querySelector("select[name=range]");
    if (r && r.querySelector("option[value=custom]")) r.value = "custom";
  });

  document.addEventListener("DOMContentLoaded", function () { openDialogs(document); initCharts(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { openDialogs(ev.target); initCharts(ev.target); });
})();
