// The Contacts view in the real webview, on a profile shared with siperb-cli: a contact the CLI
// added is listed and found as you type; one added in the app is saved where the CLI reads it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Keys } from "./lib/webdriver.mjs";
import fs from "node:fs";
import { byRole, launchApp, makeUser, runCli, screenshot, startDisplay, waitFor } from "./lib/app.mjs";

let display;

before(async () => {
  display = await startDisplay();
});

after(async () => {
  await display?.stop();
});

describe("the Contacts view", () => {
  it("lists, searches and adds contacts on the shared profile", async () => {
    const user = makeUser("contacts");
    runCli("--profile", user.profile, "contacts", "add", "Bob Jones", "--company", "Widgets", "--phone", "work=0161 496 0000");
    const app = await launchApp({ display: display.display, user, name: "contacts" });
    try {
      await app.wd.click(await byRole(app, "tab", "Contacts"));
      const entries = async () =>
        app.wd.execute("return [...document.querySelectorAll('[aria-label=Contacts] li')].map((li) => li.textContent.replace(/\\s+/g, ' ').trim())");
      await waitFor("Bob listed", async () => (await entries()).join("|") === "Bob Jones Widgets · work: 0161 496 0000");

      // Add one in the app.
      await app.wd.click(await byRole(app, "button", "Add contact"));
      await app.wd.type(await byRole(app, "textbox", "Name"), "Alice Smith");
      await app.wd.type(await byRole(app, "textbox", "Number 1"), "07911 123456");
      await app.wd.click(await byRole(app, "button", "Add SIP address"));
      await app.wd.type(await byRole(app, "textbox", "SIP address 1"), "sip:alice@pbx.example.com");
      await app.wd.click(await byRole(app, "checkbox", "Favourite"));
      await screenshot(app, "contact-editor");
      await app.wd.click(await byRole(app, "button", "Save"));
      await waitFor("both listed, favourite first", async () => {
        const e = await entries();
        return e.length === 2 && e[0].startsWith("★Alice Smith");
      });

      // Search by a fragment of a number.
      await app.wd.type(await byRole(app, "searchbox", "Search contacts"), "496");
      await waitFor("only Bob", async () => {
        const e = await entries();
        return e.length === 1 && e[0].startsWith("Bob Jones");
      });
      await screenshot(app, "contacts-search");
      for (let i = 0; i < 3; i++) await app.wd.press(Keys.Backspace);
      await waitFor("both again", async () => (await entries()).length === 2);

      // Import a vCard file picked in the app (the file input given a file, as a picker does).
      const card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carol Díaz\r\nTEL;TYPE=CELL:+34 600 000 000\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n";
      await app.wd.execute(
        `const dt = new DataTransfer();
         dt.items.add(new File([arguments[0]], "old-phone.vcf", { type: "text/vcard" }));
         const input = document.querySelector('input[type=file]');
         input.files = dt.files;
         input.dispatchEvent(new Event("change", { bubbles: true }));`,
        card,
      );
      await waitFor("Carol imported", async () => (await entries()).some((e) => e.startsWith("Carol Díaz")));
      const note = await app.wd.execute("return document.querySelector('.note[role=status]')?.textContent ?? ''");
      assert.match(note, /^Imported 1 contact from old-phone\.vcf; 1 card left out/);

      // Export: every contact into a vCard file in the user's documents (or home) folder.
      await app.wd.click(await byRole(app, "button", "Export vCard"));
      const saved = await waitFor("the export", async () =>
        /^Saved all contacts to (.*)\.$/.exec(await app.wd.execute("return document.querySelector('.note[role=status]')?.textContent ?? ''"))?.[1],
      );
      const exported = fs.readFileSync(saved, "utf8");
      assert.equal(exported.match(/BEGIN:VCARD/g)?.length, 3, exported);
      assert.match(exported, /FN:Carol Díaz/);
    } finally {
      await app.close();
    }
    // The CLI reads what the app saved.
    const listed = JSON.parse(runCli("--profile", user.profile, "--json", "contacts", "search", "alice"));
    assert.equal(listed.length, 1);
    assert.equal(listed[0].name, "Alice Smith");
    assert.equal(listed[0].favourite, true);
    assert.deepEqual(
      listed[0].addresses.map((a) => `${a.kind}:${a.label}:${a.value}`),
      ["phone:mobile:07911 123456", "sip:work:sip:alice@pbx.example.com"],
    );
  });
});
