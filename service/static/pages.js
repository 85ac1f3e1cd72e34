// gradsheet's pages work without this script; with it, a typed number is checked as
// it is typed, and "Check" / "Show solution" answer in place, focus on the score.
(function () {
  "use strict";
  var DECIMAL = "[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?";
  var NUMBER = new RegExp("^\\s*" + DECIMAL + "\\s*(?:/\\s*" + DECIMAL + "\\s*)?$");

  function checkNumber(input) {
    var msg = document.getElementById(input.id + "-msg");
    var text = input.value.replace(/[\u2212\u2013]/g, "-");
    var bad = text.trim() !== "" && !NUMBER.test(text);
    if (bad) {
      input.setAttribute("aria-invalid", "true");
      if (msg) msg.textContent = "'" + text.trim() + "' is not a number such as -0.75, 3/4 or 1e-3";
    } else if (input.getAttribute("aria-invalid") === "true") {
      input.removeAttribute("aria-invalid");
      if (msg) msg.textContent = "";
    }
  }

  function wire(root) {
    root.querySelectorAll("input[data-number]").forEach(function (input) {
      input.addEventListener("change", function () { checkNumber(input); });
      input.addEventListener("blur", function () { checkNumber(input); });
    });
    root.querySelectorAll("form[data-inline]").forEach(function (form) {
      form.addEventListener("submit", function (event) { submitInPlace(form, event); });
    });
  }

  function submitInPlace(form, event) {
    if (!window.fetch || !window.DOMParser) return;
    event.preventDefault();
    var submitter = event.submitter;
    var body = new FormData(form);
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    var asked = submitter && submitter.name === "solution" ? "solution" : "check";
    var number = submitter ? submitter.value : "1";
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.querySelector("main");
        var main = document.querySelector("main");
        if (!fresh || !main) { form.submit(); return; }
        main.innerHTML = fresh.innerHTML;
        wire(main);
        var target = (asked === "solution" && document.getElementById("p" + number + "-solution"))
          || document.getElementById("p" + number + "-score")
          || main.querySelector("[role=alert]") || main;
        if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
        target.focus();
      })
      .catch(function () { form.submit(); });
  }

  wire(document);
}());
