/* dspy-lsp mission control: draws each chart of the page's data with vega-embed, and shows a
   program version's prompt and diff when it is picked. Store text is only set as textContent. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("dashboard-data").textContent);

  function showVersion(id) {
    var version = data.versions[id];
    if (!version) return;
    document.getElementById("version-detail").hidden = false;
    document.getElementById("version-title").textContent =
      version.kind + " " + version.version + (version.parent ? " (parent " + version.parent + ")" : " (parent: the built-in program)");
    var problem = document.getElementById("version-problem");
    problem.hidden = !version.problem;
    problem.textContent = version.problem || "";
    document.getElementById("version-prompt").textContent = version.prompt || "(no prompt rendered)";
    document.getElementById("version-diff").textContent = version.diff || "(no diff rendered)";
    document.querySelectorAll("button[data-version]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-version") === id));
    });
  }

  function picked(value) {
    // A point selection's value lists the picked field's values: {version: ["..."]}.
    var versions = value && value.version;
    if (Array.isArray(versions)) return versions[0];
    return versions;
  }

  function draw(id) {
    var container = document.getElementById(id);
    var spec = data.charts[id];
    if (!container) return Promise.resolve();
    if (!spec) {
      container.classList.add("empty");
      container.textContent = "Nothing to draw yet.";
      return Promise.resolve();
    }
    return vegaEmbed(container, spec, { actions: false, renderer: "svg" })
      .then(function (result) {
        if (id === "version-timeline") {
          result.view.addSignalListener("pick", function (_name, value) {
            var version = picked(value);
            if (version) showVersion(version);
          });
        }
      })
      .catch(function (error) {
        container.textContent = "This chart could not be drawn: " + error.message;
        console.error(error);
      });
  }

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var selectIt = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      button.textContent = "selected: copy it";
    };
    // The clipboard needs a secure context (localhost is one; a file may not be).
    if (!navigator.clipboard) return selectIt();
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = "copied";
    }, selectIt);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      copy(button);
    });
  });

  document.querySelectorAll("button[data-version]").forEach(function (button) {
    button.addEventListener("click", function () {
      showVersion(button.getAttribute("data-version"));
    });
  });

  Promise.all(Object.keys(data.charts).map(draw)).then(function () {
    document.body.setAttribute("data-charts", "drawn");
  });
})();
