/* The "Turn on browser alerts" button (notifications/push_button.html). */
"use strict";

(() => {
  const button = document.querySelector(".push-toggle");
  if (!button || !("serviceWorker" in navigator) || !("PushManager" in window)) {
    return;
  }

  const keyBytes = (base64) => {
    const padded = (base64 + "=".repeat((4 - (base64.length % 4)) % 4))
      .replace(/-/g, "+")
      .replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };

  const post = (url, body) =>
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": button.dataset.csrfToken },
      body: JSON.stringify(body),
    }).then((response) => {
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
    });

  const show = (subscribed) => {
    button.textContent = subscribed ? "Turn off browser alerts" : "Turn on browser alerts";
    button.dataset.subscribed = subscribed ? "1" : "";
    button.hidden = false;
  };

  const registration = () =>
    navigator.serviceWorker.register(button.dataset.workerUrl, { scope: "/" });

  registration()
    .then((reg) => reg.pushManager.getSubscription())
    .then((subscription) => show(Boolean(subscription)))
    .catch(() => show(false));

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const reg = await registration();
      const current = await reg.pushManager.getSubscription();
      if (button.dataset.subscribed && current) {
        await post(button.dataset.unsubscribeUrl, { endpoint: current.endpoint });
        await current.unsubscribe();
        show(false);
        return;
      }
      if ((await Notification.requestPermission()) !== "granted") {
        button.textContent = "Browser alerts are blocked in this browser's settings";
        return;
      }
      const subscription =
        current ||
        (await reg.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(button.dataset.vapidKey),
        }));
      await post(button.dataset.subscribeUrl, subscription.toJSON());
      show(true);
    } catch (error) {
      button.textContent = "Could not change browser alerts; try again";
    } finally {
      button.disabled = false;
    }
  });
})();
