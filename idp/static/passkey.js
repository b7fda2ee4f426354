// Passkey buttons (WebAuthn needs a script; every other sign-in method works without one).
// A button names its form and the URL that gives the options:
//   <button data-passkey="create|get" data-options="/url" data-form="form-id">
// The script posts the form's fields to that URL, hands the options to the browser's
// authenticator, puts the answer in the form's `credential` (and `ceremony`) fields and
// submits the form; the server checks everything.
(() => {
  const b64 = (buf) =>
    btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  const bytes = (s) => {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  };
  const creation = (o) => {
    const pk = o.publicKey;
    pk.challenge = bytes(pk.challenge);
    pk.user.id = bytes(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => (c.id = bytes(c.id)));
    return { publicKey: pk };
  };
  const request = (o) => {
    const pk = o.publicKey;
    pk.challenge = bytes(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => (c.id = bytes(c.id)));
    return { publicKey: pk };
  };
  const answer = (c) => {
    const r = c.response;
    const out = {
      id: c.id,
      rawId: b64(c.rawId),
      type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: b64(r.clientDataJSON) },
    };
    if (r.attestationObject) {
      out.response.attestationObject = b64(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64(r.authenticatorData);
      out.response.signature = b64(r.signature);
      out.response.userHandle = r.userHandle ? b64(r.userHandle) : null;
    }
    return out;
  };
  const say = (form, text) => {
    const status = form.querySelector("[role=alert]");
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  };
  document.querySelectorAll("button[data-passkey]").forEach((button) => {
    const form = document.getElementById(button.dataset.form);
    if (!form) return;
    if (!window.PublicKeyCredential) {
      say(form, button.dataset.msgUnsupported || "This browser cannot use passkeys.");
      button.disabled = true;
      return;
    }
    button.addEventListener("click", async () => {
      if (form.reportValidity && !form.reportValidity()) return;
      button.disabled = true;
      try {
        const fields = new URLSearchParams(new FormData(form));
        const r = await fetch(button.dataset.options, {
          method: "POST",
          body: fields,
          credentials: "same-origin",
        });
        if (!r.ok) {
          // The server's refusal, already in the page's language ({"error": "…"}).
          const refusal = await r.json().catch(() => ({}));
          say(form, refusal.error || button.dataset.msgFailed || "The passkey was not used. Try again, or choose another way.");
          button.disabled = false;
          return;
        }
        const ceremony = await r.json();
        const cred =
          button.dataset.passkey === "create"
            ? await navigator.credentials.create(creation(ceremony.options))
            : await navigator.credentials.get(request(ceremony.options));
        if (form.elements.ceremony) form.elements.ceremony.value = ceremony.id;
        form.elements.credential.value = JSON.stringify(answer(cred));
        form.submit();
      } catch (e) {
        say(form, button.dataset.msgFailed || "The passkey was not used. Try again, or choose another way.");
        button.disabled = false;
      }
    });
  });
})();
