// Governance actions through the page's EIP-1193 wallet. The server validates and builds
// every transaction and ballot; this script only hands them to the wallet and reports.
(function () {
  "use strict";

  var RECEIPT_TIMEOUT_MS = 120000;

  function csrfToken() {
    return document.body.dataset.csrfToken || "";
  }

  function say(root, text, kind) {
    var el = root.querySelector("[data-tx-status]");
    if (!el) return;
    el.textContent = text;
    el.className = "tx-status msg msg-" + (kind || "info");
  }

  function walletMessage(err, fallback) {
    if (err && err.code === 4001) return "You rejected the request in your wallet.";
    if (err && err.code === 4902) return "Your wallet does not know this network yet.";
    return (err && err.message) || fallback;
  }

  function ethereum() {
    var provider = window.ethereum;
    if (!provider || typeof provider.request !== "function") {
      throw new Error("No wallet found. Install a browser wallet (for example MetaMask), then reload.");
    }
    return provider;
  }

  async function account(expectedChainId) {
    var provider = ethereum();
    var accounts = await provider.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error("Your wallet shared no account.");
    if (expectedChainId) {
      var chainId = parseInt(await provider.request({ method: "eth_chainId" }), 16);
      if (chainId !== expectedChainId) {
        await provider.request({
          method: "wallet_switchEthereumChain",
          params: [{ chainId: "0x" + expectedChainId.toString(16) }],
        });
      }
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
    var payload = {};
    if (response.status !== 204) {
      try {
        payload = await response.json();
      } catch (e) {
        payload = {}; // not the platform's JSON (a proxy's error page): no detail to show
      }
    }
    if (!response.ok) {
      var error = new Error(payload.detail || "The server answered " + response.status + ".");
      error.errors = payload.errors || {};
      // Only the platform's own refusals carry a detail; a proxy's error page has none.
      error.refusal = typeof payload.detail === "string" && payload.detail !== "";
      throw error;
    }
    return payload;
  }

  async function send(call, from) {
    return ethereum().request({
      method: "eth_sendTransaction",
      params: [{ from: from, to: call.to, data: call.data, value: call.value || "0x0" }],
    });
  }

  async function receipt(txHash) {
    var deadline = Date.now() + RECEIPT_TIMEOUT_MS;
    while (Date.now() < deadline) {
      var found = await ethereum().request({
        method: "eth_getTransactionReceipt",
        params: [txHash],
      });
      if (found) {
        if (found.status === "0x0" || found.status === 0) {
          throw new Error("The transaction " + txHash + " was mined but reverted.");
        }
        return found;
      }
      await new Promise(function (resolve) {
        window.setTimeout(resolve, 1000);
      });
    }
    throw new Error("Still not mined after two minutes: " + txHash + ". It may confirm later.");
  }

  // Asks the platform to index the new block now (it answers at once, 202): the page's live
  // parts poll and show the transaction's effect within seconds. Only a courtesy: the beat
  // indexes anyway, so a refused request changes nothing for the person.
  async function requestIndexing(syncUrl) {
    try {
      await post(syncUrl);
    } catch (e) {
      // the beat indexes within seconds anyway
    }
  }

  async function confirmAndSync(root, txHash, syncUrl, what) {
    say(root, what + " pending: transaction " + txHash.slice(0, 12) + "… sent, waiting for a block.", "info");
    await receipt(txHash);
    await requestIndexing(syncUrl);
    say(root, what + " confirmed.", "success");
  }

  var INDEXED_TIMEOUT_MS = 60000;

  // Waits until the platform has indexed a new proposal (the public API lists it), so its
  // page exists when the browser goes there. Gives up quietly after a minute.
  async function proposalIndexed(lookupUrl, council, proposalId) {
    var url = lookupUrl + "?" + new URLSearchParams({ council: council, q: proposalId });
    var deadline = Date.now() + INDEXED_TIMEOUT_MS;
    while (Date.now() < deadline) {
      try {
        var response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.ok) {
          var page = await response.json();
          if ((page.results || []).some(function (row) { return row.id === proposalId; })) return true;
        }
      } catch (e) {
        // a network hiccup: ask again
      }
      await new Promise(function (resolve) {
        window.setTimeout(resolve, 1000);
      });
    }
    return false;
  }

  function showErrors(form, errors) {
    form.querySelectorAll("[data-errors-for]").forEach(function (list) {
      list.replaceChildren();
    });
    Object.keys(errors || {}).forEach(function (name) {
      var list = form.querySelector('[data-errors-for="' + name + '"]') ||
        form.querySelector('[data-errors-for="__all__"]');
      (errors[name] || []).forEach(function (message) {
        var item = document.createElement("li");
        item.textContent = message;
        list.appendChild(item);
      });
    });
  }

  // --- New proposal ------------------------------------------------------------------------
  async function propose(form) {
    var chainId = parseInt(form.dataset.chainId, 10);
    var submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      showErrors(form, {});
      say(form, "Checking your proposal against the chain…", "info");
      var prepared = await post(form.getAttribute("action") || window.location.pathname, new FormData(form));
      var from = await account(chainId);
      say(form, "Confirm the proposal in your wallet…", "info");
      var txHash = await send(prepared.call, from);
      await confirmAndSync(form, txHash, form.dataset.syncUrl, "Proposal");
      say(form, "Proposal confirmed on-chain; its page opens as soon as the platform has indexed it…", "info");
      await proposalIndexed(form.dataset.lookupUrl, prepared.council, prepared.proposalId);
      window.location.assign(
        form.dataset.detailUrlTemplate
          .replace("__COUNCIL__", prepared.council)
          .replace("__ID__", prepared.proposalId)
      );
    } catch (err) {
      showErrors(form, err.errors);
      say(form, walletMessage(err, "The proposal could not be made."), "error");
      submit.disabled = false;
    }
  }

  // --- Votes, queue, execute ---------------------------------------------------------------
  function voteInput(panel) {
    var form = panel.querySelector("[data-vote-form]");
    var checked = form.querySelector("input[name=support]:checked");
    return { support: checked ? checked.value : "1", reason: form.querySelector("[name=reason]").value };
  }

  function refreshLive() {
    var live = document.getElementById("proposal-live");
    if (live && window.htmx && live.getAttribute("hx-get")) {
      window.htmx.ajax("GET", live.getAttribute("hx-get"), { target: live, swap: "innerHTML" });
    }
  }

  var RELAY_PENDING =
    "Pending: the platform is sending your vote. It counts once its transaction is mined; " +
    "the status above follows it.";

  // What the relay's answer means for the voter. A refusal (409, 503, ...) carries the reason
  // and means nothing was sent; without a readable answer the vote may still be on its way.
  function relayError(err) {
    if (err && err.refusal) return new Error("Your vote was not sent: " + err.message);
    var what = String((err && err.message) || "no reply").replace(/\.$/, "");
    return new Error(
      "No clear answer from the platform (" + what + "): your vote may or may not have been " +
      "sent. If it was, its status shows above in a moment."
    );
  }

  async function voteGasless(panel) {
    var chainId = parseInt(panel.dataset.chainId, 10);
    var vote = voteInput(panel);
    var from = await account(chainId);
    say(panel, "Preparing your ballot…", "info");
    var ballot = await post(panel.dataset.ballotUrl, vote);
    say(panel, "Sign the ballot in your wallet (no gas)…", "info");
    var signature = await ethereum().request({
      method: "eth_signTypedData_v4",
      params: [from, JSON.stringify(ballot.typedData)],
    });
    say(panel, "Relaying your signed vote…", "info");
    var relayed;
    try {
      relayed = await post(panel.dataset.relayUrl, {
        support: vote.support,
        reason: vote.reason,
        nonce: String(ballot.typedData.message.nonce),
        signature: signature,
      });
    } catch (err) {
      if (!err.refusal) panel.dataset.relayAwaited = "1";
      throw relayError(err);
    }
    // No receipt is awaited from the wallet's node: the platform sends the transaction (and
    // resends it if need be), and the live area, which the server refreshes, shows whether
    // it was counted or why it failed.
    panel.dataset.relayAwaited = "1";
    if (relayed.status === "pending") {
      say(panel, RELAY_PENDING, "info");
    } else {
      say(panel, relayed.detail || "Your vote was relayed.", "info");
    }
  }

  // The status line is outside the live area (it must survive each refresh), so it follows
  // the live area's verdict on a relayed vote instead of saying "pending" for ever.
  var RELAY_OUTCOMES = {
    counted: { text: "Vote counted.", kind: "success", final: true },
    mined: { text: "Vote confirmed on chain; it is being counted.", kind: "info", final: false },
    failed: {
      text: "Your relayed vote did not count; the reason shows above.",
      kind: "error",
      final: true,
    },
  };

  function followRelayOutcome(live) {
    var panel = live.closest("[data-governance]");
    if (!panel || panel.dataset.relayAwaited !== "1") return;
    var shown = live.querySelector("[data-vote-outcome]");
    var outcome = shown && RELAY_OUTCOMES[shown.dataset.voteOutcome];
    if (!outcome) return; // still pending: the status line already says so
    say(panel, outcome.text, outcome.kind);
    if (outcome.final) delete panel.dataset.relayAwaited;
  }

  async function voteFromWallet(panel) {
    var chainId = parseInt(panel.dataset.chainId, 10);
    var prepared = await post(panel.dataset.voteCallUrl, voteInput(panel));
    var from = await account(chainId);
    say(panel, "Confirm the vote in your wallet…", "info");
    var txHash = await send(prepared.call, from);
    await confirmAndSync(panel, txHash, panel.dataset.syncUrl, "Vote");
  }

  async function operation(panel, url, what) {
    var chainId = parseInt(panel.dataset.chainId, 10);
    say(panel, "Checking the proposal's state…", "info");
    var prepared = await post(url);
    var from = await account(chainId);
    say(panel, "Confirm in your wallet…", "info");
    var txHash = await send(prepared.call, from);
    await confirmAndSync(panel, txHash, panel.dataset.syncUrl, what);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var live = event.target.closest && event.target.closest("#proposal-live");
    if (live) followRelayOutcome(live);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-proposal-form]");
    if (!form) return;
    event.preventDefault();
    propose(form);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-governance] [data-action]");
    if (!button) return;
    var panel = button.closest("[data-governance]");
    var action = button.dataset.action;
    var run = {
      "vote-gasless": function () { return voteGasless(panel); },
      "vote-wallet": function () { return voteFromWallet(panel); },
      queue: function () { return operation(panel, panel.dataset.queueUrl, "Queue"); },
      execute: function () { return operation(panel, panel.dataset.executeUrl, "Execution"); },
    }[action];
    if (!run) return;
    panel.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    run()
      .then(refreshLive)
      .catch(function (err) {
        say(panel, walletMessage(err, "That did not work."), "error");
      })
      .finally(function () {
        panel.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      });
  });
})();
