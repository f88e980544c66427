// The queue: Enter opens the most urgent acta (unless typing in a filter).
(function () {
  "use strict";
  const start = document.getElementById("start");
  document.addEventListener("keydown", function (e) {
    const tag = (e.target && e.target.tagName) || "";
    if (e.key === "Enter" && start && tag !== "INPUT" && tag !== "SELECT" && tag !== "BUTTON") {
      e.preventDefault();
      window.location.href = start.getAttribute("href");
    }
  });
})();
