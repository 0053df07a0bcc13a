// Steps several end-to-end tests share.
import { byRole, waitFor } from "./app.mjs";

/** `byRole`, once the control is there. */
export const control = (app, role, name) =>
  waitFor(`the ${role} "${name}"`, () => byRole(app, role, name), { timeoutMs: 10_000 });

/** The text of the call screen's status line, or null when no call is shown. */
export const callStatus = (app) => app.wd.execute("return document.querySelector('.call-status')?.textContent ?? null");

/** Adds `who` (user, password) at Kamailio as an account in Settings, and waits until it registers. */
export async function signIn(app, kamailio, who, { screenshotAs } = {}) {
  await app.wd.click(await control(app, "tab", "Settings"));
  await app.wd.click(await control(app, "button", "Add account"));
  await app.wd.type(await control(app, "textbox", "SIP address"), `${who.user}@127.0.0.1:${kamailio.port}`);
  await app.wd.type(await app.wd.find("input[type=password]"), who.password);
  if (screenshotAs) await screenshotAs();
  await app.wd.click(await control(app, "button", "Sign in"));
  await waitFor(
    "the account to register",
    async () => (await app.wd.execute("return document.querySelector('.account-state')?.textContent ?? ''")).trim() === "Registered",
    { timeoutMs: 20_000 },
  );
}
