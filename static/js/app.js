// Sendtex's only script besides htmx: tell the user when a request failed without a page to show.
(function () {
  "use strict";

  function showProblem(text) {
    var box = document.getElementById("flashes");
    if (!box) { return; }
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = text;
    box.replaceChildren(p);
  }

  document.addEventListener("htmx:responseError", function () {
    showProblem(document.documentElement.lang === "nl"
      ? "Er ging iets mis aan onze kant. Probeer het later opnieuw."
      : "Something went wrong on our side. Please try again later.");
  });
  document.addEventListener("htmx:sendError", function () {
    showProblem(document.documentElement.lang === "nl"
      ? "De server is niet bereikbaar. Controleer uw verbinding."
      : "The server cannot be reached. Check your connection.");
  });

  // Copy buttons (data-copy: the id of the field to copy) are hidden in the HTML: they need this script.
  function showCopyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { showCopyButtons(document); });
  document.addEventListener("htmx:load", function (event) { showCopyButtons(event.target); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    var field = button && document.getElementById(button.dataset.copy);
    if (!field) { return; }
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).catch(function () { document.execCommand("copy"); });
    } else {
      document.execCommand("copy");
    }
    button.textContent = button.dataset.copied;
  });
})();
