// Ancora portal: progressive enhancement only. Every page works without this file.
(function () {
  "use strict";
  // Copy buttons next to read-only secret fields (the API key shown once).
  document.querySelectorAll("input[readonly][data-testid=new-key]").forEach(function (input) {
    if (!navigator.clipboard) return;
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = "Copy";
    b.className = "button secondary";
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () { b.textContent = "Copied"; });
    });
    input.insertAdjacentElement("afterend", b);
  });
  // In-browser verification: when the Ancora JS SDK is loaded (window.AncoraVerifier), verify
  // the bundle on the verify page too and show its verdict beside the server's.
  var panel = document.getElementById("browser-verdict");
  var text = document.getElementById("bundle");
  if (panel && text && window.AncoraVerifier && typeof window.AncoraVerifier.verifyBundle === "function") {
    Promise.resolve(window.AncoraVerifier.verifyBundle(text.value)).then(function (report) {
      var p = document.createElement("p");
      p.className = "verdict " + report.verdict;
      p.textContent = "Verdict: " + report.verdict;
      panel.appendChild(p);
      panel.hidden = false;
    });
  }
})();
