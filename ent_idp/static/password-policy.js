// The password rules of ent_idp/passwords.py, checked as the user types. The server decides.
(function () {
  "use strict";
  var list = document.getElementById("politique-regles");
  if (!list) { return; }
  var password = document.getElementById(list.dataset.password || "password");
  var confirm = document.getElementById(list.dataset.confirm || "confirm");
  var toggle = document.getElementById(list.dataset.toggle || "afficher-mot-de-passe");
  var current = document.getElementById(list.dataset.current || "mdp-current");
  if (!password || !confirm) { return; }
  var minLength = parseInt(list.dataset.minLength, 10);
  var minEntropy = parseInt(list.dataset.minEntropy, 10);
  var personal = [];
  list.dataset.personal.split("|").forEach(function (item) {
    if (!item) { return; }
    personal.push(item);
    item.replace(/[- ]/g, ".").split(".").forEach(function (part) { if (part) { personal.push(part); } });
  });

  function length(value) { return Array.from(value.normalize("NFC")).length; }

  function entropy(value) {
    var pool = 0;
    if (/[a-z]/.test(value)) { pool += 26; }
    if (/[A-Z]/.test(value)) { pool += 26; }
    if (/[0-9]/.test(value)) { pool += 10; }
    if (/[ !-\/:-@\[-`{-~]/.test(value)) { pool += 33; }
    if (/[^ -~]/.test(value)) { pool += 100; }
    return pool ? length(value) * Math.log2(pool) : 0;
  }

  function broken(value) {
    var lowered = value.toLocaleLowerCase();
    return {
      too_short: length(value) < minLength,
      too_weak: entropy(value) < minEntropy,
      contains_personal: personal.some(function (w) {
        return w.length >= 3 && lowered.indexOf(w.toLocaleLowerCase()) !== -1;
      }),
      blank_edges: value !== value.trim(),
      mismatch: value === "" || value !== confirm.value
    };
  }

  function show(result) {
    Array.prototype.forEach.call(list.querySelectorAll("li[data-rule]"), function (item) {
      if (!(item.dataset.rule in result)) { return; }
      var ko = result[item.dataset.rule];
      item.classList.toggle("ok", !ko);
      item.classList.toggle("ko", ko);
    });
  }

  // The rules only the server knows (common passwords), from the server's own function.
  var pending = null;
  var asked = "";
  function askServer() {
    var value = password.value;
    if (!list.dataset.checkUrl || value === asked) { return; }
    asked = value;
    fetch(list.dataset.checkUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": list.dataset.csrf },
      body: JSON.stringify({ password: value, personal: list.dataset.personal.split("|") })
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (answer) {
      if (!answer || password.value !== value) { return; }
      var result = {};
      Array.prototype.forEach.call(list.querySelectorAll("li[data-rule]"), function (item) {
        if (item.dataset.rule !== "mismatch") {
          result[item.dataset.rule] = answer.broken.indexOf(item.dataset.rule) !== -1;
        }
      });
      show(result);
    }).catch(function () { /* the server checks again on submit */ });
  }

  function update() {
    var result = broken(password.value);
    if (password.value === "") { result.common = true; }
    show(result);
    clearTimeout(pending);
    pending = setTimeout(askServer, 300);
  }

  password.addEventListener("input", update);
  confirm.addEventListener("input", update);
  if (toggle) {
    toggle.addEventListener("change", function () {
      var type = toggle.checked ? "text" : "password";
      password.type = type;
      confirm.type = type;
      if (current) { current.type = type; }
    });
  }
})();
