// Ticket transactions through the page's EIP-1193 wallet: buy, deposit (one permit signature,
// or approve + deposit), request and complete a withdrawal, a provider's claim, and the
// spending allowance of the API keys page. The server checks and builds every transaction;
// this script hands it to the wallet, follows it (pending -> confirmed, or the revert in
// words, which the server decodes), then asks for indexing and refreshes the figures.
(function () {
  "use strict";

  var RECEIPT_TIMEOUT_MS = 120000;
  var RELAY_TIMEOUT_MS = 120000;
  var USER_REJECTED = 4001;
  // Codes a wallet answers for a method it does not implement.
  var UNSUPPORTED_CODES = [4200, -32601, -32004];

  function csrfToken() {
    return document.body.dataset.csrfToken || "";
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  function say(scope, text, kind) {
    var el = scope.querySelector("[data-tx-status]");
    if (!el) return;
    el.textContent = text;
    el.className = "tx-status msg msg-" + (kind || "info");
    el.dataset.state = kind || "info";
  }

  function TxError(message) {
    this.message = message;
  }

  function walletMessage(err, fallback) {
    if (err instanceof TxError) return err.message;
    if (err && err.code === USER_REJECTED) return "You rejected the request in your wallet. Nothing was sent.";
    if (err && err.code === -32002) return "Your wallet already has a request from this site open: finish it there.";
    return (err && err.message) || fallback;
  }

  function ethereum() {
    var provider = window.ethereum;
    if (!provider || typeof provider.request !== "function") {
      throw new TxError("No wallet found. Install a browser wallet (for example MetaMask), then reload.");
    }
    return provider;
  }

  function rootOf(el) {
    return el.closest("[data-tickets]") || document.querySelector("[data-tickets]") || document.body;
  }

  async function account(root) {
    var provider = ethereum();
    var accounts = await provider.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new TxError("Your wallet shared no account.");
    var expected = parseInt(root.dataset.chainId, 10);
    if (expected) {
      var chainId = parseInt(await provider.request({ method: "eth_chainId" }), 16);
      if (chainId !== expected) {
        await provider.request({
          method: "wallet_switchEthereumChain",
          params: [{ chainId: "0x" + expected.toString(16) }],
        });
      }
    }
    var signedIn = document.body.dataset.address || root.dataset.address || "";
    if (signedIn && accounts[0].toLowerCase() !== signedIn.toLowerCase()) {
      throw new TxError(
        "Your wallet's account " + accounts[0] + " is not the one you signed in with (" + signedIn +
          "). Switch accounts in your wallet, or sign in again."
      );
    }
    return accounts[0];
  }

  async function post(url, data) {
    var body = data instanceof FormData ? data : new URLSearchParams(data || {});
    var response = await fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    return readAnswer(response);
  }

  async function getJson(url) {
    var response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return readAnswer(response);
  }

  async function readAnswer(response) {
    var payload = {};
    try {
      payload = await response.json();
    } catch (e) {
      payload = {}; // not the platform's JSON (a proxy's error page, a sign-in redirect)
    }
    if (!response.ok || response.redirected) {
      var detail = payload.detail || (response.redirected ? "Your session ended: sign in again." : "The server answered " + response.status + ".");
      var error = new TxError(detail);
      error.refusal = typeof payload.detail === "string" && payload.detail !== "";
      error.errors = payload.errors || {};
      throw error;
    }
    return payload;
  }

  async function receipt(txHash) {
    var deadline = Date.now() + RECEIPT_TIMEOUT_MS;
    while (Date.now() < deadline) {
      var found = await ethereum().request({ method: "eth_getTransactionReceipt", params: [txHash] });
      if (found) return found;
      await sleep(1000);
    }
    throw new TxError("Still not mined after two minutes: " + txHash + ". It may confirm later; the figures show it then.");
  }

  function reverted(found) {
    return found && (found.status === "0x0" || found.status === 0 || found.status === "0");
  }

  // Asks the server why `call` reverts, in words: {reverts, detail}.
  async function explain(root, call) {
    try {
      return await post(root.dataset.explainUrl, { to: call.to, data: call.data, value: call.value || "0x0" });
    } catch (e) {
      return { reverts: false, detail: "" };
    }
  }

  async function requestIndexing(root) {
    try {
      await post(root.dataset.syncUrl);
    } catch (e) {
      // the beat indexes within seconds anyway
    }
  }

  function refresh(root) {
    var target = root.dataset.refreshTarget && document.querySelector(root.dataset.refreshTarget);
    if (target && window.htmx && root.dataset.refreshUrl) {
      window.htmx.ajax("GET", root.dataset.refreshUrl, { target: target, swap: "innerHTML" });
    }
  }

  // Hands one server-built call to the wallet and follows it to a block. Throws a TxError
  // with the reason in words when the wallet refuses it or it reverts.
  async function sendAndConfirm(scope, root, call, from, what) {
    say(scope, "Confirm in your wallet: " + (call.description || what) + "…", "info");
    var txHash;
    try {
      txHash = await ethereum().request({
        method: "eth_sendTransaction",
        params: [{ from: from, to: call.to, data: call.data, value: call.value || "0x0" }],
      });
    } catch (err) {
      if (err && err.code === USER_REJECTED) throw err;
      var why = await explain(root, call);
      if (why.reverts) throw new TxError(what + " not sent: " + why.detail);
      throw new TxError(what + " not sent: " + walletMessage(err, "the wallet did not send it."));
    }
    say(scope, what + " pending: transaction " + txHash.slice(0, 12) + "… sent, waiting for a block.", "info");
    var found = await receipt(txHash);
    if (reverted(found)) {
      var reason = await explain(root, call);
      throw new TxError(what + " failed: the transaction reverted. " + (reason.detail || ""));
    }
    return txHash;
  }

  // The wallet's figures change at once; the deposit and what it holds back are the
  // platform's index of the escrow, which follows within seconds: refresh a few times.
  var REFRESH_AFTER_MS = [0, 1500, 4000, 9000];

  async function confirmed(scope, root, what) {
    say(scope, what + " confirmed.", "success");
    await requestIndexing(root);
    REFRESH_AFTER_MS.forEach(function (ms) {
      window.setTimeout(function () { refresh(root); }, ms);
    });
  }

  function formData(form, extra) {
    var data = new FormData(form);
    Object.keys(extra || {}).forEach(function (key) {
      data.set(key, extra[key]);
    });
    return data;
  }

  function unsupported(err) {
    if (!err || err.code === USER_REJECTED || err instanceof TxError) return false;
    if (UNSUPPORTED_CODES.indexOf(err.code) >= 0) return true;
    return /not (supported|implemented)|unsupported|does not exist/i.test(String(err.message || ""));
  }

  // --- The actions -----------------------------------------------------------------------

  async function simple(form, root, what) {
    var from = await account(root);
    say(form, "Checking against the chain…", "info");
    var prepared = await post(form.getAttribute("action"), new FormData(form));
    await sendAndConfirm(form, root, prepared.call, from, what);
    await confirmed(form, root, what);
  }

  async function deposit(form, root) {
    var from = await account(root);
    say(form, "Checking against the chain…", "info");
    var permit = await post(form.dataset.permitUrl, new FormData(form));
    var signature = null;
    try {
      say(form, "Sign the deposit permit in your wallet (no gas; one signature)…", "info");
      signature = await ethereum().request({
        method: "eth_signTypedData_v4",
        params: [from, JSON.stringify(permit.typedData)],
      });
    } catch (err) {
      if (!unsupported(err)) throw err;
    }
    if (signature) {
      var prepared = await post(form.getAttribute("action"), formData(form, {
        deadline: String(permit.deadline),
        signature: signature,
      }));
      await sendAndConfirm(form, root, prepared.call, from, "Deposit");
    } else {
      // The wallet signs no typed data: approve, then deposit (two transactions).
      var approval = await post(form.dataset.approveUrl, new FormData(form));
      await sendAndConfirm(form, root, approval.call, from, "Approval");
      var depositCall = await post(form.getAttribute("action"), new FormData(form));
      await sendAndConfirm(form, root, depositCall.call, from, "Deposit");
    }
    await confirmed(form, root, "Deposit");
  }

  async function button(el, root) {
    var scope = el.closest("form, section, [data-tickets]") || root;
    var what = el.dataset.what || "Transaction";
    var from = await account(root);
    say(scope, "Checking against the chain…", "info");
    var prepared = await post(el.dataset.url);
    await sendAndConfirm(scope, root, prepared.call, from, what);
    await confirmed(scope, root, what);
  }

  // --- Spending allowance (API keys page) ------------------------------------------------

  async function allowance(form) {
    var root = rootOf(form);
    var from = await account(root);
    say(form, "Preparing the allowance…", "info");
    var typed = await post(form.dataset.typedUrl, new FormData(form));
    say(form, "Sign the spending allowance in your wallet (no gas)…", "info");
    var signature = await ethereum().request({
      method: "eth_signTypedData_v4",
      params: [from, JSON.stringify(typed.typedData)],
    });
    say(form, "Sending your signed allowance…", "info");
    var sent = await post(form.dataset.submitUrl, {
      max_tickets: typed.maxTickets,
      valid_until: String(typed.validUntil),
      signature: signature,
    });
    say(form, sent.detail || "Pending.", "info");
    var deadline = Date.now() + RELAY_TIMEOUT_MS;
    var state = sent;
    while (state.status === "pending" && Date.now() < deadline) {
      await sleep(1000);
      try {
        state = await getJson(form.dataset.statusUrl + "?" + new URLSearchParams({ key: sent.key }));
      } catch (e) {
        // a hiccup: ask again
      }
    }
    if (state.status === "confirmed") {
      say(form, "Spending allowance confirmed.", "success");
      var figures = document.querySelector(form.dataset.figuresTarget || "#allowance-figures");
      if (figures && window.htmx) {
        window.htmx.ajax("GET", form.dataset.figuresUrl, { target: figures, swap: "innerHTML" });
      }
    } else if (state.status === "failed") {
      throw new TxError(state.detail);
    } else {
      throw new TxError("Still pending after two minutes; the allowance shows here once it is mined.");
    }
  }

  // --- Countdown to a withdrawal's time ---------------------------------------------------

  function duration(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = s % 60;
    if (h) return h + " h " + String(m).padStart(2, "0") + " min " + String(rest).padStart(2, "0") + " s";
    if (m) return m + " min " + String(rest).padStart(2, "0") + " s";
    return rest + " s";
  }

  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.dataset.deadline) {
        el.dataset.deadline = String(Date.now() + parseInt(el.dataset.secondsLeft || "0", 10) * 1000);
      }
      var left = (parseInt(el.dataset.deadline, 10) - Date.now()) / 1000;
      el.textContent = left > 0 ? duration(left) : "0 s (it can be completed now)";
    });
  }

  tick();
  window.setInterval(tick, 1000);

  // --- Wiring -----------------------------------------------------------------------------

  function run(scope, controls, work) {
    controls.forEach(function (c) { c.disabled = true; });
    work()
      .catch(function (err) {
        say(scope, walletMessage(err, "That did not work."), "error");
      })
      .finally(function () {
        controls.forEach(function (c) { c.disabled = false; });
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-tx-form], [data-allowance-form]");
    if (!form) return;
    event.preventDefault();
    var root = rootOf(form);
    var kind = form.dataset.txForm;
    var controls = Array.prototype.slice.call(form.querySelectorAll("button"));
    var work;
    if (form.hasAttribute("data-allowance-form")) {
      work = function () { return allowance(form); };
    } else if (kind === "deposit") {
      work = function () { return deposit(form, root); };
    } else {
      work = function () { return simple(form, root, form.dataset.what || "Transaction"); };
    }
    run(form, controls, work);
  });

  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-tx-button]");
    if (!el) return;
    event.preventDefault();
    var root = rootOf(el);
    var scope = el.closest("form, section, [data-tickets]") || root;
    run(scope, [el], function () { return button(el, root); });
  });
})();
