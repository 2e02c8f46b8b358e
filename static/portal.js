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

  // In-browser verification with the Ancora JS SDK (@ancora/verify, served as an ES module):
  // on the verify page and on an event page with a proof, this browser verifies the bundle
  // itself and shows its verdict beside the server's, so nobody has to take the server's word.
  //
  // What the page may expose (all optional), on any element:
  //   data-bundle-url        where to fetch the bundle (event page; default: its download link)
  //   data-log-key           the log's verifier key (default: GET /v1/log/key)
  //   data-chainweb-headers  a JSON array of trusted Chainweb block headers
  //   data-chainweb-nodes    Chainweb node URLs, separated by spaces
  var SDK_URL = "/static/ancora-verify.js";

  function attr(name) {
    var el = document.querySelector("[" + name + "]");
    return el ? el.getAttribute(name) : null;
  }

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(url + " answered HTTP " + r.status);
      return r.text();
    });
  }

  function trust() {
    var opts = {};
    var headers = attr("data-chainweb-headers");
    if (headers) {
      try { opts.chainwebHeaders = JSON.parse(headers); } catch (e) { /* ignored: not JSON */ }
    }
    var nodes = attr("data-chainweb-nodes");
    if (nodes) opts.chainwebNodes = nodes.split(/\s+/).filter(Boolean);
    var key = attr("data-log-key");
    var keyPromise = key !== null ? Promise.resolve(key) : fetchText("/v1/log/key").catch(function () { return ""; });
    return keyPromise.then(function (k) {
      k = (k || "").trim();
      opts.logKeys = k ? [k] : [];
      return opts;
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Draws the browser's report like the server's step list (partials/steps.html).
  function show(panel, report) {
    var p = el("p", "verdict " + report.verdict, "Your browser's verdict: " + report.verdict);
    p.setAttribute("data-testid", "browser-verdict");
    panel.appendChild(p);
    if (report.error) panel.appendChild(el("p", "error", report.error.message));
    if (report.steps.length) {
      var details = el("details");
      details.appendChild(el("summary", "", "Steps checked in your browser"));
      var ol = el("ol", "path");
      report.steps.forEach(function (s) {
        var li = el("li", "step " + s.status);
        var head = el("div", "step-head");
        head.appendChild(el("strong", "", s.step));
        head.appendChild(document.createTextNode(" "));
        head.appendChild(el("span", "badge " + s.status, s.status));
        li.appendChild(head);
        li.appendChild(el("p", "", s.detail));
        if (s.computed) li.appendChild(el("p", "mono small", "computed " + s.computed));
        if (s.expected) li.appendChild(el("p", "mono small", "expected " + s.expected));
        ol.appendChild(li);
      });
      details.appendChild(ol);
      panel.appendChild(details);
    }
    panel.hidden = false;
  }

  function showError(panel, err) {
    var p = el("p", "verdict failed", "Your browser could not verify this bundle.");
    p.setAttribute("data-testid", "browser-verdict");
    panel.appendChild(p);
    // The reason may hold a long URL: the mono style breaks it anywhere, never widening the page.
    panel.appendChild(el("p", "mono small", err && err.message ? err.message : String(err)));
    panel.hidden = false;
  }

  function verifyInBrowser(panel, bundleText) {
    Promise.all([import(SDK_URL), bundleText, trust()])
      .then(function (r) { return r[0].verifyBundle(r[1], r[2]); })
      .then(function (report) { show(panel, report); }, function (err) { showError(panel, err); });
  }

  // The verify page: the panel is there once the server has verified a bundle.
  var panel = document.getElementById("browser-verdict");
  var text = document.getElementById("bundle");
  if (panel && text && text.value.trim()) {
    verifyInBrowser(panel, Promise.resolve(text.value));
    return;
  }

  // The event page: a proof section with the server's verdict and the bundle's download link.
  var serverVerdict = document.querySelector("[data-testid=verdict]");
  var bundleUrl = attr("data-bundle-url");
  if (!bundleUrl) {
    var link = document.querySelector("a[download][href$='/bundle.json']");
    bundleUrl = link ? link.getAttribute("href") : null;
  }
  if (serverVerdict && bundleUrl) {
    var box = panel || el("div", "browser-verdict");
    box.id = "browser-verdict";
    if (!panel) {
      box.hidden = true;
      box.appendChild(el("h3", "", "Browser verdict"));
      box.appendChild(el("p", "muted", "Checked by the JavaScript verifier in this browser."));
      // After the server's step list when there is one, else after its verdict.
      var after = serverVerdict.nextElementSibling && serverVerdict.nextElementSibling.matches("ol.path")
        ? serverVerdict.nextElementSibling : serverVerdict;
      after.insertAdjacentElement("afterend", box);
    }
    verifyInBrowser(box, fetchText(bundleUrl));
  }
})();
