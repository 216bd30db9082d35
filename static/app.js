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
    var t = ev.target.closest("[data-dialog-open],[data-dialog-close],[data-copy],[data-dismiss],[data-sidebar-toggle]");
    if (!t) return;
    if (t.hasAttribute("data-sidebar-toggle")) {
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

  document.addEventListener("DOMContentLoaded", function () { openDialogs(document); });
  document.addEventListener("htmx:afterSettle", function (ev) { openDialogs(ev.target); });
})();
