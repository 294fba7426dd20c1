import { api, ask, code, expect, script, test } from "./fixtures";

// Output is untrusted: what a kernel displays may carry script. It runs in
// a frame of its own opaque origin, so it can neither read the session
// cookie nor call the API, nor touch the app's page.
const evil = `
<div id="log"></div>
<script>
function note(s) { document.getElementById("log").append(s + "; "); }
note("script ran");
try { note("cookie=" + document.cookie); } catch (e) { note("cookie blocked"); }
try { note("parent cookie=" + parent.document.cookie); } catch (e) { note("parent blocked"); }
try { localStorage.setItem("x", "1"); note("storage open"); } catch (e) { note("storage blocked"); }
fetch("/v1/sessions", { method: "POST", credentials: "include", headers: { "Content-Type": "application/json" }, body: "{}" })
  .then(function (r) { note("api answered " + r.status); }, function () { note("api blocked"); });
fetch("/v1/auth/logout", { method: "POST", credentials: "include" }).catch(function () {});
</script>
<img src="nonexistent.png" onerror="document.getElementById('log').append('onerror ran; '); fetch('/v1/me').then(function(){document.getElementById('log').append('onerror api answered; ')}, function(){document.getElementById('log').append('onerror api blocked; ')})">
`;

test("HTML output's script and onerror cannot read the cookie or call the API", async ({
  signedIn: page,
  request,
}) => {
  const before = (await (await api(request, "GET", "/v1/sessions")).json()).sessions?.length ?? 0;
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await script(
    request,
    code(`from IPython.display import HTML, display\ndisplay(HTML(${JSON.stringify(evil)}))`),
    { Text: 'Done <img src=x onerror="alert(1)"> <script>alert(2)</script> [click](javascript:alert(3))' },
  );
  await ask(page, "Show some HTML");
  const log = page.frameLocator("iframe.html-frame").last().locator("#log");
  await expect(log).toContainText("script ran");
  await expect(log).toContainText("onerror ran");
  await expect(log).toContainText("cookie blocked");
  await expect(log).toContainText("parent blocked");
  await expect(log).toContainText("storage blocked");
  await expect(log).toContainText("api blocked");
  await expect(log).toContainText("onerror api blocked");
  await expect(log).not.toContainText("api answered");
  await expect(page.locator(".step.answer").last()).toContainText("Done");

  // Nothing reached the server: no new session, and the page is still
  // signed in (the logout did not happen).
  const after = (await (await api(request, "GET", "/v1/sessions")).json()).sessions?.length ?? 0;
  expect(after).toBe(before + 1); // the task's own session only
  await page.reload();
  await expect(page.getByRole("button", { name: /New chat/ })).toBeVisible();
  // The model's own text was sanitised: no handlers, no script, no dialog.
  expect(await page.locator(".step.answer").last().innerHTML()).not.toMatch(/onerror|<script|javascript:/);
  expect(dialogs).toEqual([]);
});
