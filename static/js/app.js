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
})();
