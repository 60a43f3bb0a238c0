// Sign-In with Ethereum (EIP-4361) through the page's EIP-1193 wallet (window.ethereum).
// No framework and no library: the wallet signs, the server verifies.
// Configuration comes from data-* attributes on any [data-siwe-connect] element:
//   data-nonce-url, data-siwe-url, data-chain-id, data-next (optional).
(function () {
  "use strict";

  var USER_REJECTED = 4001; // EIP-1193: the user refused the request
  var UNRECOGNIZED_CHAIN = 4902; // the wallet does not know the chain it was asked to switch to
  var REQUEST_PENDING = -32002; // the wallet already shows a request from this site
  var MESSAGE_LIFETIME_MS = 10 * 60 * 1000;

  function statusBox() {
    return document.querySelector("[data-siwe-status]");
  }

  function show(text, kind) {
    var box = statusBox();
    if (!box) return;
    box.textContent = text;
    box.className = "wallet-status" + (kind ? " is-" + kind : "");
    box.hidden = false;
  }

  function SignInError(message) {
    this.message = message;
  }

  function utf8ToHex(text) {
    var bytes = new TextEncoder().encode(text);
    var hex = "0x";
    for (var i = 0; i < bytes.length; i++) hex += bytes[i].toString(16).padStart(2, "0");
    return hex;
  }

  // The exact layout the server (the siwe package) rebuilds and checks the signature against.
  function buildMessage(f) {
    var lines = [
      f.domain + " wants you to sign in with your Ethereum account:",
      f.address,
      "",
      f.statement,
      "",
      "URI: " + f.uri,
      "Version: 1",
      "Chain ID: " + f.chainId,
      "Nonce: " + f.nonce,
      "Issued At: " + f.issuedAt,
      "Expiration Time: " + f.expirationTime,
    ];
    return lines.join("\n");
  }

  function walletMessage(err, fallback) {
    if (err && err.code === USER_REJECTED) {
      return "You rejected the request in your wallet. Nothing was signed; you are not signed in.";
    }
    if (err && err.code === REQUEST_PENDING) {
      return "Your wallet already has a request from this site open: finish it in the wallet.";
    }
    return fallback + (err && err.message ? " (" + err.message + ")" : "");
  }

  async function ensureChain(ethereum, expected) {
    var current = parseInt(await ethereum.request({ method: "eth_chainId" }), 16);
    if (current === expected) return;
    show(
      "Your wallet is on chain " + current + ", but Synod uses chain " + expected + ". " +
        "Asking your wallet to switch…",
      "info"
    );
    try {
      await ethereum.request({
        method: "wallet_switchEthereumChain",
        params: [{ chainId: "0x" + expected.toString(16) }],
      });
    } catch (err) {
      if (err && err.code === UNRECOGNIZED_CHAIN) {
        throw new SignInError(
          "Wrong network: your wallet does not know chain " + expected +
            ". Add that network to your wallet, switch to it, and try again."
        );
      }
      if (err && err.code === USER_REJECTED) {
        throw new SignInError(
          "Wrong network: Synod uses chain " + expected + " and the switch was declined. " +
            "Switch your wallet to chain " + expected + " and try again."
        );
      }
      throw new SignInError(walletMessage(err, "Wrong network: switch your wallet to chain " + expected + "."));
    }
    current = parseInt(await ethereum.request({ method: "eth_chainId" }), 16);
    if (current !== expected) {
      throw new SignInError(
        "Wrong network: your wallet is still on chain " + current + "; Synod uses chain " + expected + "."
      );
    }
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (e) {
      return {};
    }
  }

  async function signIn(trigger) {
    var cfg = trigger.dataset;
    var ethereum = window.ethereum;
    if (!ethereum || typeof ethereum.request !== "function") {
      show(
        "No wallet found. Install a browser wallet (for example MetaMask), then reload this page.",
        "error"
      );
      return;
    }
    var expectedChain = parseInt(cfg.chainId, 10);
    trigger.setAttribute("aria-disabled", "true");
    try {
      show("Asking your wallet for an account…", "info");
      var accounts;
      try {
        accounts = await ethereum.request({ method: "eth_requestAccounts" });
      } catch (err) {
        throw new SignInError(walletMessage(err, "Your wallet did not share an account."));
      }
      if (!accounts || !accounts.length) throw new SignInError("Your wallet shared no account.");

      try {
        await ensureChain(ethereum, expectedChain);
      } catch (err) {
        if (err instanceof SignInError) throw err;
        throw new SignInError(walletMessage(err, "Could not read your wallet's network."));
      }

      var nonceResponse = await fetch(
        cfg.nonceUrl + "?address=" + encodeURIComponent(accounts[0]),
        { credentials: "same-origin", headers: { Accept: "application/json" } }
      );
      var issued = await readJson(nonceResponse);
      if (!nonceResponse.ok) {
        throw new SignInError("Could not start signing in: " + (issued.detail || nonceResponse.status));
      }

      var now = new Date();
      var message = buildMessage({
        domain: window.location.host,
        address: issued.address,
        statement: issued.statement,
        uri: window.location.origin,
        chainId: expectedChain,
        nonce: issued.nonce,
        issuedAt: now.toISOString(),
        expirationTime: new Date(now.getTime() + MESSAGE_LIFETIME_MS).toISOString(),
      });

      show("Check the message in your wallet and sign it…", "info");
      var signature;
      try {
        signature = await ethereum.request({
          method: "personal_sign",
          params: [utf8ToHex(message), issued.address],
        });
      } catch (err) {
        throw new SignInError(walletMessage(err, "Your wallet did not sign the message."));
      }

      show("Checking the signature…", "info");
      var response = await fetch(cfg.siweUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": document.body.dataset.csrfToken || "",
        },
        body: JSON.stringify({ message: message, signature: signature, next: cfg.next || "" }),
      });
      var result = await readJson(response);
      if (!response.ok) {
        throw new SignInError("Sign-in refused: " + (result.detail || "status " + response.status));
      }
      show("Signed in as " + result.address + ". Opening your dashboard…", "ok");
      window.location.assign(result.redirect);
    } catch (err) {
      show(
        err instanceof SignInError ? err.message : "Sign-in failed: " + (err && err.message ? err.message : err),
        "error"
      );
    } finally {
      trigger.removeAttribute("aria-disabled");
    }
  }

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-siwe-connect]");
    if (!trigger) return;
    // Without JavaScript the link leads to the sign-in page; with it, sign in right here.
    event.preventDefault();
    if (trigger.getAttribute("aria-disabled") === "true") return;
    signIn(trigger);
  });
})();
