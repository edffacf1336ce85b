/** Entry point of the browser UI: resume the session or ask for a token. */
import "@xterm/xterm/css/xterm.css";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { startApp } from "./app.ts";
import { resumeSession } from "./session.ts";
import { renderSignIn } from "./sign-in.ts";

const root = document.getElementById("app") as HTMLElement;

function showSignIn(notice?: string): void {
  renderSignIn(root, () => startApp(root, showSignIn), notice);
}

if (await resumeSession()) startApp(root, showSignIn);
else showSignIn();
